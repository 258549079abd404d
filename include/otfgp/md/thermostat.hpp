#pragma once
// The atom thermostats behind one interface, and the table of them by name
// (`thermostat.type` in a config). A thermostat is one file that implements
// Thermostat and describes itself in a ThermostatKind; one line in
// md/thermostat_registry.cpp lists it (docs/architecture.md, "a thermostat").
//
// The integrator calls begin_step (or begin_step_on_device) before the first
// half-kick and end_step (or end_step_on_device) after the second one (the
// outer "atom thermostat ½" factors of the Trotter product in integrator.hpp).
// Units: eV, fs, K.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/config.hpp"
#include "otfgp/md/settings.hpp"
#include "otfgp/md/velocity_verlet.hpp"

namespace otfgp::md {

// What the first half-step thermostat update leaves to the half-kick kernel.
struct ThermostatKick {
  // Factor the kernel applies to the velocities before the kick (1: the
  // thermostat moved them itself or left them alone).
  double velocity_scale = 1.0;
  // True when the thermostat already saved x, v, f into the snapshot (it moved
  // the velocities before the kernel could); the kernel then saves nothing.
  bool captured = false;
};

// Restart variables by name (see Integrator::save_state).
using IntegratorVariables = std::map<std::string, std::vector<double>>;

class Thermostat {
 public:
  virtual ~Thermostat() = default;

  // A thermostat makes its half steps in one of two forms, which
  // has_device_steps() names; the other form's functions throw.
  //
  // On the host (a thermostat that needs a number on the host, such as the
  // Nosé–Hoover chain's kinetic energy):
  // Half a step of thermostat at the start of step `step`. `kinetic` is the
  // kinetic tensor of the current velocities and is updated to what it will
  // be after the returned factor is applied. With `capture`, a thermostat that
  // moves velocities itself first saves x, v, f there and says so.
  virtual ThermostatKick begin_step(AtomState& state, long step, double timestep,
                                    KineticTensor& kinetic, Snapshot* capture);
  // Half a step of thermostat at the end of step `step`, after the second
  // half-kick: moves the velocities and updates `kinetic` to match.
  virtual void end_step(AtomState& state, long step, double timestep, KineticTensor& kinetic);
  // The thermostat's share of the conserved quantity (eV).
  virtual double energy() const = 0;

  // On the device (a thermostat whose half steps need no number on the host,
  // such as Langevin): the kinetic tensor of the current velocities is in
  // `kinetic` there and is updated in place, and nothing waits for the
  // device (a barostat copies the tensor to the host when it reads it).
  virtual bool has_device_steps() const { return false; }
  // As begin_step (the snapshot, when asked, is saved by the thermostat).
  virtual void begin_step_on_device(AtomState& state, long step, double timestep,
                                    const KineticView& kinetic, Snapshot* capture);
  virtual void end_step_on_device(AtomState& state, long step, double timestep,
                                  const KineticView& kinetic);
  // energy() on the device, where the device steps keep it current (an empty
  // view for a thermostat without device steps).
  virtual Kokkos::View<const double, MemSpace> device_energy() const { return {}; }
  // Adds its variables to `variables` (names unique across thermostats and
  // barostat); restore_state takes back exactly what save_state gave, reading
  // each name through `get` (which throws naming a missing one).
  virtual void save_state(IntegratorVariables& variables) const = 0;
  virtual void restore_state(
      const std::function<const std::vector<double>&(const std::string&)>& get) = 0;
};

// What a thermostat gets from the engine besides its settings.
struct ThermostatContext {
  double kT = 0.0;                  // target temperature times Boltzmann's constant, eV
  double degrees_of_freedom = 0.0;  // 3N − 3
  std::uint64_t seed = 1;           // for random thermostats (EngineSettings::seed)
};

// One thermostat as the registry knows it.
struct ThermostatKind {
  std::string name;  // thermostat.type
  // Keys of the config's thermostat section it reads besides type and damping.
  std::vector<std::string> keys;
  // Reads those keys into settings (may be empty when `keys` is).
  std::function<void(ConfigSection& section, ThermostatSettings& settings)> read_keys;
  // Writes them back as (key, value) pairs, for the run's settings record.
  std::function<std::vector<std::pair<std::string, std::string>>(const ThermostatSettings&)>
      write_keys;
  std::function<std::unique_ptr<Thermostat>(const ThermostatSettings& settings,
                                            const ThermostatContext& context)>
      make;
};

// Every registered thermostat, in registration order.
const std::vector<ThermostatKind>& thermostat_kinds();
std::vector<std::string> thermostat_names();
// The kind of this name; throws otfgp::Error listing the known ones.
const ThermostatKind& find_thermostat(const std::string& name);
// The thermostat the settings ask for; nullptr for ThermostatType::none.
std::unique_ptr<Thermostat> make_thermostat(const ThermostatSettings& settings,
                                            const ThermostatContext& context);

}  // namespace otfgp::md
