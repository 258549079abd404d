#pragma once
// What an MD run integrates: time step, ensemble, thermostat, barostat, seed and
// the safety limits. Plain structs, validated by validate(), so that the CLI's
// config reader, tests and the on-the-fly driver all build the engine the same way.
// Units: fs, K, GPa (at this interface), Å, eV/Å.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace otfgp::md {

// An atom thermostat by its registered name (thermostat.type in a config; the
// table is md/thermostat_registry.cpp), or none (NVE). The constants name the
// thermostats the library ships, for code that picks one directly; any
// registered name works through ThermostatType(name).
class ThermostatType {
 public:
  ThermostatType() = default;
  explicit ThermostatType(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }
  bool operator==(const ThermostatType& other) const { return name_ == other.name_; }
  bool operator!=(const ThermostatType& other) const { return name_ != other.name_; }

  static const ThermostatType none, langevin, nose_hoover_chain;

 private:
  std::string name_ = "none";
};
enum class PressureCoupling { isotropic, anisotropic, triclinic };

struct ThermostatSettings {
  ThermostatType type = ThermostatType::none;
  double temperature = 0.0;  // target, K
  // Langevin: relaxation time 1/γ of the velocities (LAMMPS fix langevin's damp).
  // Nosé–Hoover chain: period τ of the thermostat, masses Q₁ = N_f k T τ², Qⱼ = k T τ²
  // (LAMMPS fix nvt's Tdamp).
  double damping = 100.0;  // fs
  int chain_length = 3;    // Nosé–Hoover chain: thermostats in the chain
  int chain_steps =
      1;  // Nosé–Hoover chain: sub-steps n_c per half step (each a 3-stage Suzuki–Yoshida product)
};

// Martyna–Tobias–Klein barostat with its own Nosé–Hoover chain (LAMMPS fix
// npt; Tuckerman et al., J. Phys. A 39, 5629 (2006)). Needs a thermostat.
struct BarostatSettings {
  bool enabled = false;
  double pressure = 0.0;  // target hydrostatic pressure, GPa
  // isotropic: the cell scales uniformly; anisotropic: the three Cartesian
  // diagonal strains move independently; triclinic: all six strain components
  // (shear stress driven to zero).
  PressureCoupling coupling = PressureCoupling::isotropic;
  double damping = 1000.0;  // fs: period of the cell; mass W = (N + 1) k T τ² (LAMMPS's Pdamp)
  int chain_length = 3;
};

struct EngineSettings {
  double timestep = 1.0;  // fs
  ThermostatSettings thermostat;
  BarostatSettings barostat;
  std::uint64_t seed = 1;      // Langevin noise (initial velocities take their own seed)
  double neighbor_skin = 1.0;  // Verlet buffer, Å
  // A step whose largest force exceeds this (or is not finite) stops the run:
  // the dynamics has exploded or the potential failed.
  double max_force = 1000.0;  // eV/Å
  // Atoms closer than this at the start are an error (a broken structure
  // file); unset: closer than half the sum of their covalent radii.
  std::optional<double> min_distance;  // Å

  // Throws otfgp::Error describing the first inconsistent value. Without
  // with_target the thermostat's target is left unchecked: it is set later
  // (an otf campaign's stages; each stage's engine checks its own).
  void validate(bool with_target = true) const;
};

std::string to_string(const ThermostatType& type);  // its name
std::string to_string(PressureCoupling coupling);
// The ensemble these settings sample: "nve", "nvt" or "npt".
std::string ensemble_name(const EngineSettings& settings);

}  // namespace otfgp::md
