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
#include "otfgp/gp/train_config.hpp"
#include "otfgp/md/run.hpp"
#include "otfgp/oracle/oracle.hpp"

namespace otfgp::otf {

// One stage of a campaign: MD from this structure at (T, P) for `steps` steps.
struct CampaignStage {
  std::string name;  // for logs: the structure file's stem
  std::filesystem::path structure;
  std::string format = "auto";
  double temperature = 0.0;        // K: thermostat target and initial velocities
  std::optional<double> pressure;  // GPa (npt only)
  long steps = 0;
};

struct OtfSettings {
  long check_interval = 1;  // steps between uncertainty checks
  // A frame is labelled when the largest per-atom uncertainty exceeds the
  // threshold: by default the posterior std of an atom's local energy
  // (ComputeResult::uncertainty, eV); with `normalised_threshold` that std
  // divided by the signal std σ (ComputeResult::uncertainty_normalised).
  double std_threshold = 0.02;  // eV, or dimensionless when normalised_threshold
  bool normalised_threshold = false;
  long min_steps_between_calls = 1;
  int max_sparse_per_frame = 10;  // sparse environments added per labelled frame (0: no cap)
  double sparse_residual_threshold =
      0.0;  // or every atom whose residual exceeds this (dimensionless)
  // Hyperparameters re-optimised after MD-triggered frames 1…first, then after
  // every `every`-th of them (0: never again); starting structures do not count.
  int hyperparameters_first = 5;
  int hyperparameters_every = 10;
  long max_oracle_calls = 0;        // 0: no cap
  long checkpoint_interval = 1000;  // MD steps between checkpoints without an update (0: none)
  long log_interval = 100;          // steps between log lines
  // After every checkpoint the model in memory is the one reloaded from it, so
  // that a resumed run follows the uninterrupted one bit for bit (costs one
  // rebuild of the factors from the stored frames at the next update).
  bool bitwise_resume = true;
};

struct OtfConfig {
  std::filesystem::path source;  // the config file
  md::RunConfig md;              // dynamics (engine settings, seed, steps, output intervals)
  GpTrainConfig model;
  GpTrainingSettings training;  // from `model:`, reference energies resolved
  std::shared_ptr<oracle::Oracle> oracle;
  OtfSettings otf;
  std::vector<CampaignStage> stages;
  std::optional<std::filesystem::path> held_out;
  std::filesystem::path output = "otf-output";
  std::vector<int> species;  // atomic numbers of every stage (and held-out frames)
};

// Reads and validates; relative paths are resolved against the config's folder.
OtfConfig read_otf_config(const std::filesystem::path& path);

// No output (the folder, a file in it) may be an input (the config, a
// structure, the held-out frames), and no input may lie in the folders the
// loop empties (checkpoint/, oracle/); called by read_otf_config.
void check_otf_output_paths(const OtfConfig& config);

}  // namespace otfgp::otf
