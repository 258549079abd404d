#pragma once
// The config of `otfgp otf CONFIG.yaml` (every key in docs/otf.md): one
// vocabulary with the other verbs. `md:` takes the keys of an `otfgp md`
// config (without structure, potential and restart), `model:` exactly the keys
// of an `otfgp train` config, `oracle:` an oracle (oracle.hpp), `otf:` the
// loop's own settings, `campaign:` the stages (or a top-level `structure:`
// for one stage), `held_out:` labelled frames to evaluate after every update,
// and `output:` a directory. Unknown keys are errors with suggestions.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "otfgp/core/config.hpp"
#include "otfgp/core/structure.hpp"
#include "otfgp/gp/mapped_gp.hpp"
#include "otfgp/gp/train_config.hpp"
#include "otfgp/md/run.hpp"
#include "otfgp/oracle/oracle.hpp"
#include "otfgp/potentials/evaluate.hpp"

namespace otfgp::otf {

// One stage of a campaign: MD from this structure at (T, P) for `steps` steps.
struct CampaignStage {
  std::string name;  // for logs: the structure file's stem
  std::filesystem::path structure;
  std::string format = "auto";
  Structure start;                   // the structure file as read_otf_config read and checked it
  double temperature = 0.0;          // K: the thermostat's target (nve: as initial_temperature)
  double initial_temperature = 0.0;  // K: the Maxwell–Boltzmann velocities the stage starts with
  std::optional<double> pressure;    // GPa (npt only, or a relax stage's cell)
  long steps = 0;
  // A relax stage runs no MD: it relaxes `start` on the model and labels the
  // minimum, in rounds (OtfSettings::relax_*; docs/otf.md "Relax stages").
  bool relax = false;
};

struct OtfSettings {
  long check_interval = 1;  // steps between uncertainty checks
  // What is compared with the threshold (docs/otf.md "When the oracle is
  // called"): the largest per-atom model force std a′·n (eV/Å, n the normalised
  // local-energy std, a′ from the online calibration) against `std_threshold` (eV/Å) or
  // against `std_threshold` × the GP's current force noise (relative); or the
  // normalised std u/σ (no calibration) against a number in (0, 1).
  enum class Threshold { force_relative, force, normalised };
  Threshold threshold = Threshold::force_relative;
  // × force noise, eV/Å, or dimensionless (see `threshold`); the default is
  // the factor the reports judge a relaxed structure's force std by.
  double std_threshold = label_force_std_ratio;
  // The calibration is fitted on the last `calibration_window` MD frames sent
  // to the oracle; until `calibration_frames` of them are held, every check
  // calls the oracle (force thresholds only).
  int calibration_frames = 2;
  int calibration_window = 20;
  // Audits: while the model's force RMSE on the last frame it was sent (before
  // learning it) exceeds target_force_error × that frame's force RMS, a frame
  // is labelled every audit_interval steps even when the std stays below the
  // threshold — the guard for a std that does not see the model's errors.
  double target_force_error = 0.1;
  long audit_interval = 100;  // steps (0: no audits)
  long min_steps_between_calls = 1;
  // After each update the velocities are scaled so that kinetic plus the new
  // model's potential energy equals the total energy before the update.
  bool keep_total_energy = true;
  // Robust force weights (gp/robust_forces.hpp): atoms of a labelled MD frame
  // whose force error before learning exceeds this × the frame's median atom
  // error get a Huber-weighted force noise (0: every atom at σ_f).
  double robust_force_threshold = 10.0;
  // Relax stages (docs/otf.md "Relax stages"): at most relax_rounds
  // relaxations on the model (L-BFGS to relax_force_tolerance eV/Å and 0.005
  // GPa, relax_max_steps steps), each labelled and learnt where it ends: at a
  // novel atom, from step relax_guard_steps on where the force std exceeds
  // the threshold, else at the minimum; until the oracle confirms a minimum.
  int relax_rounds = 5;
  double relax_force_tolerance = 0.01;
  int relax_max_steps = 1000;
  int relax_guard_steps = 20;
  // Terms of the per-atom variance the MD evaluates (docs/gp.md "Truncated
  // variance"; 0: exact). Below a species' sparse count the std is truncated,
  // biased up, and cheaper; the force-std calibration is then fitted to that
  // same std, so the trigger stays in eV/Å.
  int variance_rank = MappedGp::default_variance_rank;
  // Sparse environments added per labelled frame (0: no cap); when not given,
  // sparse_per_species per species of the model, as otfgp train's default.
  static constexpr int sparse_per_species = 10;
  int max_sparse_per_frame = sparse_per_species;
  double sparse_residual_threshold =
      0.0;  // or every atom whose residual exceeds this (dimensionless)
  // Hyperparameters re-optimised after MD-triggered frames 1…first, then after
  // every `every`-th of them (0: never again); starting structures do not count.
  int hyperparameters_first = 5;
  int hyperparameters_every = 10;
  long max_oracle_calls = 0;  // 0: no cap
  // Calls in a row that may fail (both attempts) before the run stops with an
  // error: an oracle that fails on every frame should not leave a "finished"
  // run with a model of its first frame (0: never stop).
  int max_consecutive_failures = 3;
  long checkpoint_interval = 1000;  // MD steps between checkpoints without an update (0: none)
  long log_interval = 100;          // steps between log lines
  // Checkpoints also write the factor blocks the updates added
  // (factor_journal.hpp), so that a resumed run's model is the uninterrupted
  // one bit for bit and keeps growing incrementally; without them a resumed
  // model is rebuilt at its first update and rounds differently.
  bool bitwise_resume = true;
};

struct OtfConfig {
  std::filesystem::path source;  // the config file
  md::RunConfig md;              // dynamics (engine settings, seed, steps, output intervals)
  GpTrainConfig model;
  GpTrainingSettings training;  // from `model:`, reference energies resolved
  std::shared_ptr<oracle::Oracle> oracle;
  std::string oracle_settings;  // oracle::label_settings: a resume must keep them
  OtfSettings otf;
  std::vector<CampaignStage> stages;
  bool campaign = false;  // stages from `campaign:` (else one from `structure:`)
  std::optional<std::filesystem::path> held_out;
  std::vector<Structure> held_out_frames;  // the file as read_otf_config read and checked it
  std::filesystem::path output = "otf-output";
  std::vector<int> species;  // atomic numbers of every stage (and held-out frames)
};

// Reads and validates; relative paths are resolved against the config's folder.
// Every structure file (the stages', the held-out frames) is read here, once,
// and the output folder (and every folder above it) is checked to be no file.
OtfConfig read_otf_config(const std::filesystem::path& path);

// No output (the folder, a file in it) may be an input (the config, a
// structure, the held-out frames), and no input may lie in the folders the
// loop empties (checkpoint/, oracle/); called by read_otf_config.
void check_otf_output_paths(const OtfConfig& config);

}  // namespace otfgp::otf
