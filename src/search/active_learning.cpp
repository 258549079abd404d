// Active learning between the search's units of work: the judge, the oracle
// call (with the on-the-fly loop's retry), the held-out test of the model on
// the new frame, and the incremental update saved and reloaded from its file.

#include "otfgp/search/active_learning.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "otfgp/core/error.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/gp/hyperparameter_optimizer.hpp"
#include "otfgp/gp/model_file.hpp"
#include "otfgp/gp/training.hpp"

namespace otfgp::search {

namespace {

nlohmann::json optional_number(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

std::optional<double> number_or_null(const nlohmann::json& value) {
  if (value.is_null()) return std::nullopt;
  return value.get<double>();
}

SparseGp load_start(const ActiveLearningConfig& config) {
  if (config.training.empty()) return load_gp_model(config.model);
  std::vector<Structure> frames;
  std::vector<LabelSelection> labels;
  for (const auto& record : otf::read_training_database(config.training)) {
    frames.push_back(record.frame);
    labels.push_back(record.labels);
  }
  return load_gp_model(config.model, std::move(frames), std::move(labels));
}

}  // namespace

nlohmann::json to_json(const ActiveLearningCall& call) {
  return {{"candidate", call.candidate},
          {"step", call.step},
          {"force_std", optional_number(call.force_std)},
          {"threshold", call.threshold},
          {"novel", call.novel},
          {"audit", call.audit},
          {"minimum", call.minimum},
          {"hyperparameters", call.hyperparameters},
          {"force_rmse_before", call.force_rmse_before},
          {"force_rms", call.force_rms},
          {"sparse_added", call.sparse_added},
          {"replayed", call.replayed},
          {"error", call.error}};
}

ActiveLearningCall active_learning_call_from_json(const nlohmann::json& j) {
  ActiveLearningCall call;
  call.candidate = j.at("candidate").get<int>();
  call.step = j.at("step").get<int>();
  call.force_std = number_or_null(j.at("force_std"));
  call.threshold = j.at("threshold").get<double>();
  call.novel = j.at("novel").get<bool>();
  call.audit = j.at("audit").get<bool>();
  call.minimum = j.value("minimum", false);  // checkpoints before 2026-11-28 lack it
  call.hyperparameters = j.at("hyperparameters").get<bool>();
  call.force_rmse_before = j.at("force_rmse_before").get<double>();
  call.force_rms = j.at("force_rms").get<double>();
  call.sparse_added = j.at("sparse_added").get<int>();
  call.replayed = j.at("replayed").get<bool>();
  call.error = j.at("error").get<std::string>();
  return call;
}

ActiveLearner::ActiveLearner(const ActiveLearningConfig& config,
                             const std::filesystem::path& output)
    : config_(config),
      output_(output),
      gp_(std::make_unique<SparseGp>(load_start(config))),
      start_hyperparameters_(gp_->hyperparameters()),
      calibration_(config.calibration_frames, config.calibration_window) {
  if (!config_.oracle) throw Error("active_learning: no oracle");
  report_.model = config_.model.string();
}

void ActiveLearner::start() {
  database_ = otf::TrainingDatabase::create(output_ / "training.h5", output_ / "training.xyz");
}

nlohmann::json ActiveLearner::state() const {
  nlohmann::json history = nlohmann::json::array();
  for (const auto& call : report_.history) history.push_back(to_json(call));
  return {{"calls", report_.calls},
          {"skipped", report_.skipped},
          // null: the starting model of the config
          {"model", report_.calls > 0
                        ? nlohmann::json(std::filesystem::path(report_.model).filename().string())
                        : nlohmann::json(nullptr)},
          {"factor_files", factor_journal_.files()},
          {"calibration_sample", calibration_.to_json()},
          {"history", history}};
}

void ActiveLearner::restore(const nlohmann::json& state) {
  report_.calls = state.at("calls").get<int>();
  report_.skipped = state.at("skipped").get<int>();
  report_.history.clear();
  for (const auto& j : state.at("history")) {
    report_.history.push_back(active_learning_call_from_json(j));
  }
  calibration_.restore(state.at("calibration_sample"));
  // A search stopped between its first checkpoint and start() has no database yet.
  const bool started = report_.calls > 0 || std::filesystem::exists(output_ / "training.h5");
  database_ =
      started ? otf::TrainingDatabase::open(output_ / "training.h5", output_ / "training.xyz")
              : otf::TrainingDatabase::create(output_ / "training.h5", output_ / "training.xyz");
  if (database_->size() < report_.calls)
    throw Error(database_->path().string() + ": holds " + std::to_string(database_->size()) +
                " frames, the search checkpoint learnt " + std::to_string(report_.calls));
  if (state.at("model").is_null()) {
    gp_ = std::make_unique<SparseGp>(load_start(config_));
    report_.model = config_.model.string();
  } else {
    const auto file = output_ / state.at("model").get<std::string>();
    gp_ = std::make_unique<SparseGp>(load_gp_model(file));
    // With its blocks the model grows as the one that wrote the checkpoint.
    factor_journal_.resume(output_, state.value("factor_files", std::vector<std::string>()), *gp_);
    report_.model = file.string();
  }
}

void ActiveLearner::prune() const {
  if (!std::filesystem::exists(output_)) return;
  for (const auto& item : std::filesystem::directory_iterator(output_)) {
    const std::string name = item.path().filename().string();
    if (item.path().extension() != ".h5") continue;
    const bool old_model =
        name.rfind("model-", 0) == 0 && item.path() != std::filesystem::path(report_.model);
    const bool old_blocks = name.rfind("factors-", 0) == 0 && !factor_journal_.holds(name);
    if (old_model || old_blocks) std::filesystem::remove(item.path());
  }
}

std::string ActiveLearner::spec() const {
  return config_.spec_of(report_.model);  // the start's file until a call saved another
}

bool ActiveLearner::can_call() const {
  return report_.calls + report_.skipped < config_.max_calls;
}

bool ActiveLearner::needs_audit() const {
  for (auto call = report_.history.rbegin(); call != report_.history.rend(); ++call)
    if (call->error.empty())
      // An error at the noise level is no reason (a symmetric structure has
      // forces, and errors, of nearly zero).
      return call->force_rmse_before > config_.target_force_error * call->force_rms &&
             call->force_rmse_before > gp_->hyperparameters().force_noise;
  return false;
}

ActiveLearner::Verdict ActiveLearner::judge(const RelaxStep& step) const {
  Verdict verdict;
  const GpHyperparameters& h = gp_->hyperparameters();
  verdict.threshold =
      config_.relative ? config_.std_threshold * h.force_noise : config_.std_threshold;
  if (!step.extrapolation)
    throw Error("active_learning: the search potential reports no uncertainty");
  const double normalised = step.extrapolation->max_uncertainty / h.signal_std;
  verdict.novel = otf::novel_std(normalised);
  if (calibration_.ready()) verdict.force_std = calibration_.trigger_scale() * normalised;
  verdict.call = verdict.novel || !verdict.force_std || *verdict.force_std > verdict.threshold;
  return verdict;
}

bool ActiveLearner::label_and_learn(const Structure& structure, int candidate, int step,
                                    const Verdict& verdict) {
  ActiveLearningCall call;
  call.candidate = candidate;
  call.step = step;
  call.force_std = verdict.force_std;
  call.threshold = verdict.threshold;
  call.novel = verdict.novel;
  call.audit = verdict.audit;
  call.minimum = verdict.minimum;
  std::optional<Structure> frame;
  if (database_->size() > report_.calls) {
    frame = replayed_frame(structure, candidate);
    call.replayed = true;
  } else {
    frame = label_with_retry(structure, candidate, step, call);
    if (!frame) {
      ++report_.skipped;
      report_.history.push_back(std::move(call));
      return false;
    }
    call.error.clear();
  }

  // The frame tests the model before it learns it: its errors join the
  // force-std calibration (normalised std, as in otf) and give the honest
  // test error.
  const DescriptorValues values = gp_->describe(*frame, true);
  call.force_rmse_before = otf::force_rmse(calibration_.test(*gp_, *frame, values));
  call.force_rms = std::sqrt(frame->forces->squaredNorm() / (3.0 * frame->size()));

  if (!call.replayed) {
    otf::TrainingRecord record;
    record.frame = *frame;
    record.stage = candidate;
    record.step = step;
    record.max_std =
        verdict.force_std ? *verdict.force_std : std::numeric_limits<double>::infinity();
    database_->append(record);
  }

  learn(*frame, values, call);
  logger().info(
      "active learning: labelled candidate {} at step {} ({}; threshold {:.4f} eV/Å): force RMSE "
      "before learning {:.4f} eV/Å (force RMS {:.4f}), {} sparse environments added{}, {} calls",
      candidate, step,
      call.novel       ? std::string("novel atom")
      : call.minimum   ? std::string("minimum")
      : call.audit     ? fmt::format("audit, force std {:.4f} eV/Å", call.force_std.value_or(0.0))
      : call.force_std ? fmt::format("force std {:.4f} eV/Å", *call.force_std)
                       : std::string("calibrating"),
      call.threshold, call.force_rmse_before, call.force_rms, call.sparse_added,
      call.hyperparameters ? ", hyperparameters re-optimised" : "", report_.calls);
  if (call.replayed)
    logger().info("active learning: frame {} taken from {} (labelled before the interruption)",
                  report_.calls, database_->path().string());
  report_.history.push_back(std::move(call));
  return true;
}

const Structure& ActiveLearner::last_frame() const {
  if (report_.calls == 0) throw Error("active_learning: no frame was learnt yet");
  return database_->records()[static_cast<std::size_t>(report_.calls) - 1].frame;
}

Structure ActiveLearner::replayed_frame(const Structure& structure, int candidate) const {
  // Labelled before an interruption, not yet learnt by the checkpointed
  // model: the same structure again (the search is deterministic).
  Structure frame = database_->records()[static_cast<std::size_t>(report_.calls)].frame;
  if (frame.size() != structure.size() ||
      (frame.positions - structure.positions).cwiseAbs().maxCoeff() > 1e-8 ||
      (frame.cell - structure.cell).cwiseAbs().maxCoeff() > 1e-8)
    throw Error(database_->path().string() + ": frame " + std::to_string(report_.calls + 1) +
                " is not the structure the resumed search labels now (candidate " +
                std::to_string(candidate) + "); was the config changed?");
  return frame;
}

std::optional<Structure> ActiveLearner::label_with_retry(const Structure& structure, int candidate,
                                                         int step, ActiveLearningCall& call) const {
  std::optional<Structure> frame;
  const auto workdir = output_ / "oracle" / fmt::format("call{:04d}", report_.calls + 1);
  for (int attempt = 0; attempt < 2 && !frame; ++attempt) {
    try {
      Structure labelled = config_.oracle->label(structure, workdir, attempt);
      if (!labelled.energy || !labelled.forces)
        throw oracle::OracleFailure(oracle::FailureKind::unparsable_output,
                                    "the oracle returned no energy or forces");
      frame = std::move(labelled);
    } catch (const Error& error) {
      call.error = error.what();
      logger().warn("active learning: oracle on candidate {} step {} (attempt {}) failed: {}",
                    candidate, step, attempt + 1, error.what());
    }
  }
  return frame;
}

void ActiveLearner::learn(const Structure& frame, const DescriptorValues& values,
                          ActiveLearningCall& call) {
  const std::vector<int> atoms =
      gp_->least_represented_atoms(values, config_.max_sparse_per_frame, 0.0);
  call.sparse_added = gp_->add_sparse_atoms(values, gp_->num_frames(), atoms, 1e-8);
  gp_->add_frame(frame, values);
  ++report_.calls;
  // otf's schedule: after labelled frames 1 … first, then every `every`-th.
  const int k = report_.calls;
  const int first = config_.hyperparameters_first, every = config_.hyperparameters_every;
  call.hyperparameters = k <= first || (every > 0 && k > first && (k - first) % every == 0);
  // From the current values and from the starting model's (otf's two starts):
  // a search from values fitted to the first labelled frames can stay in their
  // basin of the likelihood.
  if (call.hyperparameters) optimize_hyperparameters_two_starts(*gp_, start_hyperparameters_);
  save_model();
}

void ActiveLearner::save_model() {
  const auto file = output_ / fmt::format("model-{:04d}.h5", report_.calls);
  save_gp_model(file, *gp_);
  // The blocks this update added: a resumed search's model grows as this one.
  factor_journal_.write(output_, fmt::format("factors-{:04d}.h5", report_.calls), *gp_);
  report_.model = file.string();
}

}  // namespace otfgp::search
