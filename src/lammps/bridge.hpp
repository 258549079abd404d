#pragma once
// Binds an otfgp Potential to a LAMMPS `fix ID all external pf/callback 1 1`
// through Debian's liblammps. Each MPI rank evaluates the potential on its own
// atoms plus its ghost atoms as one non-periodic cluster; with a ghost shell of
// at least 2·cutoff + skin every site energy that touches an owned atom is
// complete, so the forces on owned atoms are exact without reverse
// communication. Energies (eV), forces (eV/Å), virials (eV) in LAMMPS metal units.

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/potentials/potential.hpp"

namespace LAMMPS_NS {
class Fix;
}

namespace otfgp::lammps {

struct BridgeSettings {
  std::string potential_spec;              // e.g. "gp:model.h5"
  std::string fix_id;                      // the fix external the potential drives
  std::vector<std::string> type_symbols;   // element of LAMMPS type 1, 2, …
  long std_every = 0;                      // store the GP std every this many steps (0: never)
  std::string std_property = "otfgp_std";  // custom per-atom double (fix property/atom d_otfgp_std)
  // Site energies of every ghost too, not only of those within reach of owned
  // atoms (same results, more work): for measuring what the restriction saves.
  bool all_ghost_sites = false;
};

// Seconds and counts a rank spent in the callback, for the benchmark.
struct BridgeTimings {
  double total_s = 0, copy_s = 0, neighbor_s = 0, compute_s = 0, reduce_s = 0;
  long calls = 0, neighbor_builds = 0;
  double owned_atom_calls = 0, cluster_atom_calls = 0;  // Σ owned, Σ owned + ghost
  double centre_atom_calls = 0;  // Σ atoms whose site energies were computed
};

class Bridge {
 public:
  // Makes the potential and maps --types onto it: throws otfgp::Error for an
  // unknown symbol or a species the potential does not describe.
  explicit Bridge(BridgeSettings settings);

  // Routes the commands that start a run (run, minimize, rerun, write_data, …)
  // through this bridge, so that it can bind to the fix and check the input
  // before LAMMPS initialises. One bridge per process (LAMMPS's command table
  // takes plain function pointers).
  void install(void* lammps_handle);
  // Binds the callback to the fix when it exists; checks the units, the types,
  // the fix and the ghost cutoff, and that the last run or minimize called
  // the fix (check_calls). `starts_run`: the fix must exist; `counts_calls`:
  // the command (run, minimize) must call the fix at least once. Throws
  // otfgp::Error.
  // `every_step`: the command (run) must call the fix at every step.
  void prepare(bool starts_run, bool counts_calls, bool every_step);
  // Throws otfgp::Error when the last run or minimize made no callback (a fix
  // `external pf/array`, whose forces are never computed), or the last run
  // fewer than one per step (`pf/callback N 1` with N > 1).
  void check_calls() const;

  // The fix external callback (LAMMPS_SMALLBIG: 64-bit step, 32-bit tags).
  static void callback(void* self, std::int64_t step, int nlocal, int* tags, double** x,
                       double** f);

  double potential_cutoff() const { return potential_->cutoff(); }
  // 2·cutoff + skin (Å): the ghost cutoff the exact forces need.
  double required_ghost_cutoff() const;
  const BridgeTimings& timings() const { return timings_; }
  bool bound() const { return bound_; }
  const Potential& potential() const { return *potential_; }

 private:
  void compute(std::int64_t step, int nlocal, double** x, double** external_force);
  // Warns once per type whose mass is far from its --types element's.
  void check_masses();
  void check_fix(int index) const;
  void set_ghost_cutoff();
  // Throws when a fix that sets or averages forces precedes the bound fix (at `index`).
  void check_fix_order(int index) const;
  void load_cluster(int nlocal, int nghost, const int* types, const int* tags, double** x);
  // Refuses a call that skipped steps (the potential must run every step) and
  // records the run's first step and counts its setup calls.
  void check_call_step(std::int64_t step);
  // The owned atoms' σ-normalised stds into the per-atom property d_<std_property>.
  void store_std(const ComputeResult& result, int nlocal);
  // The energy and virial summed over ranks, given to the fix as its globals.
  void set_global_totals(double rank_energy, const double (&rank_virial)[6]);

  BridgeSettings settings_;
  std::unique_ptr<Potential> potential_;
  std::vector<int> species_;          // atomic numbers, ascending (AtomState::species)
  std::vector<int> species_of_type_;  // LAMMPS type (1-based) → species index
  void* handle_ = nullptr;
  bool bound_ = false;
  LAMMPS_NS::Fix* fix_ = nullptr;  // the bound fix, found by prepare before each run
  double ghost_cutoff_set_ = -1;  // the comm cutoff this bridge chose (Å), so it may raise it again
  std::vector<double> checked_mass_;  // per type (1-based): the mass last checked, 0: none
  long calls_before_run_ = -1;        // timings_.calls when a run/minimize began; -1: none pending
  bool last_was_run_ = false;         // that command was `run`
  std::int64_t run_first_step_ = 0;   // of the last run, from its callbacks
  long run_setup_calls_ = 0;          // setup callbacks of the last run (none for `run N pre no`)
  std::int64_t last_call_step_ = -1;  // the step of the last callback (-1: none yet)

  AtomState cluster_;
  std::unique_ptr<NeighborList> list_;
  std::vector<int> cluster_tags_;  // tags of the cluster at the last list build
  // 1 for owned atoms and for ghosts within cutoff + skin of one at the last list
  // build: the atoms whose site energies touch an owned atom until the next build.
  IntView centres_;
  int centre_count_ = 0;
  void mark_centres(int nlocal);
  std::vector<double> owned_energy_;
  std::vector<double> owned_virial_;  // nlocal × 6, LAMMPS order xx yy zz xy xz yz
  std::vector<double*> owned_virial_rows_;
  BridgeTimings timings_;
};

}  // namespace otfgp::lammps
