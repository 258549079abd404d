// otfgp label: energy, forces and stress of every frame from an oracle (QE,
// CP2K, LAMMPS, an otfgp potential, an external command), with the on-the-fly
// loop's retry policy; for held-out sets labelled by DFT and for timing the
// oracle on its own.

#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "commands.hpp"
#include "otfgp/core/config.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/extxyz.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/output_lock.hpp"
#include "otfgp/core/output_paths.hpp"
#include "otfgp/md/run.hpp"
#include "otfgp/oracle/oracle.hpp"
#include "otfgp/oracle/oracle_settings.hpp"

namespace otfgp::cli {

namespace {

struct LabelOptions {
  std::string config;
  std::string input;
  std::string output;
  std::string format = "auto";
  std::string workdir;
  bool keep = false;
  bool resume = false;
};

// What decides the labels: oracle::label_settings of the `oracle:` section, and
// its fingerprint, which every frame labelled records (info key
// oracle_settings) and a --resume compares.
struct LabelSettings {
  std::string text, fingerprint;
  // The fingerprints older builds gave these settings: before 2026-12-03 with
  // a `command` kind's command line as written (oracle::label_settings_as_written),
  // before 2026-12-02 also without the contents of parameter files no key
  // names (oracle::settings_as_recorded).
  std::string fingerprint_as_written, fingerprint_without_files;
  std::string kind;  // the oracle's
  // What with_label_defaults compares with: a default written out, or an
  // alias, is no change.
  const oracle::Oracle* oracle = nullptr;
};

// The `oracle:` section of any config (an otfgp otf config, or a file
// holding only that section); the rest of the file is not read here.
std::unique_ptr<oracle::Oracle> read_oracle(const std::string& config, LabelSettings& settings) {
  const ConfigSection root = ConfigSection::load(config);
  if (!root.has("oracle"))
    throw Error(config + ": no 'oracle:' section (kinds: " + [] {
      std::string text;
      for (const auto& kind : oracle::oracle_kinds()) text += (text.empty() ? "" : ", ") + kind;
      return text;
    }() + ")");
  auto oracle =
      oracle::make_oracle(root.section("oracle"), std::filesystem::absolute(config).parent_path());
  settings.text = oracle::label_settings(root.section("oracle"), *oracle);
  settings.fingerprint = oracle::label_fingerprint(root.section("oracle"), *oracle);
  const std::string as_written = oracle::label_settings_as_written(root.section("oracle"), *oracle);
  settings.kind = oracle->kind();
  settings.oracle = oracle.get();
  settings.fingerprint_as_written = oracle::label_fingerprint(oracle->kind(), as_written);
  settings.fingerprint_without_files =
      oracle::label_fingerprint(oracle->kind(), oracle::settings_as_recorded("", as_written));
  return oracle;
}

// The frames to label, every species of which the oracle must know, without
// the results of any earlier calculation (the output holds the oracle's alone).
std::vector<Structure> read_frames(const LabelOptions& options, const oracle::Oracle& oracle) {
  std::vector<Structure> frames = read_structures(options.input, options.format);
  if (frames.empty()) throw Error("'" + options.input + "' has no structures");
  std::set<int> species;
  for (const auto& frame : frames)
    for (int z : frame.species()) species.insert(z);
  oracle.check(std::vector<int>(species.begin(), species.end()));
  for (std::size_t k = 0; k < frames.size(); ++k) try {
      frames[k].validate();
      oracle.check_structure(frames[k]);
      frames[k].clear_results();
    } catch (const Error& error) {
      throw Error(fmt::format("{}, frame {} ({}): {}", options.input, k + 1, frames[k].formula(),
                              error.what()));
    }
  return frames;
}

// Whether OUTPUT exists and is not empty.
bool output_holds_frames(const LabelOptions& options) {
  std::error_code error;
  return std::filesystem::exists(options.output, error) &&
         !(std::filesystem::is_regular_file(options.output, error) &&
           std::filesystem::file_size(options.output, error) == 0);
}

// Without --resume, OUTPUT must not hold frames: a re-run does not replace an
// earlier run's DFT results.
void refuse_labelled_output(const LabelOptions& options) {
  if (!options.resume && output_holds_frames(options))
    throw Error("-o '" + options.output +
                "' exists and may hold frames an earlier run labelled: --resume labels only the "
                "frames after them; to start over, delete it or give another -o");
}

// Beside OUTPUT: the settings its frames were labelled with, in full (a frame
// records only their fingerprint), for a --resume with other settings to name
// the key that differs.
std::filesystem::path settings_file(const LabelOptions& options) {
  return options.output + ".oracle-settings";
}

void write_settings_file(const LabelOptions& options, const LabelSettings& settings) {
  OutputFile file(settings_file(options));
  file.stream() << "# oracle_settings: " << settings.fingerprint << "\n" << settings.text;
  file.commit();
}

// The settings file beside OUTPUT: the fingerprint it records, and the settings.
std::optional<std::pair<std::string, std::string>> read_settings_file(const LabelOptions& options) {
  std::ifstream in(settings_file(options));
  const std::string prefix = "# oracle_settings: ";
  std::string first;
  if (!std::getline(in, first) || first.rfind(prefix, 0) != 0) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return std::make_pair(first.substr(prefix.size()), text.str());
}

// The fingerprint of the settings file beside OUTPUT when it holds these
// settings as an older build wrote them (oracle::settings_as_recorded: a
// command spaced or quoted otherwise), so that frames recording it are this
// config's; "" otherwise.
std::string fingerprint_as_recorded(const LabelOptions& options, const LabelSettings& now) {
  const auto file = read_settings_file(options);
  if (!file) return "";
  const std::string compared = oracle::settings_as_recorded(file->second, now.text);
  return oracle::label_fingerprint(now.kind, compared) == file->first ? file->first : "";
}

// With --resume, settings that are the recorded ones by value (a default
// written out, an alias: oracle::with_label_defaults) take the recorded text
// and fingerprint, so that the output's frames keep one.
void adopt_recorded_settings(const LabelOptions& options, LabelSettings& settings) {
  if (!options.resume) return;
  const auto file = read_settings_file(options);
  if (!file) return;
  // Records of older builds (settings_as_recorded changes them) are left to
  // fingerprint_as_recorded: this run's frames then record today's settings.
  if (oracle::settings_as_recorded(file->second, settings.text) != settings.text ||
      oracle::with_label_defaults(file->second, *settings.oracle) !=
          oracle::with_label_defaults(settings.text, *settings.oracle))
    return;
  settings.text = file->second;
  settings.fingerprint = file->first;
}

// "; oracle.KEY was A, this config has B" when the settings file beside OUTPUT
// is that of `recorded`; "" when it is missing or another's.
std::string settings_change(const LabelOptions& options, const std::string& recorded,
                            const LabelSettings& now) {
  const auto file = read_settings_file(options);
  if (!file || file->first != recorded) return "";
  const std::optional<md::SettingChange> change =
      oracle::first_label_change(file->second, now.text, *now.oracle);
  if (!change) return "";
  return fmt::format("; {} was {}, this config has {}", change->key,
                     change->before.value_or("(not set)"), change->now.value_or("(not set)"));
}

// With --resume: the index of the first INPUT frame after those OUTPUT holds,
// which must be INPUT's frames in order, with gaps where a frame failed twice
// (listed in `missing`, 1-based; not retried, as the output keeps INPUT's
// order). 0 without --resume.
std::size_t labelled_before(const LabelOptions& options, const std::vector<Structure>& frames,
                            const LabelSettings& settings, std::vector<std::size_t>& missing) {
  if (!options.resume || !output_holds_frames(options)) return 0;
  std::vector<Structure> stored;
  try {
    stored = read_extxyz(options.output);
  } catch (const Error& failure) {
    throw Error("--resume: cannot read the frames already in -o '" + options.output +
                "': " + failure.what());
  }
  std::size_t next = 0, unrecorded = 0, without_files = 0;
  const std::string as_recorded = fingerprint_as_recorded(options, settings);
  for (std::size_t s = 0; s < stored.size(); ++s) {
    const std::optional<std::string> recorded = stored[s].info_value("oracle_settings");
    if (!recorded) ++unrecorded;
    const bool same = recorded && (*recorded == settings.fingerprint ||
                                   *recorded == settings.fingerprint_as_written ||
                                   (!as_recorded.empty() && *recorded == as_recorded));
    const bool older = recorded && !same && *recorded == settings.fingerprint_without_files;
    if (older) ++without_files;
    if (recorded && !same && !older)
      throw Error(fmt::format(
          "--resume: frame {} of -o '{}' was labelled with other oracle settings ({}; this "
          "config's: {}{}), and labels of different settings would mix in one file: give another "
          "-o, or restore the oracle: section the frames were labelled with (its command, "
          "environment, timeout, pseudo_dir or data_dir, and SCF mixing, limits and thresholds "
          "may change; docs/oracles.md)",
          s + 1, options.output, *recorded, settings.fingerprint,
          settings_change(options, *recorded, settings)));
    std::size_t k = next;
    while (k < frames.size() && !frames[k].same_atoms(stored[s], 1e-6)) ++k;
    if (k == frames.size())
      throw Error(
          fmt::format("--resume: frame {} of -o '{}' is none of the frames of '{}'{} "
                      "(atoms, cell or positions differ): -o is not this input's "
                      "labelling; give another -o",
                      s + 1, options.output, options.input,
                      next > 0 ? fmt::format(" after frame {}", next) : ""));
    for (; next < k; ++next) missing.push_back(next + 1);
    next = k + 1;
  }
  if (without_files > 0)
    logger().warn(
        "--resume: {} frame(s) of -o '{}' were labelled by a build that did not record the "
        "oracle's parameter files by their contents: make sure the files are the ones they were "
        "labelled with",
        without_files, options.output);
  if (unrecorded > 0)
    logger().warn(
        "--resume: {} frame(s) of -o '{}' do not record the oracle settings they were labelled "
        "with (an older build): make sure the oracle: section is the one they were labelled with",
        unrecorded, options.output);
  return next;
}

std::filesystem::path scratch_folder(const LabelOptions& options) {
  const std::filesystem::path workdir =
      std::filesystem::path(options.workdir.empty() ? options.output + ".work" : options.workdir);
  if (std::error_code error;
      std::filesystem::exists(workdir, error) && !std::filesystem::is_directory(workdir, error))
    throw Error("--workdir '" + workdir.string() +
                "' is a file, not a folder: give a folder for the oracle's scratch files");
  return workdir;
}

std::filesystem::path attempt_folder(const std::filesystem::path& workdir, std::size_t k,
                                     int attempt) {
  return workdir / fmt::format("frame-{}-attempt-{}", k, attempt);
}

// Frame k labelled on the first attempt or the retry (nothing when both fail
// or a signal came); `seconds` gains the time of the successful call.
std::optional<Structure> label_frame(oracle::Oracle& oracle, const std::vector<Structure>& frames,
                                     std::size_t k, const std::filesystem::path& workdir, bool keep,
                                     double& seconds) {
  std::optional<Structure> result;
  for (int attempt = 0; attempt < 2 && !result; ++attempt) {
    const auto start = std::chrono::steady_clock::now();
    try {
      result = oracle.label(frames[k], attempt_folder(workdir, k, attempt), attempt);
    } catch (const oracle::OracleFailure& failure) {
      logger().warn("frame {} attempt {}: {} — {}", k + 1, attempt + 1,
                    oracle::failure_kind_name(failure.kind()), failure.what());
    }
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (result) {
      seconds += elapsed;
      logger().info("frame {}/{} ({} atoms) labelled in {:.2f} s{}", k + 1, frames.size(),
                    frames[k].size(), elapsed, attempt > 0 ? " on the retry" : "");
    }
    // A labelled frame's scratch goes, failed attempts' included (and those
    // of an earlier run stopped inside them); frames that fail twice keep
    // theirs for inspection.
    if (result && !keep)
      for (int done = 0; done < 2; ++done)
        std::filesystem::remove_all(attempt_folder(workdir, k, done));
    if (interrupt_requested()) break;
  }
  return result;
}

// What the output lacks, for the error that ends a run with gaps: the frames
// this run could not label (`skipped`) and those an earlier one left out
// (`earlier`), 1-based; "" when none.
std::string unlabelled(const LabelOptions& options, std::size_t frames,
                       const std::vector<std::size_t>& skipped,
                       const std::vector<std::size_t>& earlier,
                       const std::filesystem::path& workdir) {
  const auto listed = [](const std::vector<std::size_t>& numbers) {
    std::string text;
    for (auto k : numbers) text += (text.empty() ? "" : ", ") + std::to_string(k);
    return text;
  };
  std::string missing;
  if (!skipped.empty())
    missing = fmt::format(
        "{} of {} frame(s) could not be labelled after a retry (frames {}); "
        "their scratch folders are in {}",
        skipped.size(), frames, listed(skipped), workdir.string());
  if (!earlier.empty())
    missing +=
        fmt::format("{}{} frame(s) the earlier run did not label are not in {} (frames {})",
                    missing.empty() ? "" : "; ", earlier.size(), options.output, listed(earlier));
  return missing;
}

void run_label(const LabelOptions& options) {
  check_output_paths({{"config", options.config}, {"input", options.input}},
                     {{"-o", options.output}, {"--workdir", options.workdir}});
  check_writable(options.output);
  // Beside the file the output resolves to: a symbolic link to it, or `..` in
  // its path, names the same lock.
  std::error_code error;
  const std::filesystem::path resolved =
      std::filesystem::weakly_canonical(std::filesystem::absolute(options.output), error);
  const OutputLock lock(
      (error ? std::filesystem::path(options.output) : resolved).string() + ".lock",
      "-o '" + options.output + "'", "otfgp label");
  refuse_labelled_output(options);
  // From here on Ctrl-C and SIGTERM stop the work cleanly (exit 130/143), the
  // oracle's trial run in read_frames included: its process is killed and its
  // scratch folder removed.
  InterruptGuard guard;
  LabelSettings settings;
  auto oracle = read_oracle(options.config, settings);
  const std::vector<Structure> frames = read_frames(options, *oracle);
  // A signal while reading (outside the trial run) leaves an earlier output alone.
  if (interrupt_requested())
    throw InterruptedError(interrupt_signal(), "interrupted before any frame was labelled");
  const std::filesystem::path workdir = scratch_folder(options);
  std::vector<std::size_t> earlier;  // gaps of the output a --resume keeps
  adopt_recorded_settings(options, settings);
  const std::size_t first = labelled_before(options, frames, settings, earlier);
  write_settings_file(options, settings);
  if (first > 0)
    logger().info("--resume: {} already holds {} of frames 1 to {} of {}", options.output,
                  first - earlier.size(), first, options.input);
  if (!earlier.empty())
    logger().warn(
        "--resume: {} frame(s) before frame {} are not in {} (the earlier run could "
        "not label them) and are not retried (the output keeps the input's order); "
        "label them into another -o",
        earlier.size(), first + 1, options.output);
  logger().info("labelling {} frame(s) from {} with the {} oracle (scratch in {})",
                frames.size() - first, options.input, oracle->kind(), workdir.string());
  // Each labelled frame is appended at once: a DFT result is never lost to a
  // later failure or an interrupt.
  int labelled = 0;
  double seconds = 0.0;
  std::vector<std::size_t> skipped;
  const std::string continued = fmt::format(
      "; the frames labelled so far are in {}: the same command with --resume labels the rest",
      options.output);
  for (std::size_t k = first; k < frames.size(); ++k) {
    std::optional<Structure> result;
    try {
      result = label_frame(*oracle, frames, k, workdir, options.keep, seconds);
    } catch (const InterruptedError& interrupted) {  // inside the oracle's program
      throw InterruptedError(interrupted.signal(), interrupted.what() + continued);
    }
    if (result) {
      result->set_info_value("oracle_settings", settings.fingerprint);
      write_extxyz(options.output, *result, /*append=*/true);
      ++labelled;
    } else if (!interrupt_requested()) {
      skipped.push_back(k + 1);
    }
    if (interrupt_requested())
      throw InterruptedError(
          interrupt_signal(),
          fmt::format("interrupted after {} labelled frame(s){}", labelled, continued));
  }
  std::error_code ignored;
  if (!options.keep && std::filesystem::is_directory(workdir) && std::filesystem::is_empty(workdir))
    std::filesystem::remove(workdir, ignored);
  logger().info("wrote {} labelled frame(s) to {}; {:.2f} s per frame on average", labelled,
                options.output, labelled > 0 ? seconds / labelled : 0.0);
  const std::string missing = unlabelled(options, frames.size(), skipped, earlier, workdir);
  if (!missing.empty()) throw Error(missing);
}

}  // namespace

void add_label_command(CLI::App& app, Commands& commands) {
  auto options = std::make_shared<LabelOptions>();
  CLI::App* command = app.add_subcommand(
      "label",
      "Label every frame with an oracle (qe, cp2k, lammps, potential, command) read from the "
      "'oracle:' section of a config; failed calls are retried once with safer settings");
  command->add_option("config", options->config, "YAML file with an 'oracle:' section")
      ->required()
      ->check(CLI::ExistingFile);
  add_frame_file_options(command, options->input, options->output, options->format);
  command->add_option("--workdir", options->workdir,
                      "Scratch folder for the oracle's files (default: OUTPUT.work)");
  command->add_flag("--keep", options->keep, "Keep the scratch folders of labelled frames");
  command->add_flag("--resume", options->resume,
                    "Continue an interrupted run: OUTPUT's frames (INPUT's first ones) are kept "
                    "and the frames after them labelled; without it an existing OUTPUT is refused");
  commands.emplace_back(command, [options] { run_label(*options); });
}

}  // namespace otfgp::cli
