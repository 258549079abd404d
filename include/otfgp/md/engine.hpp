#pragma once
// The molecular-dynamics engine: atom state in Kokkos views, any Potential,
// and a time step that reads as a fixed list of timed phases (as CabanaMD):
//
//   initial_integrate → neighbor (Verlet-skin update) → force → final_integrate
//   → check (forces finite and below the limit) → output (observers)
//
// Observers see the engine after every step they ask for: thermo lines,
// trajectory frames, restart files, progress, and the on-the-fly loop, which
// reads per-atom uncertainties (set_compute_request), stops the run, swaps or
// retrains the potential (set_potential / potential_changed) and calls run
// again: the dynamics continues from the same state.
//
// Restarts are exact: restart_data() holds every number the dynamics depends
// on, and after a restart file is written (RestartOutput in md/output.hpp)
// reseat() rebuilds the neighbour list and recomputes the forces, exactly as a
// run resumed from that file with restore() does first. An uninterrupted run
// and a stopped-and-resumed one therefore follow the same trajectory bit for
// bit (given a deterministic backend).

#include <Eigen/Core>
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/distance_check.hpp"
#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/core/structure.hpp"
#include "otfgp/core/types.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/md/integrator.hpp"
#include "otfgp/md/settings.hpp"
#include "otfgp/md/velocity_verlet.hpp"
#include "otfgp/potentials/potential.hpp"

namespace otfgp::md {

class Engine;

enum class Phase : int { initial_integrate = 0, neighbor, force, final_integrate, output };
inline constexpr int phase_count = 5;
const char* phase_name(Phase phase);

// Wall-clock seconds spent in each phase by this engine object; the set-up
// (binding, first neighbour list and forces) is counted apart from the loop.
struct PhaseTimers {
  std::array<double, phase_count> seconds{};
  double setup = 0.0;
  long steps = 0;

  double& operator[](Phase phase) { return seconds[static_cast<int>(phase)]; }
  double operator[](Phase phase) const { return seconds[static_cast<int>(phase)]; }
  double total() const;
};

// The thermodynamic state after a step.
struct ThermoSample {
  long step = 0;
  double time = 0.0;              // fs
  double temperature = 0.0;       // K, 3N − 3 degrees of freedom
  double potential_energy = 0.0;  // eV
  double kinetic_energy = 0.0;    // eV
  double total_energy = 0.0;      // eV
  double pressure = 0.0;          // GPa, kinetic + virial
  double volume = 0.0;            // Å³
  double conserved = 0.0;         // eV: total energy plus thermostat/barostat terms
  Voigt stress = Voigt::Zero();   // GPa, ASE sign (−pressure tensor), kinetic part included
};

// The scalars of a thermo sample from the kinetic tensor, the potential's
// energy and virial, the volume (Å³), the degrees of freedom and the
// thermostat's and barostat's share of the conserved quantity (eV): the same
// arithmetic on the host (Engine::thermo) and in the device kernel that adds
// every step to the run statistics, so both give the same numbers.
struct ThermoScalars {
  double temperature = 0, potential_energy = 0, kinetic_energy = 0, total_energy = 0;
  double pressure = 0, volume = 0, conserved = 0;
  double stress[6] = {0, 0, 0, 0, 0, 0};  // GPa, ASE sign

  KOKKOS_INLINE_FUNCTION ThermoScalars(const KineticTensor& kinetic, const EnergyVirial& potential,
                                       double volume_, double degrees_of_freedom, double extended) {
    kinetic_energy = kinetic.kinetic_energy();
    temperature = 2.0 * kinetic_energy / (degrees_of_freedom * units::boltzmann);
    potential_energy = potential.energy;
    total_energy = potential_energy + kinetic_energy;
    volume = volume_;
    // Pressure tensor (Σ m v⊗v + W)/V; stress in ASE's sign is its negative.
    for (int k = 0; k < 6; ++k)
      stress[k] = -(kinetic.mvv[k] + potential.virial[k]) / volume * units::ev_per_a3_in_gpa;
    pressure = -(stress[0] + stress[1] + stress[2]) / 3.0;
    conserved = total_energy + extended;
  }
};

// Running sums over every step made (also kept in restart files, so that a
// resumed run reports on the whole run). The engine adds each step on the
// device and copies them to the host when they are read.
struct RunStatistics {
  long samples = 0;
  double sum_temperature = 0, sum_temperature2 = 0;
  double sum_pressure = 0, sum_pressure2 = 0;
  double sum_volume = 0, sum_volume2 = 0;
  double sum_potential = 0, sum_kinetic = 0, sum_kinetic2 = 0;
  // The conserved quantity: at the start, last, largest deviation, and the
  // sums for its least-squares slope against time.
  double initial_conserved = 0, last_conserved = 0, max_conserved_deviation = 0;
  double sum_t = 0, sum_t2 = 0, sum_c = 0, sum_tc = 0;

  // One step at `time` (fs).
  KOKKOS_INLINE_FUNCTION void add(const ThermoScalars& sample, double time) {
    ++samples;
    sum_temperature += sample.temperature;
    sum_temperature2 += sample.temperature * sample.temperature;
    sum_pressure += sample.pressure;
    sum_pressure2 += sample.pressure * sample.pressure;
    sum_volume += sample.volume;
    sum_volume2 += sample.volume * sample.volume;
    sum_potential += sample.potential_energy;
    sum_kinetic += sample.kinetic_energy;
    sum_kinetic2 += sample.kinetic_energy * sample.kinetic_energy;
    last_conserved = sample.conserved;
    const double deviation = kmath::fabs(sample.conserved - initial_conserved);
    if (max_conserved_deviation < deviation) max_conserved_deviation = deviation;
    // Centred on the start so that the sums stay well conditioned.
    const double t = time, c = sample.conserved - initial_conserved;
    sum_t += t;
    sum_t2 += t * t;
    sum_c += c;
    sum_tc += t * c;
  }
  double mean_temperature() const;
  double std_temperature() const;
  double mean_pressure() const;
  double mean_volume() const;
  double mean_potential_energy() const;
  double mean_kinetic_energy() const;
  double kinetic_energy_variance() const;
  double conserved_slope() const;  // eV/fs
  std::vector<double> to_vector() const;
  static RunStatistics from_vector(const std::vector<double>& values);
};

// Something the engine calls after the steps it asks for (and once after set-up
// at the start of a fresh run, step 0).
class StepObserver {
 public:
  virtual ~StepObserver() = default;
  // Steps between calls; 0 means never (except the call at step 0).
  virtual long interval() const = 0;
  // Return false to stop the run after this step.
  virtual bool observe(Engine& engine) = 0;
  // False for an observer that looks at nothing but Engine::step() (a
  // progress line, an interrupt flag). One that reads the engine may also
  // move it (a restart reseats it), so after one the next NVE step measures
  // its neighbour displacement again instead of taking the one its second
  // half-step measured (docs/gpu.md).
  virtual bool reads_engine() const { return true; }
};

// Everything a restart file holds.
struct RestartData {
  long step = 0;
  double time = 0.0;     // fs
  Structure structure;   // positions, numbers, cell, pbc
  Positions velocities;  // Å/fs
  std::map<std::string, std::vector<double>> integrator;
  RunStatistics statistics;
  std::string potential;  // spec string
  std::string settings;   // the resolved settings the run must be continued with (YAML)
  std::map<std::string, long> output_sizes;  // bytes of each output file at this step
};

// The checks the engine makes of a starting structure that need no
// potential: constant pressure needs a cell periodic in all three directions,
// and no two atoms (periodic images included) may be closer than
// settings.min_distance, or half the sum of their covalent radii
// (check_atom_distances). The engine makes them itself; a caller that must
// know before it spends anything (the on-the-fly loop, before its first oracle
// call) calls this first. Throws otfgp::Error.
void check_starting_structure(AtomState& state, const EngineSettings& settings);

class Engine {
 public:
  // Velocities are taken from `state` (set them with maxwell_boltzmann first).
  Engine(AtomState state, std::shared_ptr<Potential> potential, EngineSettings settings);

  // Replaces the potential; the next step rebinds, rebuilds the neighbour list
  // and recomputes the forces.
  void set_potential(std::shared_ptr<Potential> potential);
  // The potential changed internally (retrained): recompute forces before the next step.
  void potential_changed();
  Potential& potential() { return *potential_; }
  // Multiplies every velocity by `factor` (the integrator's kinetic tensor follows).
  void scale_velocities(double factor);

  // Not owned; called in the order added.
  void add_observer(StepObserver& observer);
  void remove_observer(StepObserver& observer);
  // Steps whose number is a multiple of `interval` compute forces with `request`
  // (per-atom energies, uncertainties), available from last_compute().
  void set_compute_request(const ComputeRequest& request, long interval);

  // Steps until step() == final_step or an observer says stop; returns the steps made.
  // Throws otfgp::Error when the forces stop being finite or exceed the limit,
  // after restoring the last good state (see last_good_frame()).
  long run_until(long final_step);
  long run(long steps) { return run_until(step_ + steps); }
  // Binds the potential, builds the neighbour list, checks distances and
  // computes the forces, if not done yet. run() calls it.
  void setup();

  long step() const { return step_; }
  double time() const { return step_ * settings_.timestep; }  // fs
  const AtomState& state() const { return state_; }
  const EngineSettings& settings() const { return settings_; }
  // The last force call's result; its energy and virial copied from the device.
  const ComputeResult& last_compute() const;
  const NeighborList* neighbor_list() const { return list_.get(); }
  // Copies what it needs from the device (the kinetic tensor after a device
  // thermostat's half step; the potential's energy and virial after a force
  // call outside a step — a step's check brings those); a step does this
  // only when someone reads it.
  ThermoSample thermo() const;
  // Copied from the device, where every step adds to them.
  const RunStatistics& statistics() const;
  const PhaseTimers& timers() const { return timers_; }
  // Fence the device after every phase so that each phase's timer holds its own
  // kernels (default: no, unless OTFGP_FENCE_PHASES=1; see md/engine.cpp).
  void set_fence_phases(bool fence) { fence_phases_ = fence; }
  bool fence_phases() const { return fence_phases_; }
  // The current frame on the host: positions, cell, energy, forces, stress
  // (potential part), and velocities as ASE momenta (extra column "momenta").
  Structure frame() const;

  // Present after a failed step: the frame of the last step whose forces were fine.
  const std::optional<Structure>& last_good_frame() const { return last_good_frame_; }

  // Restart support (see the header comment).
  RestartData restart_data() const;
  // Rebuilds the neighbour list and recomputes forces and the kinetic tensor,
  // as a resumed run does; call after writing restart_data() to a file.
  void reseat();
  // Takes over step, positions, velocities, cell and integrator state; the
  // atoms (numbers, order) must match.
  void restore(const RestartData& data);

 private:
  void compute_forces();
  void update_neighbors();
  // Throws when `check` fails, after going back to the state `before` holds;
  // `failed_step` is the step whose forces failed.
  void check_step(const ForceCheck& check, long failed_step, const Snapshot& before);
  // Adds the step pending_sample_ describes to the run statistics (on the device).
  void add_pending_sample();
  bool notify_observers(bool initial);
  // The potential's energy and virial of the current state, on the host.
  const EnergyVirial& potential_totals() const;
  // Records the potential's totals as known on the host (no copy needed).
  void set_host_totals(const EnergyVirial& totals) const;
  void set_statistics(const RunStatistics& statistics);

  AtomState state_;
  std::shared_ptr<Potential> potential_;
  EngineSettings settings_;
  Integrator integrator_;
  bool fence_phases_ = false;
  std::unique_ptr<NeighborList> list_;
  // The last force call's result; its energy and virial live in totals_ (see
  // potential_totals()) and are filled in here when read, or when the step's
  // check brought them (set_host_totals).
  mutable ComputeResult forces_;
  // The potential's energy and virial on the device: totals_[current_] for
  // the current state, the other one for the state before the last step (a
  // failed step goes back to it without a copy). Host copies beside them.
  EnergyVirialView totals_[2];
  EnergyVirialView::HostMirror totals_host_[2];
  int current_ = 0;
  mutable bool totals_on_host_ = false;
  mutable EnergyVirial totals_cache_;
  ComputeRequest request_;
  long request_interval_ = 0;
  long step_ = 0;
  bool ready_ = false;
  bool fresh_ = true;  // no step made and not restored: observers see step 0
  bool needs_rebind_ = true;
  std::vector<StepObserver*> observers_;
  Kokkos::View<RunStatistics, MemSpace> statistics_device_;
  Kokkos::View<RunStatistics, MemSpace>::HostMirror statistics_host_;
  mutable RunStatistics statistics_;  // the host copy, current when statistics_on_host_
  mutable bool statistics_on_host_ = true;
  PhaseTimers timers_;
  // The state at the start of a step, for a failed step to go back to.
  Snapshot snapshot_;
  // NVE: the displacement since the list's build that the next drift gives,
  // measured by the last second half; reset by whatever builds the list or
  // moves the atoms in between (set-up, reseat, an observer that reads the engine).
  std::optional<double> next_moved_;
  // What the statistics need of the last step besides the device's sums.
  struct {
    double time = 0, volume = 0, extended = 0;
    Kokkos::View<const double, MemSpace> extended_device;  // added to `extended` when allocated
  } pending_sample_;
  std::optional<Structure> last_good_frame_;
};

// Maxwell–Boltzmann velocities at `temperature` (K) from a counter-based hash
// of `seed` (the same numbers on every backend), net momentum removed, then
// scaled so that the temperature over 3N − 3 degrees of freedom is exactly
// `temperature`. Zero temperature gives zero velocities.
void maxwell_boltzmann(AtomState& state, double temperature, std::uint64_t seed);

// 1 Å/fs × 1 amu in ASE's momentum unit (amu·Å per ASE time unit, 1 ASE time
// unit = 1/ase.units.fs = 10.1805 fs): extended-XYZ "momenta" columns use it.
inline constexpr double ase_momentum_per_amu_a_per_fs = 10.180505671156725;

}  // namespace otfgp::md
