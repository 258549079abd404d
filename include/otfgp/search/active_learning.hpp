#pragma once
// Active learning during a crystal structure search (docs/search.md "Active
// learning"): the search relaxes on a GP; between units of work, a candidate
// whose current structure has a model force std above the threshold (the
// on-the-fly loop's vocabulary: a·n in eV/Å, a from the online calibration
// of otf/online_calibration.hpp, n the largest per-atom normalised std;
// against std_threshold_relative × the GP force noise or an absolute
// std_threshold), or an atom the model flags as novel, is labelled by the
// oracle, appended to output/training.h5 (otf::TrainingDatabase, on disk
// before the model uses it) and learnt incrementally. The updated model is
// saved atomically as output/model-NNNN.h5 (NNNN = frames labelled), with
// the factor blocks the update added in output/factors-NNNN.h5
// (gp/factor_journal.hpp), so a resumed search continues with exactly the
// model the uninterrupted one had. Units: eV, Å.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "otfgp/analysis/relax.hpp"
#include "otfgp/core/structure.hpp"
#include "otfgp/gp/factor_journal.hpp"
#include "otfgp/gp/sparse_gp.hpp"
#include "otfgp/oracle/oracle.hpp"
#include "otfgp/otf/online_calibration.hpp"
#include "otfgp/otf/training_database.hpp"

namespace otfgp::search {

struct ActiveLearningConfig {
  std::shared_ptr<oracle::Oracle> oracle;
  std::string oracle_settings;  // oracle::label_settings: a resumed search must keep them
  std::filesystem::path model;  // the starting GP model file
  // The gp: spec options given with it (",repulsion=none,novelty_margin=0.1";
  // docs/gp.md), kept for every model the search saves.
  std::string model_options;
  std::string spec_of(const std::filesystem::path& file) const {
    return "gp:" + file.string() + model_options;
  }
  std::filesystem::path training;  // optional: an otf training database with the model's frames
  bool relative = true;            // std_threshold × the force noise, else eV/Å
  double std_threshold = 2.0;
  int max_calls = 20;
  int check_interval = 10;        // relaxation steps between checks
  int max_sparse_per_frame = 10;  // 0: no cap
  int calibration_frames = 2;     // labelled frames before the force std is calibrated
  int calibration_window = 20;
  // Audits (as otf's): while the model's force RMSE on the last labelled
  // frame, before learning it, exceeds this × the frame's force RMS (and the
  // GP's force noise), each
  // check labels the most uncertain candidate even below the threshold.
  double target_force_error = 0.1;
  // Hyperparameters re-optimised (maximum likelihood) after labelled frames
  // 1 … first, then after every `every`-th (0: never again), as otf does:
  // searched from the current values and from the starting model's, the
  // higher likelihood kept (optimize_hyperparameters_two_starts).
  int hyperparameters_first = 5;
  int hyperparameters_every = 10;
  // Every minimum the model relaxes a candidate into is labelled once (the
  // candidate relaxes on if the updated model has forces there).
  bool label_minima = true;
};

// One labelled (or skipped) candidate structure.
struct ActiveLearningCall {
  int candidate = 0;
  int step = 0;                     // the candidate's relaxation step
  std::optional<double> force_std;  // eV/Å, a·n_max; empty while calibrating or for a novel atom
  double threshold = 0.0;           // eV/Å at the time
  bool novel = false;
  bool audit = false;              // labelled by an audit, below the threshold
  bool minimum = false;            // a converged minimum (label_minima)
  bool hyperparameters = false;    // re-optimised after learning it
  double force_rmse_before = 0.0;  // eV/Å, the model's error on the frame before learning it
  double force_rms = 0.0;          // eV/Å, RMS of the oracle's force components
  int sparse_added = 0;
  bool replayed = false;  // taken from the database (labelled before an interruption)
  std::string error;      // why the oracle failed (skipped); empty when learnt
};

// One call as JSON (summary.json and the search checkpoint) and back; from_json
// throws nlohmann::json errors on a malformed entry.
nlohmann::json to_json(const ActiveLearningCall& call);
ActiveLearningCall active_learning_call_from_json(const nlohmann::json& j);

struct ActiveLearningReport {
  int calls = 0;      // learnt frames
  int skipped = 0;    // oracle failures
  std::string model;  // the current model file
  std::vector<ActiveLearningCall> history;
};

class ActiveLearner {
 public:
  // Loads the starting model (throws otfgp::Error naming the file); output is
  // the search's folder.
  ActiveLearner(const ActiveLearningConfig& config, const std::filesystem::path& output);

  // A fresh search: a new, empty training database (replacing any old one).
  void start();
  // From a checkpoint's state(): the model it names, the calibration, the
  // history, and the database (which may hold frames labelled after it).
  void restore(const nlohmann::json& state);
  nlohmann::json state() const;
  // Removes model files other than the current one and factor-block files
  // its blocks are not in (after a checkpoint names them).
  void prune() const;

  // The potential spec of the current model ("gp:FILE").
  std::string spec() const;
  bool can_call() const;
  // The last labelled frame was predicted worse than target_force_error × its force RMS.
  bool needs_audit() const;
  struct Verdict {
    bool call = false;
    bool novel = false;
    bool audit = false;
    bool minimum = false;
    std::optional<double> force_std;  // eV/Å; empty while uncalibrated
    double threshold = 0.0;
  };
  // Judges a relaxation point evaluated with the current model.
  Verdict judge(const RelaxStep& step) const;
  // Labels `structure`, tests the model on it, appends it to the database and
  // learns it. True when the model changed (false: the oracle failed twice).
  bool label_and_learn(const Structure& structure, int candidate, int step, const Verdict& verdict);

  const SparseGp& model() const { return *gp_; }
  const ActiveLearningReport& report() const { return report_; }
  // The frame of the last call learnt, with the oracle's labels.
  const Structure& last_frame() const;

 private:
  // The frame labelled before an interruption that this call repeats; throws
  // when it is not `structure` (the config changed).
  Structure replayed_frame(const Structure& structure, int candidate) const;
  // The oracle's label, with one retry; empty (the error in `call`) when both fail.
  std::optional<Structure> label_with_retry(const Structure& structure, int candidate, int step,
                                            ActiveLearningCall& call) const;
  // Adds the frame and its sparse environments, re-optimises the
  // hyperparameters on otf's schedule, saves and reloads the model.
  void learn(const Structure& frame, const DescriptorValues& values, ActiveLearningCall& call);
  void save_model();

  ActiveLearningConfig config_;
  std::filesystem::path output_;
  std::unique_ptr<SparseGp> gp_;
  FactorJournal factor_journal_;  // the model's blocks beside its files (factor_journal.hpp)
  // The starting model's: the second start of each hyperparameter update.
  GpHyperparameters start_hyperparameters_;
  std::optional<otf::TrainingDatabase> database_;
  otf::OnlineCalibration calibration_;
  ActiveLearningReport report_;
};

}  // namespace otfgp::search
