#include <cmath>

#include "otfgp/core/error.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/number_text.hpp"
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

void check_target_pressure(double pressure) {
  constexpr double max_pressure = 1e4;  // GPa
  if (!std::isfinite(pressure)) throw Error("the target pressure must be a finite number (GPa)");
  if (std::abs(pressure) >= max_pressure)
    throw Error("the target pressure " + format_significant(pressure, 6) +
                " GPa is not below ±10000 GPa, far past what any structure survives; the unit is "
                "GPa (1 GPa = 10 kbar = 1e4 bar = 1e9 Pa)");
}

void check_configured_pressure(double pressure) {
  check_target_pressure(pressure);
  // Planetary interiors reach a few TPa; a value in kbar or bar is more likely.
  constexpr double unusual_pressure = 1e3;  // GPa
  if (std::abs(pressure) > unusual_pressure)
    logger().warn(
        "the target pressure {} GPa is above 1000 GPa: the unit is GPa (1 GPa = 10 "
        "kbar = 1e4 bar)",
        format_significant(pressure, 6));
}

void EngineSettings::validate() const {
  if (!positive(timestep)) throw Error("the time step must be positive (fs)");
  if (!positive(neighbor_skin) && neighbor_skin != 0.0)
    throw Error("the neighbour skin must not be negative (Å)");
  if (!positive(max_force)) throw Error("the force limit must be positive (eV/Å)");
  if (thermostat.type != ThermostatType::none) {
    find_thermostat(thermostat.type.name());  // throws naming the known ones
    if (!positive(thermostat.temperature))
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
    check_target_pressure(barostat.pressure);
    if (!positive(barostat.damping)) throw Error("the barostat damping must be positive (fs)");
    if (barostat.chain_length < 1) throw Error("the barostat's chain length must be at least 1");
    if (barostat.damping < 10.0 * timestep)
      throw Error("the barostat damping (" + std::to_string(barostat.damping) +
                  " fs) must be at least ten time steps");
  }
}

}  // namespace otfgp::md
