#include "otfgp/otf/otf_loop.hpp"

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "otfgp/analysis/relax.hpp"
#include "otfgp/core/distance_check.hpp"
#include "otfgp/core/elements.hpp"
#include "otfgp/core/environment_error.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/extxyz.hpp"
#include "otfgp/core/fnv1a.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/output_lock.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/core/version.hpp"
#include "otfgp/gp/factor_journal.hpp"
#include "otfgp/gp/gp_potential.hpp"
#include "otfgp/gp/hyperparameter_optimizer.hpp"
#include "otfgp/gp/model_file.hpp"
#include "otfgp/gp/reference_energies.hpp"
#include "otfgp/gp/robust_forces.hpp"
#include "otfgp/gp/validation.hpp"
#include "otfgp/md/restart.hpp"
#include "otfgp/oracle/oracle_settings.hpp"
#include "otfgp/otf/online_calibration.hpp"
#include "otfgp/otf/otf_plots.hpp"
#include "otfgp/otf/output_folder.hpp"
#include "otfgp/otf/training_database.hpp"
#include "otfgp/potentials/evaluate.hpp"

namespace otfgp::otf {

namespace {

// The stop after otf.max_consecutive_failures skipped calls: summary.json
// records it, and --resume then makes those calls again (the oracle mended).
class OracleFailuresStop : public Error {
 public:
  OracleFailuresStop(const std::string& message, int calls) : Error(message), calls_(calls) {}
  int calls() const { return calls_; }

 private:
  int calls_;
};

// summary.json's key for that stop.
const char* const failures_stop_key = "oracle_failed_in_a_row";

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

constexpr long no_call = std::numeric_limits<long>::min() / 2;

// The GP potential with its compute time split by whether the uncertainty was
// requested, so that the summary can report the uncertainty's cost.
class TimedPotential final : public Potential {
 public:
  explicit TimedPotential(std::shared_ptr<GpPotential> inner) : inner_(std::move(inner)) {}
  GpPotential& inner() { return *inner_; }
  std::string spec() const override { return inner_->spec(); }
  double cutoff() const override { return inner_->cutoff(); }
  std::vector<int> elements() const override { return inner_->elements(); }
  void bind(const std::vector<int>& species) override { inner_->bind(species); }
  bool provides_uncertainty() const override { return true; }
  std::optional<double> force_noise() const override { return inner_->force_noise(); }
  ComputeResult compute(AtomState& state, const NeighborList& list,
                        const ComputeRequest& request) override {
    if (request.uncertainty && calls_with_uncertainty % 50 == 0) {
      // Every 50th checked step also times a plain call (its result is
      // overwritten below), so that the uncertainty's cost is known even when
      // every step is checked.
      const auto plain_start = Clock::now();
      inner_->compute(state, list, ComputeRequest{request.per_atom_energy, false});
      Kokkos::fence();
      plain += seconds_since(plain_start);
      plain_calls += 1;
      calibration += seconds_since(plain_start);
    }
    const auto start = Clock::now();
    ComputeResult result = inner_->compute(state, list, request);
    Kokkos::fence();
    (request.uncertainty ? with_uncertainty : plain) += seconds_since(start);
    (request.uncertainty ? calls_with_uncertainty : plain_calls) += 1;
    return result;
  }
  double with_uncertainty = 0.0, plain = 0.0;
  double calibration = 0.0;  // the extra plain calls themselves (not MD)
  long calls_with_uncertainty = 0, plain_calls = 0;

 private:
  std::shared_ptr<GpPotential> inner_;
};

// The model's energies, forces and stress alone, for the checks and the
// held-out errors: without the variance factors, whose truncation and upload
// cost O(M²(D + R)) per construction, and without the uncertainty (the
// results are those of the full potential bit for bit).
class MeanPotential final : public Potential {
 public:
  explicit MeanPotential(MappedGp model) {
    for (Eigen::MatrixXd& factor : model.variance_factor) factor.resize(0, 0);
    model.energy_variance_factor.resize(0, 0);
    inner_ = std::make_unique<GpPotential>(std::move(model), "gp:otf");
  }
  std::string spec() const override { return inner_->spec(); }
  double cutoff() const override { return inner_->cutoff(); }
  std::vector<int> elements() const override { return inner_->elements(); }
  void bind(const std::vector<int>& species) override { inner_->bind(species); }
  bool provides_uncertainty() const override { return false; }
  ComputeResult compute(AtomState& state, const NeighborList& list,
                        const ComputeRequest& request) override {
    return inner_->compute(state, list, ComputeRequest{request.per_atom_energy, false});
  }

 private:
  std::unique_ptr<GpPotential> inner_;
};

struct Timings {
  double md = 0, uncertainty = 0, oracle = 0, update = 0, checkpoint = 0, held_out = 0;
  nlohmann::json to_json() const {
    return {{"md", md},         {"uncertainty", uncertainty}, {"oracle", oracle},
            {"update", update}, {"checkpoint", checkpoint},   {"held_out", held_out}};
  }
  static Timings from_json(const nlohmann::json& j) {
    Timings t;
    t.md = j.at("md");
    t.uncertainty = j.at("uncertainty");
    t.oracle = j.at("oracle");
    t.update = j.at("update");
    t.checkpoint = j.at("checkpoint");
    t.held_out = j.at("held_out");
    return t;
  }
};

// An output file the loop appends to; its length at each checkpoint is kept,
// so that a resumed run first cuts off what was written after it.
class AppendFile {
 public:
  void open(const std::filesystem::path& path, const std::string& header,
            std::optional<std::uintmax_t> length) {
    path_ = path;
    if (length) {
      if (!std::filesystem::exists(path) || std::filesystem::file_size(path) < *length)
        throw Error(path.string() + ": shorter than at the checkpoint; cannot resume");
      std::filesystem::resize_file(path, *length);
    } else {
      std::ofstream(path, std::ios::trunc) << header;
    }
    stream_.open(path, std::ios::app);
    if (!stream_) throw Error(path.string() + ": cannot open for writing");
  }
  std::ofstream& stream() { return stream_; }
  std::uintmax_t flushed_length() {
    stream_.flush();
    if (!stream_) throw Error(path_.string() + ": write failed");
    return std::filesystem::file_size(path_);
  }

 private:
  std::filesystem::path path_;
  std::ofstream stream_;
};

std::string number(double value, int digits = 6) {
  return fmt::format("{:.{}g}", value, digits);
}

// A structure's atoms, cell and periodicity (and masses, where a `masses`
// column gives them) as a short text that changes with any of them (not with
// the file's name, place or format): a moved or copied run folder resumes, an
// edited structure is noticed.
std::string content_fingerprint(const Structure& s) {
  const bool masses = find_extra_property(s, "masses") != nullptr;
  const Eigen::MatrixXd mass = masses ? real_property(s, "masses") : Eigen::MatrixXd();
  std::string text;
  for (int i = 0; i < s.size(); ++i) {
    text += std::to_string(s.numbers[i]);
    for (int d = 0; d < 3; ++d) text += " " + format_significant(s.positions(i, d), 17);
    if (masses) text += " m " + format_significant(mass(i, 0), 17);
    text += "\n";
  }
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) text += format_significant(s.cell(a, b), 17) + " ";
  for (bool periodic : s.pbc) text += periodic ? "T" : "F";
  return fmt::format("{}, {} atoms, fnv1a64 {:016x}", s.formula(), s.size(), fnv1a(text));
}

// The md: settings the saved MD state depends on: md::dynamics_settings less
// what each stage sets (temperature, pressure) and the potential (the loop's).
std::string md_state_settings(const md::RunConfig& md) {
  std::string text;
  for (const auto& [key, value] : md::settings_lines(md::dynamics_settings(md)))
    if (key != "potential" && key != "temperature" && key != "barostat.pressure")
      text += "md." + key + ": " + value + "\n";
  return text;
}

// The model: settings a checkpoint's model is built on (descriptor, given
// reference energies and kernel); hyperparameter starts and bounds, labels and the sparse selection
// only steer later updates.
std::string model_state_settings(const GpTrainConfig& model) {
  const auto number = [](double value) { return format_significant(value, 17); };
  const auto symbol = [](int z) { return std::string(element(z).symbol); };
  std::string text;
  const auto line = [&](const std::string& key, const std::string& value) {
    text += "model." + key + ": " + value + "\n";
  };
  const B2Settings& d = model.descriptor;
  line("species", symbols_text(d.species));
  line("descriptor.n_max", std::to_string(d.n_max));
  line("descriptor.l_max", std::to_string(d.l_max));
  line("descriptor.r_min", number(d.r_min));
  line("descriptor.cutoff", number(d.cutoff));
  for (const auto& [pair, cutoff] : d.pair_cutoffs)
    line("descriptor.pair_cutoffs." + symbol(pair.first) + "-" + symbol(pair.second),
         number(cutoff));
  if (d.embedded()) {
    std::string rows;
    for (Eigen::Index r = 0; r < d.embedding.rows(); ++r)
      for (Eigen::Index c = 0; c < d.embedding.cols(); ++c)
        rows += (c == 0 ? (r == 0 ? "[" : "; ") : " ") + number(d.embedding(r, c));
    line("descriptor.embedding", rows + "]");
  }
  // Given energies are subtracted from every label the model learns (absent
  // when fitted, the default, as in checkpoints written before 2026-12-01).
  if (!model.reference_energies.empty()) {
    std::string energies;
    for (const auto& [z, energy] : model.reference_energies)
      energies += (energies.empty() ? "" : ", ") + symbol(z) + " " + number(energy);
    line("reference_energies", energies);
  }
  line("kernel.power", std::to_string(model.kernel_power));
  line("kernel.two_body", number(model.two_body_weight));
  line("kernel.three_body", number(model.three_body_weight));
  return text;
}

// After an on-the-fly update inside the MD: the potential energy's change at the
// current frame, and the velocities' scale that keeps the total energy
// (1 without otf.keep_total_energy).
struct EnergyKept {
  double change = std::numeric_limits<double>::quiet_NaN();  // eV
  double velocity_scale = std::numeric_limits<double>::quiet_NaN();
};

class OtfLoop final : public md::StepObserver {
 public:
  OtfLoop(const OtfConfig& config, bool resume);
  nlohmann::json run(md::StepObserver* progress);

  long interval() const override { return config_.otf.check_interval; }
  bool observe(md::Engine& engine) override;

 private:
  std::filesystem::path checkpoint_dir() const { return config_.output / "checkpoint"; }
  void start_fresh();
  void resume();
  void check_finished_stage_steps(const std::filesystem::path& state_path) const;
  void read_skips_after_checkpoint();
  // --resume of a folder without a checkpoint: starts from the beginning,
  // replaying the frames its database holds.
  void start_without_checkpoint(const std::filesystem::path& state_path);
  // The checkpoint's state, refused when another format or when a setting
  // that decides the run changed.
  nlohmann::json read_checkpoint_state(const std::filesystem::path& state_path) const;
  std::unique_ptr<md::Engine> make_engine(const CampaignStage& stage, int index);
  // The CSV logs and the trajectory, cut back to the checkpoint's lengths when resuming.
  void open_logs();
  // MD of one stage with the loop observing it; throws InterruptedError (after
  // writing the summary) when a signal stopped it.
  void run_stage(const CampaignStage& stage, md::StepObserver* progress);
  // A relax stage: relaxations on the model from the stage's structure, each
  // minimum (or the first point where the model is uncertain) labelled (call
  // step = round) and learnt, from round relax_round_ + 1.
  void run_relax_stage(const CampaignStage& stage);
  // One round's relaxation on the model from `start`, stopped where the model's
  // force std first exceeds the threshold when `guarded`; the point to label.
  struct RelaxRound {
    Structure point;  // label() sends it without the model's labels
    bool uncertain;   // stopped by the guard, not at a minimum
  };
  RelaxRound relax_on_model(const CampaignStage& stage, const RelaxOptions& options,
                            const Structure& start, int round, bool guarded);
  // Whether the oracle's labels at a round's point confirm it as the model's
  // minimum of the stage (logged, and warned about after the last round).
  bool relax_point_confirmed(const CampaignStage& stage, int round, const TrainingRecord& record,
                             double rmse_before, bool uncertain) const;
  // The final model, summary and plots.
  void write_final_outputs();
  // Labels the MD's current frame (or takes it from the database when replaying) and
  // learns it: true when it was learnt.
  bool call_oracle(md::Engine& engine, long step, double max_std,
                   const Eigen::VectorXd* trigger_std);
  // The MD's per-atom normalised std of the last compute when its variance is
  // truncated (otf.variance_rank below a species' sparse count), else nothing:
  // the exact one is what the calibration computes anyway.
  std::optional<Eigen::VectorXd> truncated_trigger_std(const md::Engine& engine) const;
  // Labels a frame (or, replaying after a resume, takes it from the database)
  // and appends it; nullopt when the oracle failed twice (logged and counted).
  std::optional<TrainingRecord> label(const Structure& frame, long step, double max_std,
                                      std::string& result);
  // The oracle's labels of `frame`, a second attempt after a failed first;
  // nullopt when both failed (`result`: the last failure's kind).
  std::optional<Structure> call_with_retry(const Structure& frame, long step, std::string& result);
  // A call whose attempts both failed: logged, written to calls.csv, and the
  // run stopped after otf.max_consecutive_failures of them in a row.
  void skip_call(long step, double max_std, const std::string& result, Clock::time_point start);
  // A signal stopped the oracle's program: what --resume then does, added to the message.
  InterruptedError stopped_in_call(const InterruptedError& interrupted, long step) const;
  // `call`: the oracle call's number (the starting structures are logged after all are labelled).
  void log_call(long call, const TrainingRecord& record, const std::string& result,
                double oracle_seconds, double update_seconds,
                double rmse_before = std::numeric_limits<double>::quiet_NaN(),
                const EnergyKept& kept = {});
  long stage_steps_before(int stage) const;
  // Before an MD frame's call: a warning (and a count in summary.json) when two
  // atoms are closer than md.checks.min_distance or half their covalent radii.
  void warn_close_contact(const md::Engine& engine, long step);
  // Whether `frame` is a starting structure the database holds (labelled
  // before any MD, up to lattice vectors).
  bool labelled_start(const Structure& frame) const;
  void label_starting_structures();
  // A stage added to the campaign since the run began (--resume): its
  // starting structure was not labelled with the others before any MD, so it
  // is now, before the stage's velocities are drawn (a call at its step 0
  // would rescale them to keep the total energy across a model that had never
  // seen the structure: 0.9 for 8 rattled Si atoms).
  void label_added_start(const CampaignStage& stage);
  // A labelled starting structure learnt, logged as oracle call `call`, and
  // the held-out frames evaluated.
  void learn_start(const TrainingRecord& record, long call, const std::string& result,
                   double oracle_seconds);
  // `values`: the frame's descriptors with gradients when computed already.
  void learn(const TrainingRecord& record, const DescriptorValues* values = nullptr);
  void remap();
  // After an update: the MD's total energy kept (otf.keep_total_energy).
  EnergyKept after_update(md::Engine& engine, const md::ThermoSample& before);
  MappedGp mapped() const;                           // the model in the form MD evaluates
  double force_error(const Structure& frame) const;  // mean |ΔF| of the current model (eV/Å)
  // The record with robust force weights (otf.robust_force_threshold) from the
  // current model's force error per atom on its frame, before it is learnt.
  TrainingRecord with_robust_weights(TrainingRecord record,
                                     const Eigen::VectorXd& atom_error) const;
  void check_update(const TrainingRecord& record);
  // oracle->check on the run's elements; a refusal names the config and the
  // first stage whose structure holds an element the oracle cannot label.
  void check_oracle_species() const;
  // Why a frame just learnt is still not fitted (check_update's error); error
  // and scale: the mean |ΔF| on it and its mean |F| (eV/Å).
  std::string unfitted_frame_message(const Structure& frame, double error, double scale) const;
  void evaluate_held_out();
  void checkpoint(md::Engine* engine, bool model_changed);
  void log_line(md::Engine& engine, double max_std);
  double threshold() const;  // in the units of max_uncertainty()
  // The trigger's value for the largest per-atom normalised std: a force std
  // (eV/Å) through the calibration (infinite before it is ready), or itself
  // with otf.std_threshold_normalised.
  double trigger_std(double largest_normalised) const;
  // The largest per-atom uncertainty of the last compute in the threshold's
  // units; +∞ while the force calibration is not fitted (every check calls).
  double max_uncertainty(const md::Engine& engine) const;
  nlohmann::json summary(bool finished) const;
  // `stop`: how an unfinished run ended ({"error": …} or {"interrupted": …}),
  // merged into the summary; the held-out errors are evaluated only without it.
  void write_unfinished_summary(const nlohmann::json& why);
  void write_summary(bool finished, const nlohmann::json& stop = nullptr);
  // A warning when the run ends with its last test error above the target.
  void warn_unfitted() const;
  // The settings the saved state of stages 0 … stages − 1 depends on (md:
  // dynamics, each begun stage's structure, temperature and pressure, the
  // model's descriptor and kernel), one `key: value` per line, as
  // md::dynamics_settings writes them; stored in state.json and compared on
  // --resume (md::first_setting_change), so that a changed key is named. A
  // stage's structure is given by its content (by_path: by its file's
  // absolute path, the form of checkpoints written before 2026-11-29).
  // `with_oracle`: the oracle's label settings too (checkpoints written before
  // 2026-12-01 have none).
  // `campaign_keys`: the stages' keys as a campaign's (campaign[K].temperature)
  // or as a one-structure run's (md.temperature).
  std::string state_settings(int stages, bool campaign_keys, bool by_path = false,
                             bool with_oracle = true) const;
  std::string stage_key(int stage, const std::string& key) const;
  void check_same_settings(const nlohmann::json& state) const;

  const OtfConfig& config_;
  bool resuming_;
  std::optional<TrainingDatabase> database_;
  std::unique_ptr<SparseGp> gp_;
  std::shared_ptr<GpPotential> gp_potential_;
  std::shared_ptr<TimedPotential> potential_;

  // Loop state (checkpointed).
  int stage_ = 0;
  int labelled_ = 0;  // frames labelled (or replayed) so far: the next database index
  int md_frames_learnt_ =
      0;  // learnt frames the MD's uncertainty asked for (the schedule's position)
  std::optional<Eigen::VectorXd> reference_energies_;
  long last_call_step_ = no_call;
  long oracle_calls_ = 0, skipped_calls_ = 0, replayed_calls_ = 0;
  // MD frames labelled with atoms closer than md.checks.min_distance.
  long close_contact_calls_ = 0;
  double last_optimise_seconds_ = 0.0;  // the last hyperparameter optimisation's wall time
  int consecutive_failures_ = 0;  // calls in a row skipped (not checkpointed: a resume starts at 0)
  long steps_before_stage_ = 0;   // MD steps of the finished stages
  int relax_round_ = 0;           // the current relax stage's rounds done (otf.relax_rounds: all)
  int hyperparameter_updates_ = 0;
  Timings timings_;
  std::string model_file_;        // in checkpoint_dir(), of the current model
  FactorJournal factor_journal_;  // the current model's blocks (factor_journal.hpp)
  std::optional<md::RestartData> restart_;

  AppendFile uncertainty_log_, calls_log_, held_out_log_, trajectory_;
  bool calls_energy_columns_ = true;  // calls.csv has energy_change, velocity_scale
  std::map<std::string, std::uintmax_t> resume_lengths_;
  md::Engine* engine_ = nullptr;
  Clock::time_point md_clock_;
  double md_excluded_ = 0;  // loop work inside observe(), not MD
  long checkpoints_ = 0;
  bool interrupted_ = false;
  std::string last_checkpoint_;  // "stage S, step N" of state.json, for messages
  double last_max_std_ = 0.0;
  std::string last_failure_;     // the message of the last failed oracle attempt
  double oracle_seconds_ = 0.0;  // the last label()'s time in the oracle (0: replayed)
  // (stage, step) of the calls skipped after the checkpoint a resume starts from.
  std::set<std::pair<int, long>> skipped_before_resume_;
  // The model's force RMSE on the last MD frame it was sent before learning it,
  // over that frame's force RMS (0 until one is known): drives the audits.
  double last_error_ratio_ = 0.0;
  OnlineCalibration calibration_;
};

OtfLoop::OtfLoop(const OtfConfig& config, bool resume)
    : config_(config),
      resuming_(resume),
      calibration_(config.otf.calibration_frames, config.otf.calibration_window) {}

std::unique_ptr<md::Engine> OtfLoop::make_engine(const CampaignStage& stage, int index) {
  md::EngineSettings settings = config_.md.engine;
  if (settings.thermostat.type != md::ThermostatType::none)
    settings.thermostat.temperature = stage.temperature;
  if (stage.pressure) settings.barostat.pressure = *stage.pressure;
  settings.seed = config_.md.seed + static_cast<std::uint64_t>(index);
  AtomState state = AtomState::from_structure(stage.start);
  state.take_masses(stage.start);
  md::maxwell_boltzmann(state, stage.initial_temperature, settings.seed);
  auto engine = std::make_unique<md::Engine>(std::move(state), potential_, settings);
  engine->set_compute_request({false, true}, config_.otf.check_interval);
  return engine;
}

void OtfLoop::start_fresh() {
  // Nothing of an earlier run may stay beside this one's outputs (its model
  // and summary would read as this run's result), and nothing the loop did not
  // write may be removed or overwritten.
  check_output_folder(config_.output);
  // An unfinished run's frames may be hours of DFT: a fresh run does not
  // delete them unasked.
  if (holds_unfinished_otf_run(config_.output))
    throw Error("output folder '" + config_.output.string() +
                "' holds an unfinished otf run (stopped, failed or killed; its summary.json does "
                "not say finished): --resume continues it from its checkpoint and training "
                "frames; to start over, delete the folder or give another output folder");
  make_output_folder(config_.output, "output folder");
  remove_earlier_run(config_.output);
  // The database first: it marks the folder as an otf run's (output_folder.hpp).
  database_ =
      TrainingDatabase::create(config_.output / "training.h5", config_.output / "training.xyz");
  std::filesystem::create_directories(checkpoint_dir());
}

void OtfLoop::start_without_checkpoint(const std::filesystem::path& state_path) {
  // A run killed before its first checkpoint has a database to replay; a
  // folder with none at all is more likely a mistyped output.
  if (std::filesystem::exists(config_.output / "training.h5"))
    logger().info(
        "{}: no checkpoint yet; starting from the beginning, replaying the frames "
        "labelled so far",
        state_path.string());
  else
    logger().warn(
        "--resume: output folder '{}' holds no otf run (no training.h5): starting a "
        "fresh run",
        config_.output.string());
  resuming_ = false;
  // Keep the database: frames labelled before the first checkpoint are replayed from it.
  check_output_folder(config_.output);
  make_output_folder(config_.output, "output folder");
  remove_final_outputs(config_.output);
  const auto path = config_.output / "training.h5";
  database_ = std::filesystem::exists(path)
                  ? TrainingDatabase::open(path, config_.output / "training.xyz")
                  : TrainingDatabase::create(path, config_.output / "training.xyz");
  std::filesystem::create_directories(checkpoint_dir());
}

nlohmann::json OtfLoop::read_checkpoint_state(const std::filesystem::path& state_path) const {
  nlohmann::json state;
  try {
    std::ifstream(state_path) >> state;
  } catch (const std::exception& error) {
    throw Error(state_path.string() + ": unreadable checkpoint (" + error.what() + ")");
  }
  if (state.value("format_version", 0) != checkpoint_format_version)
    throw Error(state_path.string() + ": checkpoint format_version " +
                std::to_string(state.value("format_version", 0)) + ", this build reads " +
                std::to_string(checkpoint_format_version));
  if (state.at("config").get<std::string>() != std::filesystem::absolute(config_.source).string())
    logger().warn("resuming a run started with {}", state.at("config").get<std::string>());
  check_same_settings(state);
  const int checkpoint_stage = state.at("stage").get<int>();
  const long checkpoint_step = state.value("step", 0L);
  if (checkpoint_stage < static_cast<int>(config_.stages.size()) &&
      !config_.stages[checkpoint_stage].relax &&
      checkpoint_step > config_.stages[checkpoint_stage].steps)
    throw Error(fmt::format(
        "{}: cannot resume from {}: it is at step {} of stage {}, beyond the config's {} steps "
        "for that stage; md.steps (or the stage's steps) may grow, not shrink below a checkpoint: "
        "set at least {} to continue",
        config_.source.string(), state_path.string(), checkpoint_step, checkpoint_stage + 1,
        config_.stages[checkpoint_stage].steps, checkpoint_step));
  return state;
}

// The calls skipped after the checkpoint: calls.csv's rows past the length it
// records (skip_call flushes each). label() replays them as skips.
void OtfLoop::read_skips_after_checkpoint() {
  const auto length = resume_lengths_.find("calls");
  std::ifstream in(config_.output / "calls.csv");
  if (length == resume_lengths_.end() || !in) return;
  in.seekg(static_cast<std::streamoff>(length->second));
  std::vector<std::pair<int, long>> skips;  // (stage, step) in the order they were made
  for (std::string line; std::getline(in, line);) {
    std::istringstream row(line);
    std::array<std::string, 5> cells;  // call, stage (from 1), step, max_std, result
    for (std::string& cell : cells) std::getline(row, cell, ',');
    if (cells[4].rfind("skipped", 0) != 0) continue;
    try {
      skips.emplace_back(std::stoi(cells[1]) - 1, std::stol(cells[2]));
    } catch (const std::logic_error&) {
      // A row cut short by the kill: that call is made again.
    }
  }
  // After the stop for failures in a row the oracle was mended (or not): the
  // calls of that streak, the last skips, are made again, not replayed.
  try {
    const auto stopped = nlohmann::json::parse(std::ifstream(config_.output / "summary.json"));
    if (stopped.contains(failures_stop_key)) {
      const auto streak = std::min(skips.size(), stopped.at(failures_stop_key).get<std::size_t>());
      logger().info(
          "the run stopped after {} oracle calls in a row failed: the {} of them after the "
          "checkpoint are made again",
          stopped.at(failures_stop_key).get<int>(), streak);
      skips.resize(skips.size() - streak);
    }
  } catch (const nlohmann::json::exception&) {
    // No summary (killed), or one cut short: every skip is replayed.
  }
  skipped_before_resume_.insert(skips.begin(), skips.end());
}

// The finished stages ran the steps they had then: a changed count would
// shift every later stage's total steps (calls.csv, uncertainty.csv, summary).
void OtfLoop::check_finished_stage_steps(const std::filesystem::path& state_path) const {
  const std::string where = config_.source.string() + ": cannot resume from " + state_path.string();
  if (stage_ >= static_cast<int>(config_.stages.size()))
    throw Error(fmt::format("{}: the checkpoint is in stage {}, the config has {} stage(s)", where,
                            stage_ + 1, config_.stages.size()));
  long configured = 0;
  for (int k = 0; k < stage_; ++k) configured += config_.stages[k].steps;
  if (configured != steps_before_stage_)
    throw Error(fmt::format(
        "{}: its finished {} ran {} MD steps, the config now gives {} (campaign[K].steps, or "
        "md.steps for the stages that take it): the steps of a finished stage cannot change",
        where, stage_ == 1 ? std::string("stage 1") : fmt::format("stages 1-{}", stage_),
        steps_before_stage_, configured));
}

void OtfLoop::resume() {
  const auto state_path = checkpoint_dir() / "state.json";
  if (!std::filesystem::exists(state_path)) {
    start_without_checkpoint(state_path);
    return;
  }
  const nlohmann::json state = read_checkpoint_state(state_path);
  last_checkpoint_ =
      fmt::format("stage {}, step {}", state.at("stage").get<int>() + 1, state.value("step", 0L));
  database_ =
      TrainingDatabase::open(config_.output / "training.h5", config_.output / "training.xyz");
  const int frames = state.at("frames_learnt");
  labelled_ = frames;
  if (database_->size() < frames)
    throw Error(database_->path().string() + ": holds " + std::to_string(database_->size()) +
                " frames, the checkpoint learnt from " + std::to_string(frames));
  stage_ = state.at("stage");
  last_call_step_ = state.at("last_call_step");
  last_error_ratio_ = state.at("last_error_ratio");
  oracle_calls_ = state.at("oracle_calls");
  skipped_calls_ = state.at("skipped_calls");
  close_contact_calls_ = state.value("close_contact_calls", 0L);  // absent before 2026-12-02
  replayed_calls_ = state.value("replayed_calls", 0L);
  steps_before_stage_ = state.at("steps_before_stage");
  check_finished_stage_steps(state_path);
  relax_round_ = state.value("relax_round", 0);
  hyperparameter_updates_ = state.at("hyperparameter_updates");
  timings_ = Timings::from_json(state.at("timings"));
  checkpoints_ = state.value("checkpoints", 0L);
  calibration_.restore(state.value("calibration_sample", nlohmann::json::array()));
  for (const auto& [name, length] : state.at("file_lengths").items())
    resume_lengths_[name] = length.get<std::uintmax_t>();
  read_skips_after_checkpoint();
  if (frames > 0) {
    model_file_ = state.at("model").get<std::string>();
    std::vector<Structure> stored;
    std::vector<LabelSelection> labels;
    for (int f = 0; f < frames; ++f) {
      stored.push_back(database_->records()[f].frame);
      labels.push_back(database_->records()[f].labels);
      if (!std::isnan(database_->records()[f].max_std)) ++md_frames_learnt_;
    }
    gp_ = std::make_unique<SparseGp>(
        load_gp_model(checkpoint_dir() / model_file_, std::move(stored), std::move(labels)));
    // With its blocks the model grows as the one that wrote the checkpoint;
    // without (bitwise_resume: false) it is rebuilt at its first update.
    factor_journal_.resume(checkpoint_dir(),
                           state.value("factor_files", std::vector<std::string>()), *gp_);
    remap();
  }
  if (state.contains("md") && !state.at("md").is_null())
    restart_ = md::read_restart_file(checkpoint_dir() / state.at("md").get<std::string>());
  // The run is in progress again: an earlier finish's model and summary are not its result.
  remove_final_outputs(config_.output);
  logger().info(
      "resuming from {}: stage {} of {}, {} frames learnt ({} more in the database), {} oracle "
      "calls",
      state_path.string(), stage_ + 1, config_.stages.size(), frames, database_->size() - frames,
      oracle_calls_);
}

MappedGp OtfLoop::mapped() const {
  MappedGp mapped = gp_->mapped();
  mapped.descriptor = config_.model.descriptor;
  mapped.variance_rank = config_.otf.variance_rank;
  return mapped;
}

void OtfLoop::remap() {
  MappedGp mapped = this->mapped();
  if (!gp_potential_) {
    gp_potential_ = std::make_shared<GpPotential>(std::move(mapped), "gp:otf");
    potential_ = std::make_shared<TimedPotential>(gp_potential_);
  } else {
    gp_potential_->remap(std::move(mapped));
  }
}

void OtfLoop::learn(const TrainingRecord& record, const DescriptorValues* given) {
  const auto start = Clock::now();
  const Structure& frame = record.frame;
  if (!gp_) {
    const Eigen::VectorXd reference =
        reference_energies_ ? *reference_energies_
                            : fit_reference_energies({frame}, config_.model.descriptor.species);
    gp_ =
        std::make_unique<SparseGp>(make_gp_descriptor(config_.model), make_gp_kernel(config_.model),
                                   config_.training.hyperparameters, reference);
  }
  std::optional<DescriptorValues> own;
  if (!given) own = gp_->describe(frame, true);
  const DescriptorValues& values = given ? *given : *own;
  const std::vector<int> atoms = gp_->least_represented_atoms(
      values, config_.otf.max_sparse_per_frame, config_.otf.sparse_residual_threshold);
  const int added =
      gp_->add_sparse_atoms(values, gp_->num_frames(), atoms, config_.training.min_residual);
  const Eigen::VectorXd isolated_before = gp_->isolated_atoms();
  gp_->add_frame(frame, values, record.labels);
  // The first isolated atom of a species ends its novelty; its energy is the
  // reference energy, which the oracle's label cannot correct.
  if (config_.model.reference_energies.empty())
    for (Eigen::Index s = 0; s < isolated_before.size(); ++s)
      if (isolated_before(s) == 0.0 && gp_->isolated_atoms()(s) > 0.0)
        logger().warn(
            "frame {}: an isolated {} atom (no neighbour within the cutoff) is learnt; the model "
            "gives such an atom its reference energy, {} eV, fitted from the starting frames, "
            "not the oracle's energy: where atoms leave the structure, give "
            "model.reference_energies as the isolated atoms' energies (docs/gp.md, Novelty)",
            gp_->num_frames(), element(config_.model.descriptor.species[std::size_t(s)]).symbol,
            number(gp_->reference_energies()(s)));
  const int learnt = gp_->num_frames();
  const OtfSettings& otf = config_.otf;
  // The schedule counts frames the MD's uncertainty asked for: starting
  // structures (often relaxed crystals with no force to fit) cannot tell signal
  // from noise, and hyperparameters fitted to them alone are degenerate.
  const bool from_md = !std::isnan(record.max_std);
  if (from_md) ++md_frames_learnt_;
  const int k = md_frames_learnt_;
  const bool optimise = config_.training.optimize_hyperparameters && from_md &&
                        (k <= otf.hyperparameters_first ||
                         (otf.hyperparameters_every > 0 &&
                          (k - otf.hyperparameters_first) % otf.hyperparameters_every == 0));
  double optimise_seconds = 0.0;
  if (optimise) {
    // A long optimisation would leave the log silent for minutes: it is announced.
    if (last_optimise_seconds_ > 10.0)
      logger().info(
          "frame {}: re-optimising the hyperparameters ({} sparse environments; the last "
          "optimisation took {:.0f} s)",
          learnt, gp_->num_sparse(), last_optimise_seconds_);
    const auto optimise_start = Clock::now();
    // From the current values and from the configured start; the better optimum is kept.
    optimize_hyperparameters_two_starts(*gp_, config_.training.hyperparameters,
                                        config_.training.optimization);
    optimise_seconds = last_optimise_seconds_ = seconds_since(optimise_start);
    ++hyperparameter_updates_;
  }
  if (calibration_.ready())
    gp_->set_force_calibration(calibration_.for_signal_std(gp_->hyperparameters().signal_std));
  remap();
  check_update(record);
  timings_.update += seconds_since(start);
  logger().info(
      "learnt frame {} (stage {}, step {}): {} sparse environments added ({} in all){}", learnt,
      record.stage + 1, record.step, added, gp_->num_sparse(),
      optimise ? fmt::format(", hyperparameters re-optimised ({:.1f} s)", optimise_seconds) : "");
}

TrainingRecord OtfLoop::with_robust_weights(TrainingRecord record,
                                            const Eigen::VectorXd& atom_error) const {
  const double factor = config_.otf.robust_force_threshold;
  if (factor == 0 || atom_error.size() == 0 || !record.labels.forces) return record;
  std::vector<double> scales =
      robust_force_noise_scales(atom_error, factor, gp_->hyperparameters().force_noise);
  if (scales.empty()) return record;
  std::string atoms;
  int count = 0;
  for (std::size_t i = 0; i < scales.size(); ++i)
    if (scales[i] > 1.0) {
      atoms += (count++ ? " " : "") + std::to_string(i + 1);
    }
  const double largest = *std::max_element(scales.begin(), scales.end());
  logger().info(
      "stage {} step {}: {} atom(s) missed by more than {:g}× the frame's median force error "
      "(atoms {}): their forces learnt with up to {:.3g}× the force noise",
      record.stage + 1, record.step, count, factor, atoms, largest);
  record.labels.force_noise_scale = std::move(scales);
  return record;
}

double OtfLoop::force_error(const Structure& frame) const {
  MeanPotential potential(mapped());
  const Evaluation e = evaluate(potential, frame);
  return (e.forces - *frame.forces).cwiseAbs().mean();
}

// Whether every atom of `frame` has the same species and environment (a
// two-atom cell of one element is always centrosymmetric, for one).
bool one_environment(const SparseGp& gp, const Structure& frame) {
  const DescriptorValues values = gp.describe(frame, false);
  for (int i = 1; i < frame.size(); ++i)
    if (values.species[i] != values.species[0] ||
        (values.values.row(i) - values.values.row(0)).norm() >
            1e-8 * std::max(1.0, values.values.row(0).norm()))
      return false;
  return frame.size() > 1;
}

std::string OtfLoop::unfitted_frame_message(const Structure& frame, double error,
                                            double scale) const {
  int environments = 0;
  for (int f = 0; f < gp_->num_frames(); ++f) environments += gp_->frame(f).size();
  // The kernel's gradient vanishes at its own sparse point: a model of one
  // environment predicts no force there, however many sparse points it is given.
  if (gp_->num_sparse() == 1 && one_environment(*gp_, frame))
    return fmt::format(
        "the model cannot fit frame {} (force error {} eV/Å on it, mean |F| {} eV/Å): its {} "
        "atoms all have one environment (alike by symmetry: a two-atom cell of one element "
        "always is), and a model of one environment predicts no forces there, whatever its "
        "sparse settings; start from a larger or less symmetric cell (a supercell, rattled), or "
        "give this one as a later stage",
        gp_->num_frames(), number(error), number(scale), frame.size());
  // With every environment of the frames sparse, more of them cannot help.
  const std::string sparse =
      gp_->num_sparse() >= environments
          ? fmt::format(
                "every one of the frames' {} atomic environments is already sparse, so "
                "more sparse environments cannot help: the model's form does not fit "
                "these labels (the descriptor's cutoff and resolution, the kernel: "
                "docs/gp.md)",
                environments)
          : fmt::format(
                "either it has too few sparse environments to represent the frames ({} "
                "of the frames' {}{})",
                gp_->num_sparse(), environments,
                config_.otf.max_sparse_per_frame > 0
                    ? fmt::format(", at most {} added per frame: raise "
                                  "otf.max_sparse_per_frame",
                                  config_.otf.max_sparse_per_frame)
                    : std::string());
  return fmt::format(
      "the model cannot fit frame {} it has just learnt (force error {} eV/Å on it, mean |F| {} "
      "eV/Å, even after refactorising from its frames): {}, or the solve is ill-conditioned "
      "(check the hyperparameters: noises much smaller than the signal std)",
      gp_->num_frames(), number(error), number(scale), sparse);
}

void OtfLoop::check_update(const TrainingRecord& record) {
  // A frame just learnt is fitted closely; a model that predicts its forces
  // worse than zero forces would has lost its numerical footing (an update of
  // an ill-conditioned factor): refactorise from the stored frames once, and
  // stop if that does not help rather than run MD on it.
  if (!record.frame.forces || !record.labels.forces) return;
  // Worse than zero forces, and than a few times the force noise (a relaxed
  // crystal's forces are all but zero).
  const double scale = record.frame.forces->cwiseAbs().mean();
  const double limit = std::max(scale, 3.0 * gp_->hyperparameters().force_noise);
  const double error = force_error(record.frame);
  if (error < limit) return;
  logger().warn(
      "frame {}: the updated model's force error on it is {:.3g} eV/Å (mean |F| {:.3g}); "
      "refactorising the model from its {} frames",
      gp_->num_frames(), error, scale, gp_->num_frames());
  gp_->rebuild();
  // New factors: the next checkpoint writes all their blocks afresh.
  factor_journal_.reset();
  remap();
  const double again = force_error(record.frame);
  if (!(again < limit)) throw Error(unfitted_frame_message(record.frame, again, scale));
  logger().info("refactorised: force error on the frame now {:.3g} eV/Å", again);
}

std::optional<TrainingRecord> OtfLoop::label(const Structure& frame, long step, double max_std,
                                             std::string& result) {
  const int index = labelled_;
  TrainingRecord record;
  record.stage = stage_;
  record.step = step;
  record.max_std = max_std;
  record.labels = config_.training.labels;
  const auto start = Clock::now();
  oracle_seconds_ = 0.0;
  if (skipped_before_resume_.count({stage_, step})) {
    // Replaying after a resume: this call failed twice before the kill
    // (calls.csv says so, past the checkpoint); the run goes on without it, as then.
    ++oracle_calls_;
    result = "failed twice before the interruption";
    last_failure_ = "call " + std::to_string(oracle_calls_) + " " + result;
    skip_call(step, max_std, result, start);
    return std::nullopt;
  }
  if (database_->size() > index) {
    // Replaying after a resume: this frame was labelled before the kill.
    const TrainingRecord& stored = database_->records()[index];
    const bool same = stored.stage == stage_ && stored.step == step &&
                      stored.frame.numbers == frame.numbers &&
                      (stored.frame.positions - frame.positions).cwiseAbs().maxCoeff() < 1e-8;
    if (!same)
      throw Error(database_->path().string() + ": frame " + std::to_string(index + 1) + " (stage " +
                  std::to_string(stored.stage + 1) + ", step " + std::to_string(stored.step) +
                  ") does not match the resumed run's call at stage " + std::to_string(stage_ + 1) +
                  ", step " + std::to_string(step) +
                  "; was the config changed? (resume needs the same config and build)");
    record = stored;
    ++replayed_calls_;
    consecutive_failures_ = 0;
    result = "replayed";
  } else {
    std::optional<Structure> labels = call_with_retry(frame, step, result);
    oracle_seconds_ = seconds_since(start);
    timings_.oracle += oracle_seconds_;
    ++oracle_calls_;
    if (!labels) {
      skip_call(step, max_std, result, start);
      return std::nullopt;
    }
    record.frame = std::move(*labels);
    // Learnt from: the labels asked for that the oracle gave (a slab: no stress).
    record.labels = learnt_labels(record.frame, record.labels);
    consecutive_failures_ = 0;
    database_->append(record);
    result = "labelled";
    record = database_->records().back();
  }
  if (result == "replayed") ++oracle_calls_;
  ++labelled_;
  return record;
}

std::optional<Structure> OtfLoop::call_with_retry(const Structure& frame, long step,
                                                  std::string& result) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    const auto workdir = config_.output / "oracle" /
                         fmt::format("call-{:06d}-attempt-{}", oracle_calls_ + 1, attempt);
    try {
      Structure input = frame;
      input.clear_results();
      Structure labelled = config_.oracle->label(input, workdir, attempt);
      if (!labelled.energy && !labelled.forces)
        throw oracle::OracleFailure(oracle::FailureKind::unparsable_output,
                                    "the oracle returned neither energy nor forces");
      std::error_code ignored;
      std::filesystem::remove_all(workdir, ignored);
      return labelled;
    } catch (const oracle::OracleFailure& failure) {
      logger().warn("oracle call {} (stage {}, step {}), attempt {}: {} ({})", oracle_calls_ + 1,
                    stage_ + 1, step, attempt + 1, failure.what(),
                    oracle::failure_kind_name(failure.kind()));
      result = oracle::failure_kind_name(failure.kind());
      last_failure_ = failure.what();
    } catch (const InterruptedError& interrupted) {
      throw stopped_in_call(interrupted, step);
    } catch (const Error& error) {
      logger().warn("oracle call {} (stage {}, step {}), attempt {}: {}", oracle_calls_ + 1,
                    stage_ + 1, step, attempt + 1, error.what());
      result = "error";
      last_failure_ = error.what();
    }
  }
  return std::nullopt;
}

void OtfLoop::skip_call(long step, double max_std, const std::string& result,
                        Clock::time_point start) {
  ++skipped_calls_;
  logger().warn("oracle call {} {}: frame at stage {}, step {} skipped", oracle_calls_,
                skipped_before_resume_.count({stage_, step}) ? "(replayed) " + result
                                                             : std::string("failed twice"),
                stage_ + 1, step);
  calls_log_.stream() << oracle_calls_ << "," << stage_ + 1 << "," << step << "," << number(max_std)
                      << ",skipped (" << result << ")," << number(seconds_since(start), 4) << ",0,"
                      << (gp_ ? gp_->num_frames() : 0) << "," << (gp_ ? gp_->num_sparse() : 0)
                      << "," << steps_before_stage_ + step << ",nan"
                      << (calls_energy_columns_ ? ",nan,nan" : "") << "\n";
  // On disk at once: a run killed before its next checkpoint skips it again
  // on --resume (skipped_before_resume_).
  calls_log_.stream().flush();
  const int limit = config_.otf.max_consecutive_failures;
  if (limit > 0 && ++consecutive_failures_ >= limit)
    throw OracleFailuresStop(
        fmt::format(
            "the oracle failed on {} frames in a row (calls {}-{}; the last: {}); the run stops "
            "here rather than go on without labels: look at the scratch folders in {}, mend the "
            "oracle and continue with --resume (its program, environment and timeout may change, "
            "the settings that decide its labels may not: docs/otf.md, \"What a resumed run may "
            "change\"; for the command kind the command line is such a setting, the program "
            "file is not); otf.max_consecutive_failures: 0 never stops",
            consecutive_failures_, oracle_calls_ - consecutive_failures_ + 1, oracle_calls_,
            last_failure_, (config_.output / "oracle").string()),
        consecutive_failures_);
}

InterruptedError OtfLoop::stopped_in_call(const InterruptedError& interrupted, long step) const {
  // The call is not in the database: --resume makes it again.
  const std::string resume =
      last_checkpoint_.empty()
          ? "nothing is checkpointed yet: --resume starts again and takes the frames labelled so "
            "far from the database"
          : "the last checkpoint (" + last_checkpoint_ +
                ") stands: --resume continues from it and makes the call again";
  return InterruptedError(
      interrupted.signal(),
      fmt::format("stopped during oracle call {} (stage {}, step {}: {}); {}", oracle_calls_ + 1,
                  stage_ + 1, step, interrupted.what(), resume));
}

void OtfLoop::log_call(long call, const TrainingRecord& record, const std::string& result,
                       double oracle_seconds, double update_seconds, double rmse_before,
                       const EnergyKept& kept) {
  calls_log_.stream() << call << "," << record.stage + 1 << "," << record.step << ","
                      << number(record.max_std) << "," << result << "," << number(oracle_seconds, 4)
                      << "," << number(update_seconds, 4) << "," << gp_->num_frames() << ","
                      << gp_->num_sparse() << "," << stage_steps_before(record.stage) + record.step
                      << "," << number(rmse_before);
  if (calls_energy_columns_)
    calls_log_.stream() << "," << number(kept.change) << "," << number(kept.velocity_scale);
  calls_log_.stream() << "\n";
}

long OtfLoop::stage_steps_before(int stage) const {
  long steps = 0;
  for (int k = 0; k < stage; ++k) steps += config_.stages[k].steps;
  return steps;
}

bool OtfLoop::labelled_start(const Structure& frame) const {
  // The frames learnt so far: after a kill, those past the checkpoint are
  // replayed in their turn.
  const auto& records = database_->records();
  for (std::size_t k = 0; k < std::min(records.size(), std::size_t(labelled_)); ++k)
    if (records[k].step == 0 && std::isnan(records[k].max_std) &&
        frame.same_atoms(records[k].frame, 1e-10))
      return true;
  return false;
}

void OtfLoop::label_added_start(const CampaignStage& stage) {
  if (restart_ || relax_round_ > 0 || labelled_start(stage.start)) return;
  logger().info(
      "labelling the starting structure of stage {} (a stage added or changed since the run "
      "began): {} ({} atoms)",
      stage_ + 1, stage.structure.string(), stage.start.size());
  std::string result;
  if (auto record = label(stage.start, 0, std::numeric_limits<double>::quiet_NaN(), result)) {
    learn_start(*record, oracle_calls_, result, oracle_seconds_);
    checkpoint(nullptr, true);
  }
}

void OtfLoop::learn_start(const TrainingRecord& record, long call, const std::string& result,
                          double oracle_seconds) {
  const auto update_start = Clock::now();
  learn(record);
  log_call(call, record, result, oracle_seconds, seconds_since(update_start));
  evaluate_held_out();
}

void OtfLoop::warn_close_contact(const md::Engine& engine, long step) {
  const std::optional<CloseContact> contact =
      closest_contact(engine.state(), config_.md.engine.min_distance);
  if (!contact) return;
  ++close_contact_calls_;
  logger().warn(
      "stage {} step {}: {}: the MD on the model brought them together. The frame is labelled "
      "and learnt, and the model's repulsion below its shortest training distance moves inwards "
      "with it (docs/gp.md, Short-range repulsion): if this repeats, the oracle itself may not "
      "repel there (look at its energy at such distances), or the temperature or time step is "
      "too high",
      stage_ + 1, step, contact->description);
}

bool OtfLoop::call_oracle(md::Engine& engine, long step, double max_std,
                          const Eigen::VectorXd* trigger_std) {
  const md::ThermoSample before = engine.thermo();
  warn_close_contact(engine, step);
  std::string result;
  const std::optional<TrainingRecord> record = label(engine.frame(), step, max_std, result);
  if (!record) return false;
  const double oracle_seconds = oracle_seconds_;
  const auto update_start = Clock::now();
  const DescriptorValues values = gp_->describe(record->frame, true);
  const Eigen::VectorXd atom_error =
      calibration_.test(*gp_, record->frame, values, stage_, trigger_std);
  const double rmse_before = force_rmse(atom_error);
  const double force_rms =
      record->frame.forces
          ? std::sqrt(record->frame.forces->squaredNorm() / (3.0 * record->frame.size()))
          : 0.0;
  if (std::isfinite(rmse_before) && force_rms > 0) last_error_ratio_ = rmse_before / force_rms;
  if (calibration_.ready() && calibration_.trigger_scale_at_floor())
    logger().info(
        "stage {} step {}: the calibration window ties no force error to the std (fitted "
        "a′ {:.3g} eV/Å); the trigger uses the force scale {:.3g} eV/Å instead",
        stage_ + 1, step, calibration_.fitted_trigger_scale(), calibration_.trigger_scale());
  learn(with_robust_weights(*record, atom_error), &values);
  const EnergyKept kept = after_update(engine, before);
  log_call(oracle_calls_, *record, result, oracle_seconds, seconds_since(update_start), rmse_before,
           kept);
  evaluate_held_out();
  return true;
}

OtfLoop::RelaxRound OtfLoop::relax_on_model(const CampaignStage& stage, const RelaxOptions& options,
                                            const Structure& start, int round, bool guarded) {
  const auto relax_start = Clock::now();
  // On the model with its uncertainty: an extrapolating model may relax into
  // a cell nothing was learnt near (collapsed, or torn apart). The relaxation
  // stops at once at a novel atom (normalised std 1: a neighbour closer than
  // any in the training data), and from step otf.relax_guard_steps on where
  // the model's force std exceeds the loop's threshold (a relaxation step
  // moves atoms up to 0.2 Å, ten MD steps' worth: stopping on the std at
  // every step, a rattled crystal whose std sits just above the threshold
  // used its rounds one step each); that point is labelled instead of the
  // minimum. Before the force std is calibrated only a novel atom stops it.
  Relaxer relaxer(*gp_potential_, start, options);
  bool novel = false, uncertain = false;
  double std = 0.0;
  while (!relaxer.finished() && !novel && !uncertain) {
    relaxer.advance(1);
    const double normalised =
        (relaxer.current().extrapolation ? relaxer.current().extrapolation->max_uncertainty : 0.0) /
        gp_->hyperparameters().signal_std;
    std = trigger_std(normalised);
    novel = novel_std(normalised);
    uncertain = guarded && relaxer.steps() >= config_.otf.relax_guard_steps && std > threshold();
  }
  timings_.md += seconds_since(relax_start);
  const RelaxStep& point = relaxer.current();
  std::string where = fmt::format("{} on the model in {} steps",
                                  relaxer.converged() ? "converged" : "not converged", point.step);
  if (uncertain)
    where = fmt::format("stopped at step {}, where the model's max force std {:.4f} exceeds {:.4f}",
                        point.step, std, threshold());
  else if (novel)
    where = fmt::format(
        "stopped at step {}, at a novel atom (closer neighbours, another neighbour density or "
        "isolation never seen in the training data)",
        point.step);
  logger().info("stage {} (relax{}), round {}: {}, H = {:.6f} eV/atom; labelling {}", stage_ + 1,
                stage.pressure ? " at " + number(*stage.pressure) + " GPa" : std::string(), round,
                where, point.enthalpy / point.structure->size(),
                uncertain || novel ? "that point" : "the minimum");
  return {*point.structure, uncertain || novel};
}

bool OtfLoop::relax_point_confirmed(const CampaignStage& stage, int round,
                                    const TrainingRecord& record, double rmse_before,
                                    bool uncertain) const {
  // A minimum where the oracle's forces are within the model's force noise
  // (and, with the cell relaxed at a pressure, its stress within the stress
  // noise of −P) is one the model cannot place better. Forces alone would not
  // do: in a high-symmetry cell they vanish by symmetry at any volume,
  // however far the model's volume is off.
  const Structure& frame = record.frame;
  const double force_rms = frame.forces ? force_rmse(frame.forces->rowwise().norm()) : rmse_before;
  const GpHyperparameters& noise = gp_->hyperparameters();
  const double residual = stage.pressure && frame.stress
                              ? stress_residual(*frame.stress, *stage.pressure)
                              : std::numeric_limits<double>::quiet_NaN();
  const bool confirmed =
      !uncertain && force_rms <= noise.force_noise && !(residual > noise.stress_noise);
  logger().info(
      "stage {}, round {}: the oracle's force RMS there is {:.4f} eV/Å (force noise {:.4f}; the "
      "model's error there before learning it {:.4f}){}{}",
      stage_ + 1, round, force_rms, noise.force_noise, rmse_before,
      std::isnan(residual) ? std::string()
                           : fmt::format(", its stress RMS off −P {:.4f} GPa (stress noise {:.4f})",
                                         residual * units::ev_per_a3_in_gpa,
                                         noise.stress_noise * units::ev_per_a3_in_gpa),
      confirmed ? ": confirmed" : "");
  if (!confirmed && round == config_.otf.relax_rounds)
    logger().warn(
        "stage {} (relax): no minimum confirmed in otf.relax_rounds = {} rounds; the model's "
        "minimum of this structure{} is not the oracle's to within its noise",
        stage_ + 1, round,
        stage.pressure ? " at " + number(*stage.pressure) + " GPa" : std::string());
  return confirmed;
}

void OtfLoop::run_relax_stage(const CampaignStage& stage) {
  const OtfSettings& otf = config_.otf;
  RelaxOptions options;
  options.algorithm = RelaxAlgorithm::lbfgs;
  options.relax_cell = stage.pressure.has_value();
  options.pressure_gpa = stage.pressure.value_or(0.0);
  options.force_tolerance = otf.relax_force_tolerance;
  options.max_steps = otf.relax_max_steps;
  // Each round continues from the point the last one labelled (a resumed run
  // finds it in the database), so the relaxation walks on as the model learns.
  Structure start = stage.start;
  for (const TrainingRecord& r : database_->records())
    if (r.stage == stage_ && r.step > 0 && r.step <= relax_round_) start = r.frame;
  const bool guarded = std::isfinite(trigger_std(0.0));
  if (!guarded)
    logger().warn(
        "stage {} (relax): the force std is not calibrated yet (an MD stage calibrates it): the "
        "relaxation stops only at a novel atom, not at the force std threshold",
        stage_ + 1);
  for (int round = relax_round_ + 1; round <= otf.relax_rounds; ++round) {
    const RelaxRound relaxed = relax_on_model(stage, options, start, round, guarded);
    std::string result;
    const std::optional<TrainingRecord> record =
        label(relaxed.point, round, std::numeric_limits<double>::quiet_NaN(), result);
    if (!record) {
      // The model is unchanged, so the next round would relax to this same
      // point and the oracle fail on it again: the stage ends here.
      logger().warn("stage {}, round {}: the oracle could not label the point; the stage ends",
                    stage_ + 1, round);
      relax_round_ = otf.relax_rounds;
      checkpoint(nullptr, false);
      break;
    }
    const double oracle_seconds = oracle_seconds_;
    const auto update_start = Clock::now();
    Eigen::VectorXd atom_error;
    MeanPotential model(mapped());
    if (const auto& forces = record->frame.forces)
      atom_error = (*forces - evaluate(model, record->frame).forces).rowwise().norm();
    const double rmse_before = force_rmse(atom_error);
    learn(with_robust_weights(*record, atom_error));
    log_call(oracle_calls_, *record, result, oracle_seconds, seconds_since(update_start),
             rmse_before);
    evaluate_held_out();
    start = record->frame;
    const bool confirmed =
        relax_point_confirmed(stage, round, *record, rmse_before, relaxed.uncertain);
    relax_round_ = confirmed ? otf.relax_rounds : round;
    checkpoint(nullptr, true);
    if (confirmed) break;
  }
  relax_round_ = 0;
}

void OtfLoop::evaluate_held_out() {
  if (config_.held_out_frames.empty()) return;
  const auto start = Clock::now();
  MeanPotential potential(mapped());
  const ValidationReport report = validate_potential(potential, config_.held_out_frames);
  held_out_log_.stream() << gp_->num_frames() << "," << oracle_calls_ << ","
                         << number(report.total.force_mae.value_or(NAN)) << ","
                         << number(report.total.energy_mae.value_or(NAN)) << ","
                         << number(report.total.stress_mae.value_or(NAN) * units::ev_per_a3_in_gpa)
                         << "\n";
  logger().info("held-out: force MAE {:.4f} eV/Å, energy MAE {:.2f} meV/atom ({} frames learnt)",
                report.total.force_mae.value_or(NAN), 1e3 * report.total.energy_mae.value_or(NAN),
                gp_->num_frames());
  timings_.held_out += seconds_since(start);
}

void OtfLoop::checkpoint(md::Engine* engine, bool model_changed) {
  const auto start = Clock::now();
  const auto dir = checkpoint_dir();
  ++checkpoints_;
  if (model_changed && gp_) {
    const std::string name = fmt::format("model-{:06d}.h5", gp_->num_frames());
    save_gp_model_without_frames(dir / name, *gp_);
    model_file_ = name;
    if (config_.otf.bitwise_resume) {
      // Only the blocks added since the last checkpoint (the model file has the rest).
      factor_journal_.write(dir, fmt::format("factors-{:06d}.h5", gp_->num_frames()), *gp_);
    }
  }
  std::string md_file;
  if (engine) {
    md_file = fmt::format("md-stage{:03d}-step{:09d}.h5", stage_, engine->step());
    md::RestartData data = engine->restart_data();
    data.settings = md::dynamics_settings(config_.md);
    md::write_restart_file(dir / md_file, data);
  }
  nlohmann::json state;
  state["format_version"] = checkpoint_format_version;
  state["config"] = std::filesystem::absolute(config_.source).string();
  state["stage"] = stage_;
  state["frames_learnt"] = gp_ ? gp_->num_frames() : 0;
  state["model"] = model_file_;
  state["factor_files"] = factor_journal_.files();
  state["md"] = engine ? nlohmann::json(md_file) : nlohmann::json(nullptr);
  state["step"] = engine ? engine->step() : 0;
  state["last_call_step"] = last_call_step_;
  state["last_error_ratio"] = last_error_ratio_;
  state["oracle_calls"] = oracle_calls_;
  state["skipped_calls"] = skipped_calls_;
  state["close_contact_calls"] = close_contact_calls_;
  state["replayed_calls"] = replayed_calls_;
  state["steps_before_stage"] = steps_before_stage_;
  state["relax_round"] = relax_round_;
  state["hyperparameter_updates"] = hyperparameter_updates_;
  state["checkpoints"] = checkpoints_;
  state["calibration_sample"] = calibration_.to_json();
  // The stages whose MD has begun (a checkpoint between stages has none of the next).
  const int begun = engine || relax_round_ > 0 ? stage_ + 1 : stage_;
  state["settings"] = state_settings(begun, config_.campaign);
  state["settings_stages"] = begun;
  Timings timings = timings_;
  timings.checkpoint += seconds_since(start);
  state["timings"] = timings.to_json();
  state["file_lengths"] = {{"uncertainty", uncertainty_log_.flushed_length()},
                           {"calls", calls_log_.flushed_length()},
                           {"held_out", held_out_log_.flushed_length()},
                           {"trajectory", trajectory_.flushed_length()}};
  {
    OutputFile file(dir / "state.json");
    file.stream() << state.dump(2) << "\n";
    file.commit();
  }
  // Older models, factor blocks and MD states are no longer named by the
  // checkpoint, and temporaries are what a killed run was writing (this run's are renamed).
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    const bool named = name == "state.json" || name == model_file_ || name == md_file ||
                       factor_journal_.holds(name);
    if (!named && is_checkpoint_file(name)) {
      std::error_code ignored;
      std::filesystem::remove(entry.path(), ignored);
    }
  }
  if (engine) engine->reseat();  // as a run resumed from this checkpoint starts
  last_checkpoint_ = fmt::format("stage {}, step {}", stage_ + 1, engine ? engine->step() : 0);
  timings_.checkpoint += seconds_since(start);
}

void OtfLoop::log_line(md::Engine& engine, double max_std) {
  const md::ThermoSample t = engine.thermo();
  logger().info(
      "stage {} step {:>7}: T {:7.1f} K, P {:8.3f} GPa, E {:.4f} eV, max std {:.4f}, oracle "
      "calls {}",
      stage_ + 1, engine.step(), t.temperature, t.pressure, t.potential_energy, max_std,
      oracle_calls_);
}

double OtfLoop::threshold() const {
  if (config_.otf.threshold == OtfSettings::Threshold::force_relative)
    return config_.otf.std_threshold * gp_->hyperparameters().force_noise;
  return config_.otf.std_threshold;
}

double OtfLoop::trigger_std(double largest_normalised) const {
  if (config_.otf.threshold == OtfSettings::Threshold::normalised) return largest_normalised;
  if (!calibration_.ready()) return std::numeric_limits<double>::infinity();
  return calibration_.trigger_scale() * largest_normalised;
}

double OtfLoop::max_uncertainty(const md::Engine& engine) const {
  const ScalarView& uncertainty = engine.last_compute().uncertainty_normalised;
  if (uncertainty.extent(0) != static_cast<std::size_t>(engine.state().natoms))
    throw Error("otf: the potential returned no per-atom uncertainty at step " +
                std::to_string(engine.step()));
  if (!std::isfinite(trigger_std(0.0))) return std::numeric_limits<double>::infinity();
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), uncertainty);
  double largest = 0.0;
  for (std::size_t i = 0; i < host.extent(0); ++i) largest = std::max(largest, host(i));
  return trigger_std(largest);
}

std::optional<Eigen::VectorXd> OtfLoop::truncated_trigger_std(const md::Engine& engine) const {
  bool truncated = false;
  for (const TruncatedVarianceFactor& t : gp_potential_->variance_truncation())
    truncated = truncated || t.factor.rows() < t.full_rank;
  if (!truncated) return std::nullopt;
  const auto host = Kokkos::create_mirror_view_and_copy(
      Kokkos::HostSpace(), engine.last_compute().uncertainty_normalised);
  Eigen::VectorXd n(static_cast<Eigen::Index>(host.extent(0)));
  for (std::size_t i = 0; i < host.extent(0); ++i) n(static_cast<Eigen::Index>(i)) = host(i);
  return n;
}

bool OtfLoop::observe(md::Engine& engine) {
  const auto observe_start = Clock::now();
  const long step = engine.step();
  const double max_std = max_uncertainty(engine);
  const double limit = threshold();
  last_max_std_ = max_std;
  const md::ThermoSample thermo = engine.thermo();
  uncertainty_log_.stream() << stage_ + 1 << "," << step << "," << steps_before_stage_ + step << ","
                            << number(thermo.temperature) << "," << number(thermo.pressure) << ","
                            << number(thermo.potential_energy, 10) << ","
                            << (std::isinf(max_std) ? "nan" : number(max_std)) << ","
                            << number(limit) << "," << oracle_calls_ << "\n";
  const CampaignStage& stage = config_.stages[stage_];
  if (config_.md.output.trajectory_interval > 0 &&
      step % config_.md.output.trajectory_interval == 0) {
    Structure frame = engine.frame();
    frame.set_info_value("stage", std::to_string(stage_ + 1));
    frame.set_info_value("max_std", number(max_std));
    write_extxyz(trajectory_.stream(), frame);
  }
  if (step % config_.otf.log_interval == 0 || step == stage.steps) log_line(engine, max_std);

  const OtfSettings& otf = config_.otf;
  const bool allowed = otf.max_oracle_calls == 0 || oracle_calls_ < otf.max_oracle_calls;
  // Step 0 of a stage is its starting structure, which the loop labelled
  // before any MD: it counts as the stage's first call, and the oracle is not
  // asked to label it again.
  if (step == 0 && labelled_start(engine.frame())) last_call_step_ = 0;
  const long since = step - last_call_step_;
  // An audit: the model missed the last labelled frame by more than the
  // target, so a frame is labelled every audit_interval steps whatever the std
  // says, until the model predicts new frames within the target.
  const bool audit = otf.audit_interval > 0 && last_error_ratio_ > otf.target_force_error &&
                     since >= otf.audit_interval;
  bool changed = false;
  if (allowed && (max_std > limit || audit) && since >= otf.min_steps_between_calls) {
    if (!(max_std > limit))
      logger().info(
          "stage {} step {}: audit: the model's force RMSE on the last labelled frame "
          "was {:.1f}% of its force RMS (target {:.1f}%): calling the oracle",
          stage_ + 1, step, 100 * last_error_ratio_, 100 * otf.target_force_error);
    else if (std::isinf(max_std))
      logger().info(
          "stage {} step {}: calibrating the force std ({} of {} frames): calling the "
          "oracle",
          stage_ + 1, step, calibration_.frames(), config_.otf.calibration_frames);
    else
      logger().info("stage {} step {}: max std {:.4f} above {:.4f}: calling the oracle", stage_ + 1,
                    step, max_std, limit);
    last_call_step_ = step;
    const std::optional<Eigen::VectorXd> trigger_std = truncated_trigger_std(engine);
    changed = call_oracle(engine, step, max_std, trigger_std ? &*trigger_std : nullptr);
  }
  const bool periodic = config_.otf.checkpoint_interval > 0 && step > 0 &&
                        step % config_.otf.checkpoint_interval == 0;
  const bool stop = interrupt_requested();
  if (changed || periodic || stop) checkpoint(&engine, changed);
  md_excluded_ += seconds_since(observe_start);
  if (stop) interrupted_ = true;
  return !stop;
}

EnergyKept OtfLoop::after_update(md::Engine& engine, const md::ThermoSample& before) {
  engine.potential_changed();
  // The update moves the potential energy under the atoms by the old model's
  // error here; the velocities give it back (or take it), so that the error
  // does not enter the dynamics as heat (docs/otf.md "The loop", step 7).
  engine.setup();
  EnergyKept kept;
  kept.change = engine.thermo().potential_energy - before.potential_energy;
  kept.velocity_scale = 1.0;
  const double kinetic = before.kinetic_energy;
  if (!config_.otf.keep_total_energy || kept.change == 0) return kept;
  if (!(kinetic > 0)) {
    logger().info(
        "stage {} step {}: the update moved the potential energy here by {:+.4g} eV; the atoms "
        "are at rest, so the total energy moves with it",
        stage_ + 1, engine.step(), kept.change);
    return kept;
  }
  kept.velocity_scale = std::sqrt(std::max(0.0, 1.0 - kept.change / kinetic));
  engine.scale_velocities(kept.velocity_scale);
  if (std::abs(kept.velocity_scale - 1) > 0.01)
    logger().info(
        "stage {} step {}: the update moved the potential energy here by {:+.4g} eV; velocities "
        "scaled by {:.3f} to keep the total energy{}",
        stage_ + 1, engine.step(), kept.change, kept.velocity_scale,
        kept.velocity_scale == 0
            ? fmt::format(" (the kinetic energy, {:.4g} eV, was less: the atoms start from rest)",
                          kinetic)
            : "");
  return kept;
}

void OtfLoop::label_starting_structures() {
  // The starting structure of every stage is labelled before any MD: the GP
  // needs a first frame, and the reference energies are fitted to all of them,
  // so that every composition of a campaign is in their span from the start.
  std::vector<std::pair<TrainingRecord, std::string>> labelled;
  std::vector<double> seconds;
  std::vector<long> calls;
  // A structure several stages start from (at other conditions, or an MD and
  // a relax stage of it) is labelled once: the same frame twice adds nothing.
  std::map<std::string, int> first_stage;
  for (stage_ = 0; stage_ < static_cast<int>(config_.stages.size()); ++stage_) {
    const CampaignStage& stage = config_.stages[stage_];
    const Structure& structure = stage.start;
    const auto [first, added] = first_stage.emplace(content_fingerprint(structure), stage_);
    if (!added) {
      logger().info("stage {} starts from the structure of stage {}: labelled once", stage_ + 1,
                    first->second + 1);
      continue;
    }
    logger().info("labelling the starting structure of stage {}: {} ({} atoms)", stage_ + 1,
                  stage.structure.string(), structure.size());
    std::string result;
    if (auto record = label(structure, 0, std::numeric_limits<double>::quiet_NaN(), result)) {
      labelled.emplace_back(std::move(*record), result);
      seconds.push_back(oracle_seconds_);
      calls.push_back(oracle_calls_);
    }
  }
  stage_ = 0;
  if (labelled.empty())
    throw Error(
        "the oracle could not label any starting structure, so there is nothing to learn from; "
        "its last failure: " +
        last_failure_);
  if (config_.training.reference_energies) {
    reference_energies_ = config_.training.reference_energies;
  } else {
    std::vector<Structure> frames;
    for (const auto& entry : labelled) frames.push_back(entry.first.frame);
    reference_energies_ = fit_reference_energies(frames, config_.model.descriptor.species);
  }
  for (std::size_t k = 0; k < labelled.size(); ++k)
    learn_start(labelled[k].first, calls[k], labelled[k].second, seconds[k]);
  last_call_step_ = 0;
  checkpoint(nullptr, true);
}

nlohmann::json OtfLoop::summary(bool finished) const {
  nlohmann::json s;
  s["finished"] = finished;
  s["oracle_calls"] = oracle_calls_;
  s["skipped_calls"] = skipped_calls_;
  s["close_contact_calls"] = close_contact_calls_;
  s["replayed_calls"] = replayed_calls_;
  s["frames"] = gp_ ? gp_->num_frames() : 0;
  s["sparse_size"] = gp_ ? gp_->num_sparse() : 0;
  s["steps"] = steps_before_stage_;
  s["stages"] = config_.stages.size();
  s["hyperparameter_updates"] = hyperparameter_updates_;
  // The running test error (audits); null before the first MD-triggered call.
  s["last_force_error_ratio"] =
      last_error_ratio_ > 0 ? nlohmann::json(last_error_ratio_) : nlohmann::json(nullptr);
  s["checkpoints"] = checkpoints_;
  s["timings_seconds"] = timings_.to_json();
  if (calibration_.ready()) {
    nlohmann::json& c = s["force_calibration"] = calibration_summary(
        calibration_.calibration(), "normalised_std_scale_ev_per_a", gp_->descriptor().species());
    c["trigger_scale_ev_per_a"] = calibration_.trigger_scale();
    c["trigger_scale_fitted_ev_per_a"] = calibration_.fitted_trigger_scale();
  }
  if (gp_) {
    const GpHyperparameters& h = gp_->hyperparameters();
    s["hyperparameters"] = {{"signal_std", h.signal_std},
                            {"energy_noise", h.energy_noise},
                            {"force_noise", h.force_noise},
                            {"stress_noise", h.stress_noise}};
  }
  s["otfgp_version"] = version;
  return s;
}

void OtfLoop::check_oracle_species() const {
  try {
    config_.oracle->check(config_.species);
    return;
  } catch (const EnvironmentError&) {
    throw;  // a missing program or file: nothing to do with the structures
  } catch (const Error& error) {
    // Which elements the oracle cannot label alone, and which stages hold them
    // (elements that fail only together, or all of them, name no stage).
    std::vector<int> failing;
    for (int z : config_.species) try {
        config_.oracle->check({z});
      } catch (const Error&) {
        failing.push_back(z);
      }
    const auto holds_failing = [&](const CampaignStage& stage) {
      for (int z : stage.start.species())
        if (std::find(failing.begin(), failing.end(), z) != failing.end()) return true;
      return false;
    };
    const auto stage = std::find_if(config_.stages.begin(), config_.stages.end(), holds_failing);
    std::string what = "the run's elements";
    if (!failing.empty() && failing.size() < config_.species.size() &&
        stage != config_.stages.end()) {
      std::string symbols;
      for (int z : stage->start.species())
        if (std::find(failing.begin(), failing.end(), z) != failing.end())
          symbols += std::string(symbols.empty() ? "" : ", ") + element(z).symbol;
      what = fmt::format("{} of {} ({})", symbols,
                         stage_key(static_cast<int>(stage - config_.stages.begin()), "structure"),
                         stage->structure.string());
    }
    throw Error(fmt::format("{}: the oracle (oracle.kind: {}) cannot label {}: {}",
                            config_.source.string(), config_.oracle->kind(), what, error.what()));
  }
}

nlohmann::json OtfLoop::run(md::StepObserver* progress) {
  InterruptGuard guard;
  // Set-up problems (a missing program, file or element) and refusals (a folder
  // of other files, a checkpoint of other settings) leave the folder as it was.
  check_oracle_species();
  for (std::size_t k = 0; k < config_.stages.size(); ++k) try {
      config_.oracle->check_structure(config_.stages[k].start);
    } catch (const Error& error) {
      throw Error(fmt::format("{} ({}): {}", stage_key(static_cast<int>(k), "structure"),
                              config_.stages[k].structure.string(), error.what()));
    }
  make_output_folder(config_.output, "output folder");
  const OutputLock lock(OutputLock::in_folder(config_.output),
                        "output folder '" + config_.output.string() + "'", "otfgp otf");
  if (resuming_) {
    resume();
  } else {
    start_fresh();
  }
  // From here on the folder holds this run: however it stops, summary.json says how.
  try {
    open_logs();

    if (!gp_) label_starting_structures();

    for (; stage_ < static_cast<int>(config_.stages.size()); ++stage_) {
      const CampaignStage& stage = config_.stages[stage_];
      label_added_start(stage);
      if (stage.relax) {
        run_relax_stage(stage);
      } else {
        run_stage(stage, progress);
      }
      steps_before_stage_ += stage.steps;
      last_call_step_ = no_call;
      if (stage_ + 1 < static_cast<int>(config_.stages.size())) {
        ++stage_;
        checkpoint(nullptr, false);
        --stage_;
      }
    }
    stage_ = static_cast<int>(config_.stages.size()) - 1;
    write_final_outputs();
  } catch (const InterruptedError& interrupted) {
    const std::string message = std::string(interrupted.what()) + "; continue with --resume";
    write_unfinished_summary({{"interrupted", message}});
    throw InterruptedError(interrupted.signal(), message);
  } catch (const OracleFailuresStop& stop) {
    write_unfinished_summary({{"error", stop.what()}, {failures_stop_key, stop.calls()}});
    throw;
  } catch (const std::exception& error) {
    write_unfinished_summary({{"error", error.what()}});
    throw;
  }
  return summary(true);
}

void OtfLoop::write_unfinished_summary(const nlohmann::json& why) {
  // A failure here must not hide why the run stopped (nor its exit status).
  try {
    write_summary(false, why);
  } catch (const std::exception& also) {
    logger().warn("could not write the summary of the run that stopped: {}", also.what());
  }
}

void OtfLoop::open_logs() {
  auto length = [&](const std::string& name) -> std::optional<std::uintmax_t> {
    if (!resuming_) return std::nullopt;
    return resume_lengths_.at(name);
  };
  uncertainty_log_.open(config_.output / "uncertainty.csv",
                        "stage,step,total_step,temperature_K,pressure_GPa,potential_energy_eV,"
                        "max_std,threshold,oracle_calls\n",
                        length("uncertainty"));
  calls_log_.open(config_.output / "calls.csv",
                  "call,stage,step,max_std,result,oracle_seconds,update_seconds,frames,"
                  "sparse_size,total_step,force_rmse_before,energy_change,velocity_scale\n",
                  length("calls"));
  // A run begun before these two columns existed goes on without them, so
  // that every row has its header's columns.
  std::string header;
  std::getline(std::ifstream(config_.output / "calls.csv"), header);
  calls_energy_columns_ = header.find(",energy_change,") != std::string::npos;
  if (!calls_energy_columns_)
    logger().info(
        "{}: begun by an older build; continued without the energy_change and "
        "velocity_scale columns",
        (config_.output / "calls.csv").string());
  held_out_log_.open(config_.output / "held_out.csv",
                     "frames,oracle_calls,force_mae_eV_per_A,energy_mae_eV_per_atom,"
                     "stress_mae_GPa\n",
                     length("held_out"));
  trajectory_.open(config_.output / "trajectory.xyz", "", length("trajectory"));
}

void OtfLoop::run_stage(const CampaignStage& stage, md::StepObserver* progress) {
  std::unique_ptr<md::Engine> engine = make_engine(stage, stage_);
  if (restart_) {
    engine->restore(*restart_);
    restart_.reset();
  }
  logger().info(
      "stage {} of {}: {} ({} atoms), {} K{}{}, {} steps", stage_ + 1, config_.stages.size(),
      stage.name, engine->state().natoms, number(stage.temperature),
      stage.initial_temperature == stage.temperature
          ? std::string()
          : " (velocities at " + number(stage.initial_temperature) + " K)",
      stage.pressure ? ", " + number(*stage.pressure) + " GPa" : std::string(), stage.steps);
  engine->add_observer(*this);
  if (progress) engine->add_observer(*progress);
  const auto start = Clock::now();
  md_excluded_ = 0;
  const double uncertainty_before = potential_->with_uncertainty;
  const double calibration_before = potential_->calibration;
  const long calls_before = potential_->calls_with_uncertainty;
  engine->run_until(stage.steps);
  const double elapsed = seconds_since(start);
  // The uncertainty's own cost: compute calls that asked for it, less what
  // the same number of plain calls cost.
  const long with = potential_->calls_with_uncertainty - calls_before;
  const double plain_each =
      potential_->plain_calls > 0 ? potential_->plain / potential_->plain_calls : 0.0;
  const double uncertainty =
      std::max(0.0, potential_->with_uncertainty - uncertainty_before - with * plain_each);
  timings_.uncertainty += uncertainty;
  timings_.md += std::max(
      0.0, elapsed - md_excluded_ - uncertainty - (potential_->calibration - calibration_before));
  if (interrupted_)
    throw InterruptedError(interrupt_signal(), "stopped at stage " + std::to_string(stage_ + 1) +
                                                   ", step " + std::to_string(engine->step()) +
                                                   " with a checkpoint");
}

void OtfLoop::write_final_outputs() {
  save_gp_model(config_.output / "model.h5", *gp_);
  logger().info("wrote {} ({} frames, {} sparse environments)",
                (config_.output / "model.h5").string(), gp_->num_frames(), gp_->num_sparse());
  write_summary(true);
  warn_unfitted();
  std::vector<Structure> parity = config_.held_out_frames;
  if (parity.empty())
    for (const auto& record : database_->records()) parity.push_back(record.frame);
  auto final_model = make_gp_potential(mapped(), "gp:" + (config_.output / "model.h5").string());
  plot_otf_run(config_.output,
               config_.otf.threshold == OtfSettings::Threshold::normalised
                   ? "largest per-atom std / σ"
                   : "largest per-atom model force std (eV/Å)",
               parity, *final_model);
  // A signal while the model, the summary or the plots were written: the
  // checkpoint stands, and --resume writes them all again.
  if (interrupt_requested())
    throw InterruptedError(interrupt_signal(),
                           "stopped while writing the final model, summary and plots");
}

void OtfLoop::warn_unfitted() const {
  const double target = config_.otf.target_force_error;
  if (last_error_ratio_ <= target) return;
  logger().warn(
      "the run ends with the model's force RMSE on the last frame it was sent, before learning "
      "it, at {:.1f}% of that frame's force RMS (otf.target_force_error: {:.3g}%; the model's "
      "force noise σ_f is {:.3g} eV/Å): the model does not fit the oracle's forces yet. If this "
      "ratio stays up as frames are added (force_rmse_before in calls.csv), the descriptor "
      "cannot resolve what the oracle does: a larger cutoff or n_max, or an oracle whose forces "
      "jump (a classical potential's cutoff switch on a neighbour shell: docs/otf.md, SiC)",
      100 * last_error_ratio_, 100 * target, gp_->hyperparameters().force_noise);
}

void OtfLoop::write_summary(bool finished, const nlohmann::json& stop) {
  nlohmann::json s = summary(finished);
  if (stop.is_object()) s.update(stop);
  // A failed run's model may be what failed: its held-out errors are not evaluated.
  if (!config_.held_out_frames.empty() && gp_ && !stop.contains("error")) {
    MeanPotential potential(mapped());
    const ValidationReport report = validate_potential(potential, config_.held_out_frames);
    nlohmann::json h;
    h["frames"] = report.total.frames;
    if (report.total.force_mae) h["force_mae_ev_per_a"] = *report.total.force_mae;
    if (report.total.energy_mae) h["energy_mae_ev_per_atom"] = *report.total.energy_mae;
    if (report.total.stress_mae)
      h["stress_mae_gpa"] = *report.total.stress_mae * units::ev_per_a3_in_gpa;
    for (const auto& [formula, errors] : report.by_composition)
      if (errors.force_mae) h["force_mae_by_composition"][formula] = *errors.force_mae;
    s["held_out"] = h;
  }
  OutputFile file(config_.output / "summary.json");
  file.stream() << s.dump(2) << "\n";
  file.commit();
}

namespace {

// A stage's key in a campaign's config (campaign[K].temperature) or a
// one-structure run's (md.temperature).
std::string stage_key_in(bool campaign, int stage, const std::string& key) {
  if (campaign) return "campaign[" + std::to_string(stage + 1) + "]." + key;
  if (key == "temperature") return "md.temperature";
  if (key == "pressure") return "md.barostat.pressure";
  return key;
}

}  // namespace

std::string OtfLoop::stage_key(int stage, const std::string& key) const {
  return stage_key_in(config_.campaign, stage, key);
}

std::string OtfLoop::state_settings(int stages, bool campaign_keys, bool by_path,
                                    bool with_oracle) const {
  std::string text = md_state_settings(config_.md);
  for (int k = 0; k < stages; ++k) {
    const CampaignStage& stage = config_.stages[k];
    const std::string structure =
        by_path ? "'" + std::filesystem::absolute(stage.structure).lexically_normal().string() + "'"
                : content_fingerprint(stage.start);
    text += stage_key_in(campaign_keys, k, "structure") + ": " + structure + "\n";
    text += stage_key_in(campaign_keys, k, "temperature") + ": " +
            format_significant(stage.temperature, 17) + "\n";
    if (stage.pressure)
      text += stage_key_in(campaign_keys, k, "pressure") + ": " +
              format_significant(*stage.pressure, 17) + "\n";
    if (stage.relax) text += stage_key_in(campaign_keys, k, "relax") + ": true\n";
  }
  return text + model_state_settings(config_.model) +
         (with_oracle ? config_.oracle_settings : std::string());
}

void OtfLoop::check_same_settings(const nlohmann::json& state) const {
  const std::string where = config_.source.string() + ": cannot resume from " +
                            (checkpoint_dir() / "state.json").string();
  if (!state.contains("settings")) {
    logger().warn("{}: written by an older build, without its settings: they are not compared",
                  (checkpoint_dir() / "state.json").string());
    return;
  }
  const int stages = state.at("settings_stages");
  if (stages > static_cast<int>(config_.stages.size()))
    throw Error(where + ": the checkpoint is in stage " + std::to_string(stages) +
                ", the config has " + std::to_string(config_.stages.size()) + " stage(s)");
  const std::string stored = state.at("settings").get<std::string>();
  // A checkpoint written before structures were compared by content names their paths.
  const bool by_path = stored.find("structure: '") != std::string::npos;
  const bool with_oracle =
      stored.rfind("oracle.", 0) == 0 || stored.find("\noracle.") != std::string::npos;
  if (!with_oracle)
    logger().warn(
        "{}: written before the oracle's settings were recorded: make sure the oracle: section "
        "is the one the run began with (labels of other settings would mix in one model)",
        (checkpoint_dir() / "state.json").string());
  // A one-structure run resumed as a campaign whose first stage is that run:
  // its stage is compared under the keys it was recorded with.
  const bool one_structure_record = stages == 1 && stored.find("campaign[") == std::string::npos;
  const std::string now =
      state_settings(stages, config_.campaign && !one_structure_record, by_path, with_oracle);
  const std::string compared = oracle::settings_as_recorded(stored, now);
  if (oracle::file_contents_uncompared(stored, now))
    logger().warn(
        "{}: written before the oracle's parameter files were recorded by their contents: they "
        "are not compared; make sure they are the ones the run began with",
        (checkpoint_dir() / "state.json").string());
  // A default written out, or an alias, is no change (with_label_defaults).
  const std::optional<md::SettingChange> change =
      oracle::first_label_change(stored, compared, *config_.oracle);
  if (!change) return;
  const bool model = change->key.rfind("model.", 0) == 0;
  const bool oracle = change->key.rfind("oracle.", 0) == 0;
  const std::string& key = change->key;
  const auto ends_with = [&](const std::string& suffix) {
    return key.size() >= suffix.size() &&
           key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  const bool structure = ends_with("structure");
  // Builds before 2026-12-02 thermostatted otf at md.initial_temperature
  // (which matters only where it differs from md.temperature).
  const bool old_target =
      ends_with("temperature") &&
      config_.md.initial_temperature != config_.md.engine.thermostat.temperature &&
      change->before == format_significant(config_.md.initial_temperature, 17);
  throw Error(
      where + ": it was written with " + key + " = " + change->before.value_or("(not set)") +
      ", the config has " + change->now.value_or("(not set)") + "; " +
      (model ? "the checkpoint's model is built on the model: section's descriptor and kernel, "
               "which a resumed run must keep (start a fresh run, or use another output folder, "
               "to change them)"
       : oracle
           ? "the frames of training.h5 were labelled with it, and labels of other settings "
             "would mix in one model: start a fresh run (or use another output folder) for other "
             "oracle settings (" +
                 std::string(
                     key == "oracle.command"
                         ? "the spaces between the command's words and their quoting, the oracle's "
                         : "the oracle's command, ") +
                 "environment, timeout, pseudo_dir or data_dir, and its SCF mixing, limits and "
                 "thresholds may change)"
       : structure
           ? "the structure file no longer holds the atoms, positions and cell the stage began "
             "from (the file is compared by its content, not its name or place); restore it, or "
             "start a fresh run"
           : "the saved MD state depends on it, so a resumed run must keep it (md.steps, the "
             "otf: settings and stages not yet begun may change; docs/otf.md \"Resume\")" +
                 std::string(old_target
                                 ? "; if the run began with a build before 2026-12-02, it took "
                                   "md.initial_temperature as the thermostat's target: to "
                                   "continue at that target, set the stage's temperature to it"
                                 : "")));
}

}  // namespace

nlohmann::json run_otf(const OtfConfig& config, bool resume, md::StepObserver* progress) {
  OtfLoop loop(config, resume);
  return loop.run(progress);
}

}  // namespace otfgp::otf
