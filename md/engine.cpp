#include "otfgp/md/engine.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>

#include "otfgp/core/environment_error.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/extra_property.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/units.hpp"

namespace otfgp::md {

namespace {

// Times one phase. Without a fence, device work launched in a phase counts in
// the phase whose host code waits for it (a reduction to the host, a copy);
// with fences (Engine::set_fence_phases, OTFGP_FENCE_PHASES=1) every phase
// waits for its own kernels, exact per phase but a host sync each time.
class PhaseClock {
 public:
  PhaseClock(PhaseTimers& timers, Phase phase, bool fence)
      : timers_(timers), phase_(phase), fence_(fence), start_(std::chrono::steady_clock::now()) {}
  ~PhaseClock() {
    if (fence_) Kokkos::fence();
    timers_[phase_] +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  PhaseClock(const PhaseClock&) = delete;
  PhaseClock& operator=(const PhaseClock&) = delete;

 private:
  PhaseTimers& timers_;
  Phase phase_;
  bool fence_;
  std::chrono::steady_clock::time_point start_;
};

void check_barostat_cell(const AtomState& state, const EngineSettings& settings) {
  const auto& pbc = state.box.pbc;
  if (!settings.barostat.enabled || (pbc[0] && pbc[1] && pbc[2])) return;
  throw Error(fmt::format(
      "constant pressure (ensemble npt) needs a cell periodic in all three directions; this one "
      "has pbc {} {} {}",
      pbc[0] ? "T" : "F", pbc[1] ? "T" : "F", pbc[2] ? "T" : "F"));
}

// Where the statistics kernel finds the kinetic tensor and the thermostat's
// share of the conserved quantity.
struct StepSources {
  Integrator::KineticAt kinetic_at = Integrator::KineticAt::host;
  KineticTensor host_kinetic;  // when kinetic_at is host
  KineticView device_kinetic;
  double extended = 0.0;                                 // eV, the host part
  Kokkos::View<const double, MemSpace> extended_device;  // added to it when allocated
};

// Adds the step just made to the run statistics, on the device: one thread
// reads the potential's totals, the kinetic tensor and the thermostat's share
// where the step left them.
void accumulate_statistics(const Kokkos::View<RunStatistics, MemSpace>& statistics,
                           const EnergyVirialView& potential, const StepSources& sources,
                           double volume, double degrees_of_freedom, double time) {
  const bool from_device = sources.kinetic_at == Integrator::KineticAt::device;
  const KineticTensor host_kinetic = sources.host_kinetic;
  const KineticView device_kinetic = sources.device_kinetic;
  const double extended_host = sources.extended;
  const Kokkos::View<const double, MemSpace> extended_device = sources.extended_device;
  const bool add_device = extended_device.is_allocated();
  Kokkos::parallel_for(
      "Engine::accumulate_statistics", RangePolicy(0, 1), KOKKOS_LAMBDA(int) {
        const KineticTensor k = from_device ? device_kinetic() : host_kinetic;
        const double extended = add_device ? extended_host + extended_device() : extended_host;
        statistics().add(ThermoScalars(k, potential(), volume, degrees_of_freedom, extended), time);
      });
}

// OTFGP_FENCE_PHASES: 1 fences every phase, 0 or unset does not.
bool fence_phases_from_environment() {
  const char* value = std::getenv("OTFGP_FENCE_PHASES");
  const std::string text = value != nullptr ? value : "";
  if (text.empty() || text == "0") return false;
  if (text == "1") return true;
  throw EnvironmentError("OTFGP_FENCE_PHASES", "1 (fence every phase) or 0", text);
}

}  // namespace

const char* phase_name(Phase phase) {
  switch (phase) {
    case Phase::initial_integrate:
      return "initial_integrate";
    case Phase::neighbor:
      return "neighbor";
    case Phase::force:
      return "force";
    case Phase::final_integrate:
      return "final_integrate";
    case Phase::output:
      return "output";
  }
  return "?";
}

double PhaseTimers::total() const {
  double sum = 0.0;
  for (double s : seconds) sum += s;
  return sum;
}

void check_starting_structure(AtomState& state, const EngineSettings& settings) {
  check_barostat_cell(state, settings);
  check_atom_distances(state, settings.min_distance);
}

Engine::Engine(AtomState state, std::shared_ptr<Potential> potential, EngineSettings settings)
    : state_(std::move(state)),
      potential_(std::move(potential)),
      settings_(settings),
      integrator_(settings, state_.natoms),
      fence_phases_(fence_phases_from_environment()),
      statistics_device_("Engine::statistics"),
      statistics_host_(Kokkos::create_mirror_view(statistics_device_)) {
  if (!potential_) throw Error("the MD engine needs a potential");
  for (int k = 0; k < 2; ++k) {
    totals_[k] = EnergyVirialView("Engine::potential_totals");
    totals_host_[k] = Kokkos::create_mirror_view(totals_[k]);
  }
  check_barostat_cell(state_, settings_);
  integrator_.refresh_kinetic(state_);
}

void Engine::set_potential(std::shared_ptr<Potential> potential) {
  if (!potential) throw Error("set_potential: no potential given");
  potential_ = std::move(potential);
  potential_changed();
}

void Engine::potential_changed() {
  needs_rebind_ = true;
  ready_ = false;
}

void Engine::scale_velocities(double factor) {
  auto v = state_.v;
  Kokkos::parallel_for(
      "Engine::scale_velocities", RangePolicy(0, state_.natoms), KOKKOS_LAMBDA(const int i) {
        for (int d = 0; d < 3; ++d) v(i, d) *= factor;
      });
  integrator_.refresh_kinetic(state_);
}

void Engine::add_observer(StepObserver& observer) {
  observers_.push_back(&observer);
}

void Engine::remove_observer(StepObserver& observer) {
  observers_.erase(std::remove(observers_.begin(), observers_.end(), &observer), observers_.end());
}

void Engine::set_compute_request(const ComputeRequest& request, long interval) {
  request_ = request;
  request_interval_ = interval;
}

void Engine::compute_forces() {
  const bool requested = request_interval_ > 0 && step_ % request_interval_ == 0;
  ComputeRequest request = requested ? request_ : ComputeRequest{};
  // The state before keeps its totals in the other view.
  current_ = 1 - current_;
  request.totals = totals_[current_];
  forces_ = potential_->compute(state_, *list_, request);
  totals_on_host_ = false;
  if (!forces_.totals_on_device) {
    // A potential that summed on the host: the device gets a copy.
    EnergyVirial host;
    host.energy = forces_.energy;
    for (int k = 0; k < 6; ++k) host.virial[k] = forces_.virial[k];
    set_host_totals(host);
    totals_host_[current_]() = host;
    Kokkos::deep_copy(ExecSpace(), totals_[current_], totals_host_[current_]);
  }
}

void Engine::set_host_totals(const EnergyVirial& totals) const {
  totals_cache_ = totals;
  forces_.energy = totals.energy;
  for (int k = 0; k < 6; ++k) forces_.virial[k] = totals.virial[k];
  forces_.totals_on_device = false;
  totals_on_host_ = true;
}

const EnergyVirial& Engine::potential_totals() const {
  if (!totals_on_host_) {
    Kokkos::deep_copy(totals_host_[current_], totals_[current_]);
    set_host_totals(totals_host_[current_]());
  }
  return totals_cache_;
}

const ComputeResult& Engine::last_compute() const {
  potential_totals();
  return forces_;
}

const RunStatistics& Engine::statistics() const {
  if (!statistics_on_host_) {
    Kokkos::deep_copy(statistics_host_, statistics_device_);
    statistics_ = statistics_host_();
    statistics_on_host_ = true;
  }
  return statistics_;
}

void Engine::set_statistics(const RunStatistics& statistics) {
  statistics_ = statistics;
  statistics_on_host_ = true;
  statistics_host_() = statistics;
  Kokkos::deep_copy(statistics_device_, statistics_host_);
}

void Engine::setup() {
  if (ready_) return;
  const auto start = std::chrono::steady_clock::now();
  if (needs_rebind_) {
    potential_->bind(state_.species);
    needs_rebind_ = false;
  }
  if (!list_ || list_->cutoff() != potential_->cutoff())
    list_ = std::make_unique<NeighborList>(potential_->cutoff(), settings_.neighbor_skin);
  if (fresh_) check_atom_distances(state_, settings_.min_distance);
  list_->build(state_);
  next_moved_.reset();  // measured against an earlier build (perhaps of another list)
  compute_forces();
  const int bad = find_bad_force(state_, settings_.max_force);
  if (bad >= 0 || !std::isfinite(potential_totals().energy)) {
    std::string what =
        bad >= 0 ? "the force on atom " + std::to_string(bad + 1) : std::string("the energy");
    throw Error("step " + std::to_string(step_) + ": " + what + " of the starting structure is " +
                (bad >= 0 ? "not finite or above the limit of " +
                                format_significant(settings_.max_force, 6) + " eV/Å"
                          : std::string("not finite")) +
                "; check the structure and the potential");
  }
  integrator_.refresh_kinetic(state_);
  if (fresh_ && statistics().samples == 0) {
    RunStatistics start = statistics();
    const double conserved = thermo().conserved;
    start.initial_conserved = conserved;
    start.last_conserved = conserved;
    set_statistics(start);
  }
  ready_ = true;
  Kokkos::fence();
  timers_.setup += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void Engine::reseat() {
  if (!ready_) {  // set-up does the same work, and binds the potential first
    setup();
    return;
  }
  list_->build(state_);
  next_moved_.reset();
  compute_forces();
  integrator_.refresh_kinetic(state_);
}

void Engine::add_pending_sample() {
  StepSources sources;
  sources.kinetic_at = integrator_.kinetic_at();
  if (sources.kinetic_at == Integrator::KineticAt::host)
    sources.host_kinetic = integrator_.kinetic();
  sources.device_kinetic = integrator_.device_kinetic();
  sources.extended = pending_sample_.extended;
  sources.extended_device = pending_sample_.extended_device;
  accumulate_statistics(statistics_device_, totals_[current_], sources, pending_sample_.volume,
                        integrator_.degrees_of_freedom(), pending_sample_.time);
  statistics_on_host_ = false;
}

void Engine::update_neighbors() {
  // The displacement the last step's second half measured for this drift,
  // when nothing has moved the atoms or rebuilt the list since.
  if (next_moved_)
    list_->update(state_, *next_moved_);
  else
    list_->update(state_);
  next_moved_.reset();
}

bool Engine::notify_observers(bool initial) {
  bool keep_going = true;
  const std::vector<StepObserver*> observers = observers_;  // an observer may remove itself
  for (StepObserver* observer : observers) {
    const long interval = observer->interval();
    if (!initial && !(interval > 0 && step_ % interval == 0)) continue;
    // One that reads the engine may also move it (a restart reseats it).
    if (observer->reads_engine()) next_moved_.reset();
    keep_going = observer->observe(*this) && keep_going;
  }
  return keep_going;
}

long Engine::run_until(long final_step) {
  const long start = step_;
  {
    setup();
    PhaseClock clock(timers_, Phase::output, fence_phases_);
    if (fresh_) {
      fresh_ = false;
      if (!notify_observers(true)) return 0;
    }
  }
  while (step_ < final_step) {
    // An observer may have swapped or retrained the potential (on-the-fly
    // learning): rebind and recompute the forces before they drive a step.
    setup();
    Snapshot& snapshot = snapshot_;
    snapshot.step = step_;
    {
      PhaseClock clock(timers_, Phase::initial_integrate, fence_phases_);
      try {
        // On the host after a step (its check brought them) and after set-up; a
        // copy only after a force call outside a step (reseat).
        integrator_.initial_integrate(state_, step_ + 1, potential_totals(), &snapshot);
      } catch (const InterruptedError&) {
        throw;
      } catch (const Error& error) {
        // A cell the barostat made singular (a target pressure far too high
        // for the structure) has no step or key in its message otherwise.
        throw Error("step " + std::to_string(step_ + 1) + ": " + error.what() +
                    (settings_.barostat.enabled
                         ? "; the barostat moved the cell there (target pressure " +
                               format_significant(settings_.barostat.pressure, 6) + " GPa)"
                         : std::string()));
      }
    }
    ++step_;
    {
      PhaseClock clock(timers_, Phase::neighbor, fence_phases_);
      update_neighbors();
    }
    {
      PhaseClock clock(timers_, Phase::force, fence_phases_);
      compute_forces();
    }
    ForceCheck check;
    {
      PhaseClock clock(timers_, Phase::final_integrate, fence_phases_);
      // NVE: the next drift's displacement check rides on this step's reduction.
      const VecView s0 = list_->fractional_at_build(state_);
      const DriftCheck next{state_.box, s0};
      const bool predict = integrator_.plain_drift() && s0.is_allocated();
      check =
          integrator_.final_integrate(state_, step_, totals_[current_], predict ? &next : nullptr);
      if (predict) next_moved_ = std::sqrt(check.next_moved_squared);
    }
    check_step(check, step_, snapshot);
    set_host_totals(check.potential);  // the same numbers, copied with the check
    ++timers_.steps;
    PhaseClock clock(timers_, Phase::output, fence_phases_);
    const double volume = state_.box.volume();
    pending_sample_.time = time();
    pending_sample_.volume = volume;
    pending_sample_.extended =
        integrator_.extended_energy_host_part(volume, pending_sample_.extended_device);
    add_pending_sample();
    if (!notify_observers(false)) break;
  }
  return step_ - start;
}

void Engine::check_step(const ForceCheck& check, long failed_step, const Snapshot& before) {
  const double limit = settings_.max_force;
  if (check.passes(limit)) return;
  next_moved_.reset();
  const bool forces_bad = check.non_finite > 0 || check.max_force_squared > limit * limit;
  std::string problem;
  if (forces_bad) {
    // The step's check and this pass may round |F|² differently (a GPU's fused
    // multiply-adds): a limit lower by far more than that finds the atom it saw
    // (std::max only keeps the subview in range).
    const int atom = std::max(0, find_bad_force(state_, limit * (1.0 - 1e-9)));
    auto f = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(),
                                                 Kokkos::subview(state_.f, atom, Kokkos::ALL));
    const double norm = std::hypot(f(0), f(1), f(2));
    const std::string on_atom = "the force on atom " + std::to_string(atom + 1) + " is ";
    if (!std::isfinite(norm))
      problem = on_atom + "not finite";
    else if (norm > limit)
      problem = on_atom + format_significant(norm, 6) + " eV/Å, above the limit of " +
                format_significant(limit, 6) + " eV/Å";
    else
      problem = on_atom + format_significant(norm, 6) + " eV/Å, too large to square";
  } else if (check.energy_not_finite > 0) {
    problem = "the potential energy is not finite";
  } else if (check.kinetic_not_finite > 0) {
    problem = "the kinetic energy is not finite (the velocities overflow)";
  } else {
    problem = "the thermostat's or barostat's variables are not finite";
  }
  // Back to the last good step: its positions, velocities, forces and cell.
  Kokkos::deep_copy(state_.x, before.x);
  Kokkos::deep_copy(state_.v, before.v);
  Kokkos::deep_copy(state_.f, before.f);
  state_.box = before.box;
  step_ = before.step;
  // The state before the step keeps its energy and virial in the other view.
  current_ = 1 - current_;
  totals_on_host_ = false;
  integrator_.refresh_kinetic(state_);
  last_good_frame_ = frame();
  ready_ = false;
  throw Error("step " + std::to_string(failed_step) + ": " + problem +
              " (the dynamics exploded or the potential failed); stopped at the last good step " +
              std::to_string(step_));
}

ThermoSample Engine::thermo() const {
  ThermoSample sample;
  sample.step = step_;
  sample.time = time();
  const double volume = state_.box.volume();
  const ThermoScalars scalars(integrator_.kinetic(), potential_totals(), volume,
                              integrator_.degrees_of_freedom(),
                              integrator_.extended_energy(volume));
  sample.temperature = scalars.temperature;
  sample.potential_energy = scalars.potential_energy;
  sample.kinetic_energy = scalars.kinetic_energy;
  sample.total_energy = scalars.total_energy;
  sample.pressure = scalars.pressure;
  sample.volume = scalars.volume;
  sample.conserved = scalars.conserved;
  for (int k = 0; k < 6; ++k) sample.stress[k] = scalars.stress[k];
  return sample;
}

Structure Engine::frame() const {
  Structure structure = state_.to_structure();
  state_.write_masses(structure);
  const EnergyVirial& totals = potential_totals();
  structure.energy = totals.energy;
  auto f = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state_.f);
  auto v = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state_.v);
  auto mass = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state_.mass);
  Positions forces(state_.natoms, 3);
  Eigen::MatrixXd momenta(state_.natoms, 3);
  for (int i = 0; i < state_.natoms; ++i)
    for (int d = 0; d < 3; ++d) {
      forces(i, d) = f(i, d);
      momenta(i, d) = mass(i) * v(i, d) * ase_momentum_per_amu_a_per_fs;
    }
  structure.forces = forces;
  if (state_.box.pbc[0] && state_.box.pbc[1] && state_.box.pbc[2]) {
    Voigt stress;
    for (int k = 0; k < 6; ++k) stress[k] = -totals.virial[k] / state_.box.volume();
    structure.stress = stress;
  }
  set_real_property(structure, "momenta", momenta);
  structure.info.emplace_back("step", std::to_string(step_));
  structure.info.emplace_back("time", format_real(time()));
  structure.info.emplace_back("temperature", format_real(integrator_.temperature()));
  return structure;
}

RestartData Engine::restart_data() const {
  RestartData data;
  data.step = step_;
  data.time = time();
  data.structure = state_.to_structure();
  state_.write_masses(data.structure);
  auto v = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state_.v);
  data.velocities.resize(state_.natoms, 3);
  for (int i = 0; i < state_.natoms; ++i)
    for (int d = 0; d < 3; ++d) data.velocities(i, d) = v(i, d);
  data.integrator = integrator_.save_state();
  data.statistics = statistics();
  data.potential = potential_->spec();
  return data;
}

void Engine::restore(const RestartData& data) {
  if (data.structure.size() != state_.natoms)
    throw Error("the restart holds " + std::to_string(data.structure.size()) +
                " atoms, the run has " + std::to_string(state_.natoms));
  const Structure current = state_.to_structure();
  if (data.structure.numbers != current.numbers)
    throw Error("the restart's atoms (species or order) differ from the run's");
  if (data.velocities.rows() != state_.natoms)
    throw Error("the restart's velocities do not match its atoms");
  state_.set_positions(data.structure);
  auto v = Kokkos::create_mirror_view(state_.v);
  for (int i = 0; i < state_.natoms; ++i)
    for (int d = 0; d < 3; ++d) v(i, d) = data.velocities(i, d);
  Kokkos::deep_copy(state_.v, v);
  integrator_.restore_state(data.integrator);
  integrator_.refresh_kinetic(state_);
  set_statistics(data.statistics);
  step_ = data.step;
  fresh_ = false;
  ready_ = false;
  last_good_frame_.reset();
}

// ---------------------------------------------------------------------------

namespace {
double mean(double sum, long n) {
  // No samples: no mean, rather than a plausible-looking 0 K or 0 GPa.
  return n > 0 ? sum / n : std::numeric_limits<double>::quiet_NaN();
}
double variance(double sum, double sum2, long n) {
  if (n < 2) return 0.0;
  const double m = sum / n;
  return std::max(0.0, (sum2 - n * m * m) / (n - 1));
}
}  // namespace

double RunStatistics::mean_temperature() const {
  return mean(sum_temperature, samples);
}
double RunStatistics::std_temperature() const {
  return std::sqrt(variance(sum_temperature, sum_temperature2, samples));
}
double RunStatistics::mean_pressure() const {
  return mean(sum_pressure, samples);
}
double RunStatistics::mean_volume() const {
  return mean(sum_volume, samples);
}
double RunStatistics::mean_potential_energy() const {
  return mean(sum_potential, samples);
}
double RunStatistics::mean_kinetic_energy() const {
  return mean(sum_kinetic, samples);
}
double RunStatistics::kinetic_energy_variance() const {
  return variance(sum_kinetic, sum_kinetic2, samples);
}

double RunStatistics::conserved_slope() const {
  if (samples < 2) return 0.0;
  const double n = static_cast<double>(samples);
  const double denominator = n * sum_t2 - sum_t * sum_t;
  return denominator > 0.0 ? (n * sum_tc - sum_t * sum_c) / denominator : 0.0;
}

std::vector<double> RunStatistics::to_vector() const {
  return {static_cast<double>(samples),
          sum_temperature,
          sum_temperature2,
          sum_pressure,
          sum_pressure2,
          sum_volume,
          sum_volume2,
          sum_potential,
          sum_kinetic,
          sum_kinetic2,
          initial_conserved,
          last_conserved,
          max_conserved_deviation,
          sum_t,
          sum_t2,
          sum_c,
          sum_tc};
}

RunStatistics RunStatistics::from_vector(const std::vector<double>& values) {
  RunStatistics s;
  if (values.size() != s.to_vector().size())
    throw Error("run statistics hold " + std::to_string(values.size()) + " numbers, expected " +
                std::to_string(s.to_vector().size()));
  int k = 0;
  s.samples = static_cast<long>(values[k++]);
  for (double* field :
       {&s.sum_temperature, &s.sum_temperature2, &s.sum_pressure, &s.sum_pressure2, &s.sum_volume,
        &s.sum_volume2, &s.sum_potential, &s.sum_kinetic, &s.sum_kinetic2, &s.initial_conserved,
        &s.last_conserved, &s.max_conserved_deviation, &s.sum_t, &s.sum_t2, &s.sum_c, &s.sum_tc})
    *field = values[k++];
  return s;
}

}  // namespace otfgp::md
