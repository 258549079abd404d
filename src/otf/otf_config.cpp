#include "otfgp/otf/otf_config.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/output_paths.hpp"
#include "otfgp/core/target_pressure.hpp"
#include "otfgp/gp/b2_descriptor.hpp"
#include "otfgp/md/engine.hpp"
#include "otfgp/oracle/oracle_settings.hpp"
#include "otfgp/otf/output_folder.hpp"

namespace otfgp::otf {

namespace {

std::filesystem::path resolve(const std::filesystem::path& base, const std::string& path) {
  const std::filesystem::path p(path);
  return p.is_absolute() ? p : base / p;
}

// A count stored as int: negative values and values an int cannot hold are
// errors (a cast would silently turn 10^13 into some other number).
int small_count(const ConfigSection& section, const std::string& key, int fallback) {
  const long value = section.integer(key, fallback);
  if (value < 0 || value > 1000000000)
    section.fail(key, "must be a whole number from 0 to 10^9, got " + std::to_string(value));
  return static_cast<int>(value);
}

// One of the three threshold kinds (docs/otf.md "When the oracle is called").
void read_threshold(const ConfigSection& section, OtfSettings& otf) {
  const char* kinds[] = {"std_threshold", "std_threshold_relative", "std_threshold_normalised"};
  int given = 0;
  for (const char* kind : kinds) given += section.has(kind);
  if (given > 1)
    section.fail(section.has("std_threshold_normalised") ? "std_threshold_normalised"
                                                         : "std_threshold_relative",
                 "give one of std_threshold (eV/Å), std_threshold_relative (× force noise) and "
                 "std_threshold_normalised (std/σ)");
  if (section.has("std_threshold_normalised")) {
    otf.threshold = OtfSettings::Threshold::normalised;
    otf.std_threshold = section.number("std_threshold_normalised");
    if (!(otf.std_threshold > 0 && otf.std_threshold < 1))
      section.fail("std_threshold_normalised", "must be in (0, 1)");
  } else if (section.has("std_threshold")) {
    otf.threshold = OtfSettings::Threshold::force;
    otf.std_threshold = section.number("std_threshold");
    if (!(otf.std_threshold > 0 && std::isfinite(otf.std_threshold)))
      section.fail("std_threshold", "must be a positive force std (eV/Å)");
  } else {
    otf.std_threshold = section.number("std_threshold_relative", otf.std_threshold);
    if (!(otf.std_threshold > 0 && std::isfinite(otf.std_threshold)))
      section.fail("std_threshold_relative", "must be a positive multiple of the force noise");
  }
}

// How an update learns a frame and what it does to the MD (docs/otf.md "The loop").
void read_update_settings(const ConfigSection& section, OtfSettings& otf) {
  otf.keep_total_energy = section.flag("keep_total_energy", otf.keep_total_energy);
  otf.robust_force_threshold = section.number("robust_force_threshold", otf.robust_force_threshold);
  if (!(otf.robust_force_threshold == 0 || otf.robust_force_threshold > 1))
    section.fail("robust_force_threshold",
                 "must be above 1 (× the frame's median atom force error), or 0 for none");
}

// The relax stages' keys (docs/otf.md "Relax stages").
void read_relax_settings(const ConfigSection& section, OtfSettings& otf) {
  otf.relax_rounds = small_count(section, "relax_rounds", otf.relax_rounds);
  if (otf.relax_rounds < 1) section.fail("relax_rounds", "must be at least 1");
  otf.relax_force_tolerance = section.number("relax_force_tolerance", otf.relax_force_tolerance);
  if (!(otf.relax_force_tolerance > 0) || !std::isfinite(otf.relax_force_tolerance))
    section.fail("relax_force_tolerance", "must be a positive force (eV/Å)");
  otf.relax_max_steps = small_count(section, "relax_max_steps", otf.relax_max_steps);
  if (otf.relax_max_steps < 1) section.fail("relax_max_steps", "must be at least 1");
  otf.relax_guard_steps = small_count(section, "relax_guard_steps", otf.relax_guard_steps);
  if (otf.relax_guard_steps < 1) section.fail("relax_guard_steps", "must be at least 1");
}

// The force-std calibration, the audits and the spacing of calls.
void read_calibration_settings(const ConfigSection& section, OtfSettings& otf) {
  otf.calibration_frames =
      static_cast<int>(section.integer("calibration_frames", otf.calibration_frames));
  if (otf.calibration_frames < 1) section.fail("calibration_frames", "must be at least 1");
  otf.calibration_window =
      static_cast<int>(section.integer("calibration_window", otf.calibration_window));
  if (otf.calibration_window < otf.calibration_frames)
    section.fail("calibration_window", "must be at least calibration_frames (" +
                                           std::to_string(otf.calibration_frames) + ")");
  otf.target_force_error = section.number("target_force_error", otf.target_force_error);
  if (!(otf.target_force_error > 0 && otf.target_force_error < 10))
    section.fail("target_force_error", "must be a fraction of the force RMS in (0, 10)");
  otf.audit_interval = section.integer("audit_interval", otf.audit_interval);
  if (otf.audit_interval < 0) section.fail("audit_interval", "must not be negative (0: no audits)");
  otf.min_steps_between_calls =
      section.integer("min_steps_between_calls", otf.min_steps_between_calls);
  if (otf.min_steps_between_calls < 0)
    section.fail("min_steps_between_calls", "must not be negative");
}

// What a labelled frame adds to the sparse set, and the trigger's variance rank.
void read_sparse_settings(const ConfigSection& section, OtfSettings& otf) {
  otf.variance_rank = small_count(section, "variance_rank", otf.variance_rank);
  otf.max_sparse_per_frame = small_count(section, "max_sparse_per_frame", otf.max_sparse_per_frame);
  otf.sparse_residual_threshold =
      section.number("sparse_residual_threshold", otf.sparse_residual_threshold);
  if (!(otf.sparse_residual_threshold >= 0 && otf.sparse_residual_threshold < 1))
    section.fail("sparse_residual_threshold", "must be in [0, 1)");
  if (otf.max_sparse_per_frame == 0 && otf.sparse_residual_threshold == 0)
    section.fail("max_sparse_per_frame",
                 "0 (no cap) needs sparse_residual_threshold > 0, or every atom of every frame "
                 "would join the sparse set");
}

void read_otf_section(ConfigSection section, OtfSettings& otf) {
  section.expect_keys({"check_interval",
                       "std_threshold",
                       "std_threshold_relative",
                       "std_threshold_normalised",
                       "calibration_frames",
                       "calibration_window",
                       "target_force_error",
                       "audit_interval",
                       "min_steps_between_calls",
                       "max_sparse_per_frame",
                       "sparse_residual_threshold",
                       "variance_rank",
                       "hyperparameter_updates",
                       "max_oracle_calls",
                       "max_consecutive_failures",
                       "checkpoint_interval",
                       "log_interval",
                       "bitwise_resume",
                       "keep_total_energy",
                       "robust_force_threshold",
                       "relax_rounds",
                       "relax_force_tolerance",
                       "relax_max_steps",
                       "relax_guard_steps"});
  otf.check_interval = section.integer("check_interval", otf.check_interval);
  if (otf.check_interval < 1) section.fail("check_interval", "must be at least 1 (steps)");
  read_threshold(section, otf);
  read_calibration_settings(section, otf);
  read_update_settings(section, otf);
  read_relax_settings(section, otf);
  read_sparse_settings(section, otf);
  if (auto h = section.optional_section("hyperparameter_updates")) {
    h->expect_keys({"first", "every"});
    otf.hyperparameters_first = small_count(*h, "first", otf.hyperparameters_first);
    otf.hyperparameters_every = small_count(*h, "every", otf.hyperparameters_every);
    h->finish();
  }
  otf.max_oracle_calls = section.integer("max_oracle_calls", otf.max_oracle_calls);
  if (otf.max_oracle_calls < 0) section.fail("max_oracle_calls", "must not be negative");
  otf.max_consecutive_failures =
      small_count(section, "max_consecutive_failures", otf.max_consecutive_failures);
  // Defaults are rounded up to a multiple of check_interval (check_intervals
  // demands one of given values), so that a long check_interval alone works.
  const auto multiple_above = [&](long value) {
    return value % otf.check_interval == 0 ? value
                                           : (value / otf.check_interval + 1) * otf.check_interval;
  };
  otf.checkpoint_interval =
      section.integer("checkpoint_interval", multiple_above(otf.checkpoint_interval));
  if (otf.checkpoint_interval < 0) section.fail("checkpoint_interval", "must not be negative");
  otf.log_interval = section.integer("log_interval", multiple_above(otf.log_interval));
  if (otf.log_interval < 1) section.fail("log_interval", "must be at least 1 (steps)");
  otf.bitwise_resume = section.flag("bitwise_resume", otf.bitwise_resume);
  section.finish();
}

std::string stem_of(const std::filesystem::path& path) {
  return path.stem().string();
}

// md:'s temperatures on `stage`: the thermostat's target and the initial
// velocities'. Without a thermostat (nve) or MD (a relax stage) the target is
// the velocities' temperature, as builds before 2026-12-02 recorded it.
void set_md_temperatures(CampaignStage& stage, const md::RunConfig& md) {
  stage.initial_temperature = md.initial_temperature;
  stage.temperature = md.engine.thermostat.type == md::ThermostatType::none || stage.relax
                          ? md.initial_temperature
                          : md.engine.thermostat.temperature;
}

// model.species that no stage's structure holds: the loop never labels an
// environment of theirs, so the model predicts them from others' (a probe:
// SiC frames 7.9 eV/atom off after a Si-only campaign with species [Si, C]).
void warn_unlearnt_species(const OtfConfig& config) {
  std::vector<int> unlearnt;
  for (int z : config.model.descriptor.species)
    if (std::find(config.species.begin(), config.species.end(), z) == config.species.end())
      unlearnt.push_back(z);
  if (!unlearnt.empty())
    logger().warn(
        "{}: model.species {} in no stage's structure: the run learns nothing about {}, and the "
        "model will be unreliable wherever {} (add a stage that holds {})",
        config.source.string(), symbols_text(unlearnt, ", "), unlearnt.size() == 1 ? "it" : "them",
        unlearnt.size() == 1 ? "it occurs" : "they occur", unlearnt.size() == 1 ? "it" : "them");
}

// otfgp train's keys that the loop does its own way: it picks each labelled
// frame's sparse points (otf.max_sparse_per_frame, sparse_residual_threshold)
// and calibrates the force std online (otf.calibration_frames).
void refuse_train_only_keys(const ConfigSection& model) {
  if (model.has("calibration"))
    model.fail("calibration",
               "otfgp otf calibrates the force std online on its MD frames: set "
               "otf.calibration_frames and otf.calibration_window instead");
  // Other keys (typos) are left to the train reader, which names the closest.
  if (auto sparse = model.optional_section("sparse"))
    for (const std::string& key : sparse->keys())
      if (key == "method" || key == "count" || key == "total" || key == "threshold" ||
          key == "seed" || key == "replay")
        sparse->fail(key,
                     "otfgp otf picks each labelled frame's sparse points itself: set "
                     "otf.max_sparse_per_frame and otf.sparse_residual_threshold instead (of "
                     "sparse, only min_residual applies)");
}

// One entry of `campaign:`; temperature, pressure and steps default to `md:`'s.
// A stage's `temperature` sets both its target and its velocities unless it
// also gives `initial_temperature`.
CampaignStage read_campaign_stage(ConfigSection entry, const md::RunConfig& md,
                                  const std::filesystem::path& base) {
  const md::EngineSettings& engine = md.engine;
  const bool npt = engine.barostat.enabled;
  entry.expect_keys({"structure", "format", "temperature", "initial_temperature", "pressure",
                     "steps", "name", "relax"});
  CampaignStage stage;
  stage.structure = resolve(base, entry.text("structure"));
  stage.format = entry.text("format", "auto");
  stage.name = entry.text("name", stem_of(stage.structure));
  stage.relax = entry.flag("relax", false);
  if (stage.relax) {
    for (const char* key : {"temperature", "initial_temperature", "steps"})
      if (entry.has(key))
        entry.fail(key, "a relax stage runs no MD (it relaxes its structure on the model)");
  }
  set_md_temperatures(stage, md);
  if (entry.has("temperature")) {
    stage.temperature = entry.number("temperature");
    stage.initial_temperature = stage.temperature;
    if (!(stage.temperature >= 0)) entry.fail("temperature", "must not be negative (K)");
    if (!(stage.temperature > 0) && engine.thermostat.type != md::ThermostatType::none)
      entry.fail("temperature", "must be positive with a thermostat");
  }
  stage.initial_temperature = entry.number("initial_temperature", stage.initial_temperature);
  if (!(stage.initial_temperature >= 0))
    entry.fail("initial_temperature", "must not be negative (K)");
  if (engine.thermostat.type == md::ThermostatType::none)
    stage.temperature = stage.initial_temperature;
  if (entry.has("pressure")) {
    if (!npt && !stage.relax) entry.fail("pressure", "needs md.ensemble npt (or relax: true)");
    stage.pressure = read_target_pressure(entry, "pressure");
  } else if (npt) {
    stage.pressure = engine.barostat.pressure;
  }
  stage.steps = stage.relax ? 0 : entry.integer("steps", md.steps);
  if (stage.steps < 0) entry.fail("steps", "must not be negative");
  entry.finish();
  return stage;
}

// What every stage of `campaign:` sets itself, which md: may then leave out
// (md::StageKeys: the first stage without each); a relax stage runs no MD, so
// only its pressure counts. A key left empty (`steps: ~`) counts as set: the
// stage's own reading then says it has no value.
md::StageKeys keys_the_stages_set(const ConfigSection& root) {
  md::StageKeys keys;
  if (!root.has("campaign")) return keys;
  keys.campaign = true;
  const std::vector<ConfigSection> entries = root.sections("campaign");
  for (int k = static_cast<int>(entries.size()); k >= 1; --k) {  // the first lacking wins
    const ConfigSection& entry = entries[k - 1];
    const auto set = [&](const char* key) { return entry.node()[key].IsDefined(); };
    if (!set("pressure")) keys.pressure = k;
    if (set("relax") && entry.flag("relax", false)) continue;
    if (!set("steps")) keys.steps = k;
    if (!set("temperature")) keys.target_temperature = k;
    if (!set("temperature") && !set("initial_temperature")) keys.initial_temperature = k;
  }
  return keys;
}

// Exactly one of `structure:` (one stage with `md:`'s settings) and `campaign:`.
std::vector<CampaignStage> read_stages(const ConfigSection& root, const md::RunConfig& md,
                                       const std::filesystem::path& base) {
  if (root.has("structure") == root.has("campaign"))
    throw Error(root.location() +
                ": give exactly one of 'structure' (one run) and 'campaign' (a list of stages)");
  std::vector<CampaignStage> stages;
  if (root.has("structure")) {
    CampaignStage stage;
    set_md_temperatures(stage, md);
    stage.structure = resolve(base, root.text("structure"));
    stage.name = stem_of(stage.structure);
    if (md.engine.barostat.enabled) stage.pressure = md.engine.barostat.pressure;
    stage.steps = md.steps;
    stages.push_back(stage);
  } else {
    std::vector<ConfigSection> entries = root.sections("campaign");
    if (entries.empty()) root.fail("campaign", "expected at least one stage");
    for (ConfigSection& entry : entries) stages.push_back(read_campaign_stage(entry, md, base));
  }
  return stages;
}

// Reads every stage's structure (into stage.start) and returns their atomic
// numbers; each is validated and checked as the MD engine will check it (atom
// distances, a fully periodic cell for npt): before the first oracle call.
std::set<int> read_stage_structures(const ConfigSection& root, std::vector<CampaignStage>& stages,
                                    const md::EngineSettings& engine) {
  std::set<int> species;
  for (std::size_t k = 0; k < stages.size(); ++k) {
    CampaignStage& stage = stages[k];
    if (!std::filesystem::exists(stage.structure))
      throw Error(root.file() + ": structure file " + stage.structure.string() + " not found");
    const Structure& structure = stage.start;
    try {
      stage.start = read_structure(stage.structure, stage.format);
      structure.validate();
      structure.refuse_fixed_atoms("the structure", "otfgp otf");
      AtomState state = AtomState::from_structure(structure);
      md::check_starting_structure(state, engine);
      const bool periodic = structure.pbc[0] && structure.pbc[1] && structure.pbc[2];
      if (stage.relax && stage.pressure && !periodic)
        throw Error(
            "a relax stage at a pressure relaxes the cell, which needs periodic "
            "boundaries in all three directions (leave out 'pressure' to relax the "
            "positions only)");
    } catch (const Error& error) {
      throw Error(root.file() + ": the starting structure of stage " + std::to_string(k + 1) +
                  " (" + stage.structure.string() + "): " + error.what());
    }
    species.insert(structure.numbers.begin(), structure.numbers.end());
  }
  return species;
}

// How many atoms of `stage` have no neighbour within their pair's descriptor
// cutoff (model.descriptor.cutoff, or its pair_cutoffs entry).
int atoms_without_neighbours(const ConfigSection& root, const B2Settings& descriptor,
                             const CampaignStage& stage, int k) {
  const double cutoff = descriptor.max_cutoff();
  AtomState state = AtomState::from_structure(stage.start);
  NeighborList list(cutoff, 0.0);
  try {
    list.build(state);
  } catch (const Error& error) {
    throw Error(root.file() + ": model.descriptor.cutoff (" + format_significant(cutoff, 6) +
                " Å) with the starting structure of stage " + std::to_string(k + 1) + " (" +
                stage.structure.string() + "): " + error.what());
  }
  // The descriptor's own entries: the neighbours within each pair's cutoff.
  const DescriptorValues values = B2Descriptor(descriptor).compute(state, list, false);
  int alone = 0;
  for (int i = 0; i < state.natoms; ++i) alone += values.offsets[i + 1] == values.offsets[i];
  return alone;
}

// A descriptor cutoff shorter than every distance in a starting structure
// leaves the model nothing to see (every descriptor is the same), which shows
// up only after the first oracle call as a model that cannot fit its frame.
void check_descriptor_cutoff(const ConfigSection& root, const OtfConfig& config) {
  const B2Settings& descriptor = config.model.descriptor;
  const std::string cutoffs = "model.descriptor.cutoff (" +
                              format_significant(descriptor.cutoff, 6) + " Å)" +
                              (descriptor.pair_cutoffs.empty() ? "" : " or their pair_cutoffs");
  for (std::size_t k = 0; k < config.stages.size(); ++k) {
    const CampaignStage& stage = config.stages[k];
    const int natoms = static_cast<int>(stage.start.size());
    const int alone = atoms_without_neighbours(root, descriptor, stage, static_cast<int>(k));
    if (alone == 0 || natoms < 2) continue;
    const std::string what = std::to_string(alone) + " of the " + std::to_string(natoms) +
                             " atoms of the starting structure of stage " + std::to_string(k + 1) +
                             " (" + stage.structure.string() + ") have no neighbour within " +
                             cutoffs;
    if (alone == natoms)
      throw Error(root.file() + ": " + what +
                  ": the model would see no environment at all; the cutoff is in Å and should "
                  "reach past the nearest neighbours (typically 4-6 Å)");
    logger().warn("{}: {}: their descriptors are empty and the model cannot fit their forces",
                  root.file(), what);
  }
}

// Held-out frames are evaluated with the model after every update: frames
// without forces, or with a species the model does not describe, would stop
// the run after the first oracle call. Reads them into config.held_out_frames.
void read_held_out(const ConfigSection& root, OtfConfig& config) {
  try {
    config.held_out_frames = read_structures(*config.held_out);
  } catch (const Error& error) {
    root.fail("held_out", error.what());
  }
  const std::vector<Structure>& frames = config.held_out_frames;
  if (frames.empty())
    root.fail("held_out", config.held_out->string() + " holds no frame to measure the model on");
  const std::vector<int>& described = config.model.descriptor.species;
  for (std::size_t f = 0; f < frames.size(); ++f) {
    if (frames[f].numbers.empty())
      root.fail("held_out",
                config.held_out->string() + " frame " + std::to_string(f + 1) + " has no atoms");
    if (!frames[f].forces)
      root.fail("held_out", config.held_out->string() + " frame " + std::to_string(f + 1) +
                                " has no forces; held-out frames need labels to compare with "
                                "(otfgp label labels frames with the oracle)");
    for (int z : frames[f].numbers)
      if (std::find(described.begin(), described.end(), z) == described.end()) {
        root.fail("held_out",
                  config.held_out->string() + " frame " + std::to_string(f + 1) + " has " +
                      element(z).symbol + ", which the model does not describe (its species: " +
                      symbols_text(described) + ", from the starting structures or model.species)");
      }
  }
}

// The loop sees the MD only at its checks: every output interval must be a
// multiple of otf.check_interval.
void check_intervals(const ConfigSection& root, const OtfConfig& config) {
  const long check = config.otf.check_interval;
  const auto multiple = [&](long value, const std::string& key) {
    if (value > 0 && value % check != 0)
      throw Error(root.file() + ": " + key + " (" + std::to_string(value) +
                  ") must be a multiple of otf.check_interval (" + std::to_string(check) + ")");
  };
  multiple(config.md.output.trajectory_interval, "md.output.trajectory_interval");
  multiple(config.otf.log_interval, "otf.log_interval");
  multiple(config.otf.checkpoint_interval, "otf.checkpoint_interval");
}

// A file where the output folder (or one above it) should be would fail later
// as a raw filesystem error.
void check_output_is_folder(const ConfigSection& root, const std::filesystem::path& output) {
  for (std::filesystem::path p = output; !p.empty(); p = p.parent_path()) {
    std::error_code ignored;
    if (std::filesystem::exists(p, ignored)) {
      if (!std::filesystem::is_directory(p, ignored))
        root.fail("output", "must be a directory, and " + p.string() + " is a file" +
                                (p == output ? "" : " (a folder above it)"));
      return;
    }
    if (p == p.parent_path()) return;
  }
}

}  // namespace

OtfConfig read_otf_config(const std::filesystem::path& path) {
  ConfigSection root = ConfigSection::load(path);
  // Keys of the other verbs' configs that otf replaces by something else.
  md::refuse_keys_otf_replaces(root);
  root.expect_keys({"structure", "md", "model", "oracle", "otf", "campaign", "held_out", "output"});
  OtfConfig config;
  config.source = path;
  const std::filesystem::path base = path.parent_path().empty() ? "." : path.parent_path();

  if (!root.has("md")) throw Error(root.location() + ": missing required key 'md'");
  config.md = md::read_md_section(root.section("md"), keys_the_stages_set(root));
  config.stages = read_stages(root, config.md, base);
  config.campaign = root.has("campaign");
  const std::set<int> species = read_stage_structures(root, config.stages, config.md.engine);
  if (root.has("held_out")) {
    config.held_out = resolve(base, root.text("held_out"));
    if (!std::filesystem::exists(*config.held_out))
      root.fail("held_out", "file " + config.held_out->string() + " not found");
  }
  config.species.assign(species.begin(), species.end());

  if (root.has("model")) refuse_train_only_keys(root.section("model"));
  config.model = root.has("model") ? read_gp_train_config(root.section("model"), config.species)
                                   : default_gp_train_config(config.species);
  if (config.model.two_body_auto)
    root.section("model").section("kernel").fail(
        "two_body",
        "'auto' trains the model 7 times to choose w, which the loop cannot do at every update: "
        "give a weight (e.g. the one otfgp train chose on similar frames; docs/gp.md, "
        "\"Two-body part\")");
  config.training = gp_training_settings(config.model);
  warn_unlearnt_species(config);

  if (!root.has("oracle")) throw Error(root.location() + ": missing required key 'oracle'");
  config.oracle = oracle::make_oracle(root.section("oracle"), base);
  config.oracle_settings = oracle::label_settings(root.section("oracle"), *config.oracle);

  if (auto otf = root.optional_section("otf")) read_otf_section(*otf, config.otf);
  // A frame of S species holds S kinds of environment: 10 per species, as
  // otfgp train takes (10 in all left a CuNi run's model 60 % worse than a
  // refit of its own frames).
  if (!(root.has("otf") && root.section("otf").has("max_sparse_per_frame")))
    config.otf.max_sparse_per_frame =
        OtfSettings::sparse_per_species *
        static_cast<int>(std::max<std::size_t>(1, config.model.descriptor.species.size()));
  const ConfigSection md_section = root.section("md");
  const bool trajectory_given =
      md_section.has("output") && md_section.section("output").has("trajectory_interval");
  long& trajectory = config.md.output.trajectory_interval;
  if (!trajectory_given && trajectory % config.otf.check_interval != 0)
    trajectory = (trajectory / config.otf.check_interval + 1) * config.otf.check_interval;
  check_intervals(root, config);
  const std::string output = root.text("output", "otf-output");
  if (output.empty())
    root.fail("output", "must name a folder (an empty name would fill the current folder)");
  config.output = resolve(std::filesystem::current_path(), output);
  root.finish();
  check_otf_output_paths(config);
  check_output_is_folder(root, config.output);
  // What would fail only after the first oracle call.
  check_descriptor_cutoff(root, config);
  if (config.held_out) read_held_out(root, config);
  return config;
}

void check_otf_output_paths(const OtfConfig& config) {
  std::vector<NamedPath> inputs = {{"config", config.source}};
  for (const CampaignStage& stage : config.stages) inputs.push_back({"structure", stage.structure});
  if (config.held_out) inputs.push_back({"held_out", *config.held_out});
  // The files otf_loop.cpp and otf_plots.cpp write in the output folder.
  std::vector<NamedPath> outputs = {{"folder", config.output}};
  for (const std::string& name : otf_output_files())
    outputs.push_back({name + " in output:", config.output / name});
  try {
    check_output_paths(inputs, outputs);
    check_inputs_outside_folder(inputs, {"output/checkpoint", config.output / "checkpoint"});
    check_inputs_outside_folder(inputs, {"output/oracle", config.output / "oracle"});
  } catch (const Error& error) {
    throw Error(config.source.string() + ": " + error.what());
  }
}

}  // namespace otfgp::otf
