#include <cmath>

#include "otfgp/core/error.hpp"
#include "otfgp/core/target_pressure.hpp"
#include "otfgp/md/settings.hpp"
#include "otfgp/md/thermostat.hpp"

namespace otfgp::md {

namespace {
bool positive(double value) {
  return std::isfinite(value) && value > 0.0;
}
}  // namespace

const ThermostatType ThermostatType::none{"none"};
const ThermostatType ThermostatType::langevin{"langevin"};
const ThermostatType ThermostatType::nose_hoover_chain{"nose-hoover-chain"};

std::string to_string(const ThermostatType& type) {
  return type.name();
}

std::string to_string(PressureCoupling coupling) {
  switch (coupling) {
    case PressureCoupling::isotropic:
      return "isotropic";
    case PressureCoupling::anisotropic:
      return "anisotropic";
    case PressureCoupling::triclinic:
      return "triclinic";
  }
  return "?";
}

std::string ensemble_name(const EngineSettings& settings) {
  if (settings.barostat.enabled) return "npt";
  return settings.thermostat.type == ThermostatType::none ? "nve" : "nvt";
}

void EngineSettings::validate(bool with_target) const {
  if (!positive(timestep)) throw Error("the time step must be positive (fs)");
  if (!positive(neighbor_skin) && neighbor_skin != 0.0)
    throw Error("the neighbour skin must not be negative (Å)");
  if (!positive(max_force)) throw Error("the force limit must be positive (eV/Å)");
  if (thermostat.type != ThermostatType::none) {
    find_thermostat(thermostat.type.name());  // throws naming the known ones
    if (with_target && !positive(thermostat.temperature))
      throw Error("the thermostat needs a positive target temperature (K)");
    if (!positive(thermostat.damping)) throw Error("the thermostat damping must be positive (fs)");
    if (thermostat.chain_length < 1) throw Error("the Nosé–Hoover chain length must be at least 1");
    if (thermostat.chain_steps < 1)
      throw Error("the Nosé–Hoover chain needs at least one sub-step");
    if (thermostat.damping < timestep)
      throw Error("the thermostat damping (" + std::to_string(thermostat.damping) +
                  " fs) is shorter than the time step: the thermostat would not be resolved");
  }
  if (barostat.enabled) {
    if (thermostat.type == ThermostatType::none)
      throw Error("constant pressure needs a thermostat as well (npt): set the thermostat type");
    check_target_pressure(barostat.pressure, "the barostat");
    if (!positive(barostat.damping)) throw Error("the barostat damping must be positive (fs)");
    if (barostat.chain_length < 1) throw Error("the barostat's chain length must be at least 1");
    if (barostat.damping < 10.0 * timestep)
      throw Error("the barostat damping (" + std::to_string(barostat.damping) +
                  " fs) must be at least ten time steps");
  }
}

}  // namespace otfgp::md
