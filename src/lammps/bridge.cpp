#include "bridge.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include "lammps_headers.hpp"
#define LAMMPS_LIB_MPI  // declares lammps_open with an MPI communicator
#include "library.h"
#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/gp/potential_registry.hpp"

namespace otfgp::lammps {

namespace {

using LAMMPS_NS::LAMMPS;

LAMMPS* as_lammps(void* handle) {
  return static_cast<LAMMPS*>(handle);
}

// A line on LAMMPS's screen and in its log file, from rank 0.
void log_line(LAMMPS* lmp, const std::string& text) {
  if (lmp->comm->me != 0) return;
  for (FILE* out : {lmp->screen, lmp->logfile})
    if (out) {
      std::fprintf(out, "%s\n", text.c_str());
      std::fflush(out);
    }
}

// What LAMMPS's Error::all does: every rank stops, rank 0 says why.
[[noreturn]] void stop_all(LAMMPS* lmp, const std::string& message) {
  log_line(lmp, "ERROR: otfgp-lammps: " + message);
  if (lmp->comm->me == 0 && lmp->screen != stdout)
    std::fprintf(stderr, "ERROR: otfgp-lammps: %s\n", message.c_str());
  MPI_Barrier(lmp->world);
  MPI_Finalize();
  std::exit(1);
}

// What LAMMPS's Error::one does: one rank failed, the job ends.
[[noreturn]] void stop_one(LAMMPS* lmp, const std::string& message) {
  std::fprintf(stderr, "ERROR on proc %d: otfgp-lammps: %s\n", lmp->comm->me, message.c_str());
  std::fflush(stderr);
  MPI_Abort(lmp->world, 1);
  std::exit(1);
}

// LAMMPS's command table holds plain function pointers, so the hooks reach the
// bridge through this one pointer (set by Bridge::install, one bridge per process).
Bridge* active_bridge = nullptr;

// Commands that initialise LAMMPS (and so the fix, which refuses to run without
// its callback): those that call LAMMPS::init() in Debian's liblammps
// (2021-09-29 update 2), and change_box and displace_atoms. `starts_run`: the
// fix must exist by then; `counts_calls`: the command calls the fix at least
// once (a rerun of an empty dump does not). `fix` itself is built into
// LAMMPS's Input, not in this table, so the callback is bound at the next of
// these instead. (The replica commands, neb, prd, tad, temper and hyper, need
// -partition, which otfgp-lammps does not support.)
struct Hook {
  const char* name;
  bool starts_run, counts_calls, every_step;
  LAMMPS_NS::Input::CommandCreator original;
};
// `every_step`: the command (run) calls the fix at every step, checked after
// it (one call per step the run made, plus its setup call): a fix with Ncall > 1
// in a run shorter than Ncall steps never reaches the check in the callback.
std::array<Hook, 16> hooks = {{{"run", true, true, true, nullptr},
                               {"minimize", true, true, false, nullptr},
                               {"rerun", true, false, false, nullptr},
                               {"write_data", false, false, false, nullptr},
                               {"write_restart", false, false, false, nullptr},
                               {"write_coeff", false, false, false, nullptr},
                               {"velocity", false, false, false, nullptr},
                               {"change_box", false, false, false, nullptr},
                               {"displace_atoms", false, false, false, nullptr},
                               {"balance", false, false, false, nullptr},
                               {"reset_atom_ids", false, false, false, nullptr},
                               {"reset_mol_ids", false, false, false, nullptr},
                               {"delete_atoms", false, false, false, nullptr},
                               {"create_bonds", false, false, false, nullptr},
                               {"delete_bonds", false, false, false, nullptr},
                               {"set", false, false, false, nullptr}}};

template <std::size_t Slot>
LAMMPS_NS::Command* hooked_command(LAMMPS* lmp) {
  try {
    active_bridge->prepare(hooks[Slot].starts_run, hooks[Slot].counts_calls,
                           hooks[Slot].every_step);
  } catch (const std::exception& error) {
    // Every rank sees the same input and reaches the same verdict: a collective stop.
    stop_all(lmp, error.what());
  }
  return hooks[Slot].original(lmp);
}

template <std::size_t... Slot>
std::array<LAMMPS_NS::Input::CommandCreator, sizeof...(Slot)> hooked_creators(
    std::index_sequence<Slot...>) {
  return {&hooked_command<Slot>...};
}

// otfgp's Voigt order is xx yy zz yz xz xy, LAMMPS's xx yy zz xy xz yz.
constexpr int lammps_from_voigt[6] = {0, 1, 2, 5, 4, 3};

// Marks the owned atoms (0 … nlocal − 1) and every atom on their lists. The
// list holds every pair within cutoff + skin, so an atom that comes within the
// cutoff of an owned atom before the next build is already marked. Returns the
// number marked. (A free function: nvcc refuses lambdas in private members.)
int mark_near_owned(const NeighborView& neighbors, int nlocal, const IntView& centres) {
  Kokkos::parallel_for(
      "otfgp-lammps::mark_centres", RangePolicy(0, nlocal), KOKKOS_LAMBDA(int i) {
        Kokkos::atomic_exchange(&centres(i), 1);
        for (int k = neighbors.offsets(i); k < neighbors.offsets(i + 1); ++k)
          Kokkos::atomic_exchange(&centres(neighbors.index(k)), 1);
      });
  int count = 0;
  Kokkos::parallel_reduce(
      "otfgp-lammps::count_centres", RangePolicy(0, int(centres.extent(0))),
      KOKKOS_LAMBDA(int i, int& sum) { sum += centres(i); }, count);
  return count;
}

}  // namespace

Bridge::Bridge(BridgeSettings settings) : settings_(std::move(settings)) {
  if (settings_.type_symbols.empty())
    throw Error("--types: name the element of every LAMMPS atom type, e.g. --types Ba Rh O");
  std::set<int> unique;
  std::vector<int> numbers;
  for (const std::string& symbol : settings_.type_symbols) {
    const int z = find_atomic_number(symbol);
    if (z == 0)
      throw Error("--types: '" + symbol + "' is not an element symbol (case matters: Ba, Rh, O)");
    numbers.push_back(z);
    unique.insert(z);
  }
  species_.assign(unique.begin(), unique.end());
  species_of_type_.assign(numbers.size() + 1, -1);
  for (std::size_t t = 0; t < numbers.size(); ++t)
    species_of_type_[t + 1] = static_cast<int>(
        std::lower_bound(species_.begin(), species_.end(), numbers[t]) - species_.begin());

  potential_ = make_potential(settings_.potential_spec);
  potential_->bind(species_);  // names the species the potential lacks
  if (settings_.std_every < 0) throw Error("--std-every must be ≥ 0");
  if (settings_.std_every > 0 && !potential_->provides_uncertainty())
    throw Error("--std-every: potential " + potential_->spec() +
                " has no uncertainty (only gp: models do)");

  cluster_.species = species_;
  cluster_.box =
      Box::from_cell(Eigen::Matrix3d::Zero(), std::array<bool, 3>{false, false, false}.data());
}

void Bridge::install(void* lammps_handle) {
  handle_ = lammps_handle;
  active_bridge = this;
  auto& table = *as_lammps(handle_)->input->command_map;
  const auto creators = hooked_creators(std::make_index_sequence<hooks.size()>());
  for (std::size_t k = 0; k < hooks.size(); ++k) {
    const auto found = table.find(hooks[k].name);
    if (found == table.end()) continue;
    hooks[k].original = found->second;
    found->second = creators[k];
  }
}

double Bridge::required_ghost_cutoff() const {
  return 2.0 * potential_->cutoff() + as_lammps(handle_)->neighbor->skin;
}

void Bridge::check_calls() const {
  if (calls_before_run_ < 0) return;
  const long calls = timings_.calls - calls_before_run_;
  if (calls == 0)
    throw Error("--fix " + settings_.fix_id + ": the last run or minimize never called fix '" +
                settings_.fix_id +
                "', so it ran without the potential's forces (a `fix … external pf/array`?); "
                "use `fix " +
                settings_.fix_id + " all external pf/callback 1 1`");
  // The steps the run made: update->nsteps, which LAMMPS lowers to the steps
  // done when `fix halt` or `timer timeout` ends a run early (laststep stays
  // the planned one). The current step bounds it where nsteps is stale: a
  // `clear` since (whose new Update leaves nsteps unset and starts at step 0)
  // or a `reset_timestep` to an earlier step.
  const LAMMPS_NS::Update* update = as_lammps(handle_)->update;
  const long steps =
      std::min(static_cast<long>(update->nsteps), long(update->ntimestep - run_first_step_));
  if (last_was_run_ && calls < steps + run_setup_calls_)
    throw Error("--fix " + settings_.fix_id + ": the last run of " + std::to_string(steps) +
                " steps called fix '" + settings_.fix_id + "' " + std::to_string(calls) +
                " time(s), so some of its steps ran without the potential's forces; use `fix " +
                settings_.fix_id + " all external pf/callback 1 1`");
}

// LAMMPS types carry masses, not elements: a mass far from --types' element
// (by more than 10 %) most likely means --types is not in the data file's
// type order. A warning, since isotopes (D for H) are legitimate.
void Bridge::check_masses() {
  LAMMPS* lmp = as_lammps(handle_);
  const LAMMPS_NS::Atom* atom = lmp->atom;
  if (!atom->mass || !atom->mass_setflag) return;
  // Each type once its mass is set, and again when it changes (`mass`, or a
  // new system after `clear`).
  checked_mass_.resize(atom->ntypes + 1, 0.0);
  for (int t = 1; t <= atom->ntypes; ++t) {
    if (!atom->mass_setflag[t] || atom->mass[t] == checked_mass_[t]) continue;
    checked_mass_[t] = atom->mass[t];
    const Element& named = element(find_atomic_number(settings_.type_symbols[t - 1]));
    if (std::abs(atom->mass[t] - named.mass) <= 0.1 * named.mass) continue;
    char text[256];
    std::snprintf(text, sizeof text,
                  "WARNING: otfgp-lammps: atom type %d has mass %g but --types makes it %s "
                  "(%g): is --types in the input's type order?",
                  t, atom->mass[t], named.symbol, named.mass);
    log_line(lmp, text);
  }
}

// Fixes act on the forces in the order they were defined, and fix external
// adds the potential's in its turn. Defined before it, one that sets or
// averages forces (setforce, aveforce, …) would see none of them, and its atoms
// would move under the potential's forces after all; shake and rattle would
// compute their constraint forces without them (measured against LAMMPS's own
// pair sw: the bonds drift from their lengths under shake, the energies differ
// under rattle); the rigid-body fixes sum their bodies' forces and torques in
// their setup, before the potential's, so the first step moves the bodies
// without them (a rattled Si crystal with an 8-atom body: pe −597.64 against
// pair sw's −597.86 eV after 5 steps, and the runs apart from there on). Each
// name stands for its variants too (setforce/kk, shake/kk, rigid/small/omp).
void Bridge::check_fix_order(int index) const {
  static const std::array<std::string, 8> families = {
      "setforce", "aveforce", "freeze", "lineforce", "planeforce", "shake", "rattle", "rigid"};
  const LAMMPS_NS::Modify* modify = as_lammps(handle_)->modify;
  for (int k = 0; k < index; ++k) {
    const std::string style = modify->fix[k]->style;
    const bool acts_on_forces =
        std::any_of(families.begin(), families.end(), [&](const std::string& family) {
          return style == family || style.rfind(family + "/", 0) == 0;
        });
    if (acts_on_forces)
      throw Error("fix '" + std::string(modify->fix[k]->id) + "' (" + style +
                  ") is defined before fix '" + settings_.fix_id +
                  "', so it acts on the forces before the potential adds its own: define it "
                  "after fix '" +
                  settings_.fix_id + "'");
  }
}

// The bound fix (at `index`) and the input's atom types against the settings.
void Bridge::check_fix(int index) const {
  LAMMPS* lmp = as_lammps(handle_);
  const std::string& id = settings_.fix_id;
  const LAMMPS_NS::Fix* fix = lmp->modify->fix[index];
  if (std::strcmp(fix->style, "external") != 0)
    throw Error("--fix " + id + ": fix '" + id + "' is of style '" + fix->style +
                "', not 'external' (use `fix " + id + " all external pf/callback 1 1`)");
  if (fix->igroup != 0)
    throw Error("--fix " + id + ": the fix acts on group '" + lmp->group->names[fix->igroup] +
                "'; the potential's energy covers every atom, so use group all");
  check_fix_order(index);
  const int ntypes = lmp->atom->ntypes;
  if (ntypes != static_cast<int>(settings_.type_symbols.size())) {
    std::string given;
    for (const auto& symbol : settings_.type_symbols) given += " " + symbol;
    throw Error("--types names " + std::to_string(settings_.type_symbols.size()) + " element(s) (" +
                given.substr(1) + ") but the LAMMPS input has " + std::to_string(ntypes) +
                " atom type(s): give one element per type");
  }
}

// Sets the ghost cutoff to 2·cutoff + skin where the input leaves it unset (or
// as this bridge set it before), and refuses a shorter one.
void Bridge::set_ghost_cutoff() {
  LAMMPS* lmp = as_lammps(handle_);
  if (lmp->comm->mode != 0)
    throw Error("comm_modify mode multi is not supported; use the single ghost cutoff");
  const double required = required_ghost_cutoff();
  double& ghost = lmp->comm->cutghostuser;
  if (ghost == 0.0 || ghost == ghost_cutoff_set_) {
    if (ghost != required && lmp->comm->me == 0)
      log_line(lmp, "otfgp-lammps: comm_modify cutoff " + std::to_string(required) +
                        " (2 x potential cutoff " + std::to_string(potential_->cutoff()) +
                        " + skin " + std::to_string(lmp->neighbor->skin) + ")");
    ghost = required;
    ghost_cutoff_set_ = required;
  } else if (ghost < required - 1e-12) {
    throw Error("comm_modify cutoff " + std::to_string(ghost) +
                " Å is shorter than 2 × cutoff + skin = " + std::to_string(required) +
                " Å, which exact forces need; raise it or remove it (otfgp-lammps then sets it)");
  }
}

void Bridge::prepare(bool starts_run, bool counts_calls, bool every_step) {
  LAMMPS* lmp = as_lammps(handle_);
  check_calls();
  if (std::strcmp(lmp->update->unit_style, "metal") != 0)
    throw Error(std::string("units ") + lmp->update->unit_style +
                ": otfgp potentials give eV and Å, so the input needs `units metal`");
  const std::string& id = settings_.fix_id;
  const int index = lmp->modify->find_fix(id);
  if (index < 0) {
    bound_ = false;
    if (starts_run)
      throw Error("--fix " + id + ": the input defines no fix '" + id + "'; add `fix " + id +
                  " all external pf/callback 1 1` before the first run");
    return;
  }
  check_fix(index);
  set_ghost_cutoff();
  check_masses();
  // Only runs, minimizations and reruns call the fix: the property may come later.
  if (settings_.std_every > 0 && starts_run) {
    int flag = -1, cols = -1;
    const int custom = lmp->atom->find_custom(settings_.std_property.c_str(), flag, cols);
    if (custom < 0 || flag != 1 || cols != 0)
      throw Error("--std-every needs the per-atom property d_" + settings_.std_property +
                  ": add `fix otfgp_std all property/atom d_" + settings_.std_property +
                  "` before the run");
  }
  LAMMPS_NS::Fix* fix = lmp->modify->fix[index];
  // The potential energy and virial are the whole system's: count them in thermo
  // output and pressure, as `fix_modify ID energy yes virial yes` would.
  fix->thermo_energy = 1;
  fix->thermo_virial = 1;
  lammps_set_fix_external_callback(handle_, id.c_str(), &Bridge::callback, this);
  fix_ = fix;
  bound_ = true;
  // LAMMPS skips a run or minimize once `timer timeout` has expired (or after
  // `fix halt … error soft`): it calls the fix no more.
  calls_before_run_ = counts_calls && !lmp->timer->is_timeout() ? timings_.calls : -1;
  last_was_run_ = every_step;
  run_setup_calls_ = 0;
}

void Bridge::callback(void* self, std::int64_t step, int nlocal, int* /*tags*/, double** x,
                      double** f) {
  auto* bridge = static_cast<Bridge*>(self);
  try {
    bridge->compute(step, nlocal, x, f);
  } catch (const std::exception& error) {
    // Only this rank may have failed: LAMMPS's one-rank error aborts the job.
    stop_one(as_lammps(bridge->handle_), error.what());
  }
}

void Bridge::load_cluster(int nlocal, int nghost, const int* types, const int* tags, double** x) {
  const int n = nlocal + nghost;
  // LAMMPS keeps the order of owned and ghost atoms from one reneighbouring to
  // the next, so the list is rebuilt only when the cluster's atoms change;
  // between times NeighborList::update rebuilds if atoms moved beyond the skin.
  const bool same_atoms = n == cluster_.natoms && list_ &&
                          std::equal(tags, tags + n, cluster_tags_.begin(), cluster_tags_.end());
  if (n != cluster_.natoms) {
    cluster_.natoms = n;
    cluster_.x = VecView("otfgp-lammps::x", n);
    cluster_.v = VecView("otfgp-lammps::v", n);
    cluster_.f = VecView("otfgp-lammps::f", n);
    cluster_.type = IntView("otfgp-lammps::type", n);
    cluster_.mass = ScalarView("otfgp-lammps::mass", n);
  }
  auto position = Kokkos::create_mirror_view(cluster_.x);
  auto type = Kokkos::create_mirror_view(cluster_.type);
  const int ntypes = static_cast<int>(species_of_type_.size()) - 1;
  for (int i = 0; i < n; ++i) {
    for (int d = 0; d < 3; ++d) position(i, d) = x[i][d];
    const int t = types[i];
    if (t < 1 || t > ntypes)
      throw Error("atom " + std::to_string(tags[i]) + " has type " + std::to_string(t) +
                  ", --types covers 1…" + std::to_string(ntypes));
    type(i) = species_of_type_[t];
  }
  Kokkos::deep_copy(cluster_.x, position);
  Kokkos::deep_copy(cluster_.type, type);

  const double list_start = MPI_Wtime();
  const double skin = as_lammps(handle_)->neighbor->skin;
  if (!list_ || list_->skin() != skin)
    list_ = std::make_unique<NeighborList>(potential_->cutoff(), skin);
  if (!same_atoms) {
    list_->build(cluster_);
    cluster_tags_.assign(tags, tags + n);
    ++timings_.neighbor_builds;
    mark_centres(nlocal);
  } else if (list_->update(cluster_)) {
    ++timings_.neighbor_builds;
    mark_centres(nlocal);
  }
  timings_.neighbor_s += MPI_Wtime() - list_start;
}

void Bridge::mark_centres(int nlocal) {
  if (settings_.all_ghost_sites) {
    centres_ = IntView();
    centre_count_ = cluster_.natoms;
    return;
  }
  centres_ = IntView("otfgp-lammps::centres", cluster_.natoms);
  centre_count_ = mark_near_owned(list_->view(), nlocal, centres_);
}

void Bridge::check_call_step(std::int64_t step) {
  LAMMPS* lmp = as_lammps(handle_);
  // A callback every step: `pf/callback N 1` with N > 1 leaves the steps
  // between calls with the last call's forces. Setup calls (each run's first,
  // every rerun frame) may follow any step; a minimizer's line search calls
  // several times at one step.
  if (!lmp->update->setupflag && last_call_step_ >= 0 && step - last_call_step_ > 1)
    throw Error("fix " + settings_.fix_id + " was called at step " + std::to_string(step) +
                " after step " + std::to_string(last_call_step_) +
                ": the potential must be evaluated every step; use `fix " + settings_.fix_id +
                " all external pf/callback 1 1`");
  last_call_step_ = step;
  if (lmp->update->whichflag == 1) {
    run_first_step_ = lmp->update->firststep;
    // A run's setup calls once before its steps; `run N pre no` (chunks of
    // one long run) does not, and its N steps call N times.
    if (lmp->update->setupflag) ++run_setup_calls_;
  }
}

void Bridge::store_std(const ComputeResult& result, int nlocal) {
  LAMMPS* lmp = as_lammps(handle_);
  int flag = 0, cols = 0;
  const int custom = lmp->atom->find_custom(settings_.std_property.c_str(), flag, cols);
  if (custom < 0) throw Error("the per-atom property d_" + settings_.std_property + " is gone");
  // σ-normalised, as documented and as `otfgp eval` writes uncertainty_normalised.
  auto std_dev =
      Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), result.uncertainty_normalised);
  double* stored = lmp->atom->dvector[custom];
  for (int i = 0; i < nlocal; ++i) stored[i] = std_dev(i);
}

void Bridge::set_global_totals(double rank_energy, const double (&rank_virial)[6]) {
  LAMMPS* lmp = as_lammps(handle_);
  // Both are global values in this fix external: every rank sets the totals.
  // (Measured with -np 2: setting each rank's own share of the virial gives
  // half the pressure, so LAMMPS 2022-01 takes the mean over ranks, not the sum.)
  double rank_sums[7] = {rank_energy, 0, 0, 0, 0, 0, 0}, totals[7];
  for (int c = 0; c < 6; ++c) rank_sums[1 + c] = rank_virial[c];
  MPI_Allreduce(rank_sums, totals, 7, MPI_DOUBLE, MPI_SUM, lmp->world);
  const char* id = settings_.fix_id.c_str();
  lammps_fix_external_set_energy_global(handle_, id, totals[0]);
  lammps_fix_external_set_virial_global(handle_, id, totals + 1);
  // The fix copies that virial into its own only on steps it applies forces
  // (every Napply), as the mean over ranks, which `compute pressure` sums
  // again: set the same share here, so that every step's pressure has the
  // total once (the whole total on every rank counted it once per rank).
  for (int c = 0; c < 6; ++c) fix_->virial[c] = totals[1 + c] / lmp->comm->nprocs;
  lammps_fix_external_set_energy_peratom(handle_, id, owned_energy_.data());
  lammps_fix_external_set_virial_peratom(handle_, id, owned_virial_rows_.data());
}

void Bridge::compute(std::int64_t step, int nlocal, double** x, double** external_force) {
  const double start = MPI_Wtime();
  LAMMPS* lmp = as_lammps(handle_);
  check_call_step(step);
  const int nghost = lammps_extract_setting(handle_, "nghost");
  const auto* types = static_cast<const int*>(lammps_extract_atom(handle_, "type"));
  const auto* tags = static_cast<const int*>(lammps_extract_atom(handle_, "id"));
  load_cluster(nlocal, nghost, types, tags, x);
  const double loaded = MPI_Wtime();

  ComputeRequest request;
  request.per_atom_energy = true;
  request.per_atom_virial = true;
  request.uncertainty = settings_.std_every > 0 && step % settings_.std_every == 0;
  request.centres = centres_;
  const ComputeResult result = potential_->compute(cluster_, *list_, request);
  if (result.per_atom_energy.extent(0) != std::size_t(cluster_.natoms) ||
      result.per_atom_virial.extent(0) != std::size_t(cluster_.natoms))
    throw Error("potential " + potential_->spec() +
                " does not provide per-atom energies and virials, which otfgp-lammps needs");
  const double computed = MPI_Wtime();

  // Only owned atoms count: their site energies are complete (the ghost shell
  // holds everything within 2·cutoff + skin), the ghosts' are not all.
  auto force = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cluster_.f);
  auto energy = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), result.per_atom_energy);
  auto virial = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), result.per_atom_virial);
  owned_energy_.resize(nlocal);
  owned_virial_.resize(std::size_t(nlocal) * 6);
  owned_virial_rows_.resize(nlocal);
  double rank_energy = 0.0, rank_virial[6] = {0, 0, 0, 0, 0, 0};
  // The forces go to LAMMPS's own array here, at every call; the fix's array,
  // which it adds only every Napply steps (`pf/callback 1 Napply`), stays zero.
  double** atom_force = lmp->atom->f;
  for (int i = 0; i < nlocal; ++i) {
    for (int d = 0; d < 3; ++d) {
      atom_force[i][d] += force(i, d);
      external_force[i][d] = 0.0;
    }
    owned_energy_[i] = energy(i);
    rank_energy += energy(i);
    owned_virial_rows_[i] = &owned_virial_[std::size_t(i) * 6];
    for (int c = 0; c < 6; ++c) {
      owned_virial_rows_[i][lammps_from_voigt[c]] = virial(i, c);
      rank_virial[lammps_from_voigt[c]] += virial(i, c);
    }
  }
  if (request.uncertainty) store_std(result, nlocal);
  set_global_totals(rank_energy, rank_virial);
  const double done = MPI_Wtime();

  timings_.calls += 1;
  timings_.copy_s += loaded - start;  // includes the neighbour list, also in neighbor_s
  timings_.compute_s += computed - loaded;
  timings_.reduce_s += done - computed;
  timings_.total_s += done - start;
  timings_.owned_atom_calls += nlocal;
  timings_.cluster_atom_calls += nlocal + nghost;
  timings_.centre_atom_calls += centre_count_;
}

}  // namespace otfgp::lammps
