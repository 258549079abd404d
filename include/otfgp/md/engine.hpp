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

// Running sums over every step made (also kept in restart files, so that a
// resumed run reports on the whole run).
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

  void add(const ThermoSample& sample);
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
  const ComputeResult& last_compute() const { return forces_; }
  const NeighborList* neighbor_list() const { return list_.get(); }
  ThermoSample thermo() const;
  const RunStatistics& statistics() const { return statistics_; }
  const PhaseTimers& timers() const { return timers_; }
  // Fence the device after every phase so that each phase's timer holds its own
  // kernels (default: no, unless OTFGP_FENCE_PHASES=1; see md/engine.cpp).
  void set_fence_phases(bool fence) { fence_phases_ = fence; }
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
  void check_step(const ForceCheck& check);
  bool notify_observers(bool initial);

  AtomState state_;
  std::shared_ptr<Potential> potential_;
  EngineSettings settings_;
  Integrator integrator_;
  bool fence_phases_ = false;
  std::unique_ptr<NeighborList> list_;
  ComputeResult forces_;
  ComputeRequest request_;
  long request_interval_ = 0;
  long step_ = 0;
  bool ready_ = false;
  bool fresh_ = true;  // no step made and not restored: observers see step 0
  bool needs_rebind_ = true;
  std::vector<StepObserver*> observers_;
  RunStatistics statistics_;
  PhaseTimers timers_;
  Snapshot snapshot_;
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
