// otfgp label: energy, forces and stress of every frame from an oracle (QE,
// CP2K, LAMMPS, an otfgp potential, an external command), with the on-the-fly
// loop's retry policy; for held-out sets labelled by DFT and for timing the
// oracle on its own.

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <set>

#include "commands.hpp"
#include "otfgp/core/config.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/extxyz.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/output_paths.hpp"
#include "otfgp/oracle/oracle.hpp"

namespace otfgp::cli {

namespace {

struct LabelOptions {
  std::string config;
  std::string input;
  std::string output;
  std::string format = "auto";
  std::string workdir;
  bool keep = false;
};

// The `oracle:` section of any config (an otfgp otf config, or a file
// holding only that section); the rest of the file is not read here.
std::unique_ptr<oracle::Oracle> read_oracle(const std::string& config) {
  const ConfigSection root = ConfigSection::load(config);
  if (!root.has("oracle"))
    throw Error(config + ": no 'oracle:' section (kinds: " + [] {
      std::string text;
      for (const auto& kind : oracle::oracle_kinds()) text += (text.empty() ? "" : ", ") + kind;
      return text;
    }() + ")");
  return oracle::make_oracle(root.section("oracle"),
                             std::filesystem::absolute(config).parent_path());
}

// The frames to label, every species of which the oracle must know.
std::vector<Structure> read_frames(const LabelOptions& options, const oracle::Oracle& oracle) {
  std::vector<Structure> frames = read_structures(options.input, options.format);
  if (frames.empty()) throw Error("'" + options.input + "' has no structures");
  std::set<int> species;
  for (const auto& frame : frames)
    for (int z : frame.species()) species.insert(z);
  oracle.check(std::vector<int>(species.begin(), species.end()));
  return frames;
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
    // A labelled frame's scratch goes, failed attempts' included; frames
    // that fail twice keep theirs for inspection.
    if (result && !keep)
      for (int done = 0; done <= attempt; ++done)
        std::filesystem::remove_all(attempt_folder(workdir, k, done));
    if (interrupt_requested()) break;
  }
  return result;
}

void run_label(const LabelOptions& options) {
  check_output_paths({{"config", options.config}, {"input", options.input}},
                     {{"-o", options.output}, {"--workdir", options.workdir}});
  check_writable(options.output);
  // From here on Ctrl-C and SIGTERM stop the work cleanly (exit 130/143), the
  // oracle's trial run in read_frames included: its process is killed and its
  // scratch folder removed.
  InterruptGuard guard;
  auto oracle = read_oracle(options.config);
  const std::vector<Structure> frames = read_frames(options, *oracle);
  // A signal while reading (outside the trial run) leaves an earlier output alone.
  if (interrupt_requested())
    throw InterruptedError(interrupt_signal(), "interrupted before any frame was labelled");
  const std::filesystem::path workdir = scratch_folder(options);
  logger().info("labelling {} frame(s) from {} with the {} oracle (scratch in {})", frames.size(),
                options.input, oracle->kind(), workdir.string());
  // Each labelled frame is appended at once: a DFT result is never lost to a
  // later failure or an interrupt.
  std::filesystem::remove(options.output);
  int labelled = 0;
  std::vector<std::size_t> skipped;
  double seconds = 0.0;
  for (std::size_t k = 0; k < frames.size(); ++k) {
    const std::optional<Structure> result =
        label_frame(*oracle, frames, k, workdir, options.keep, seconds);
    if (result) {
      write_extxyz(options.output, *result, /*append=*/true);
      ++labelled;
    } else if (!interrupt_requested()) {
      skipped.push_back(k + 1);
    }
    if (interrupt_requested())
      throw InterruptedError(interrupt_signal(),
                             fmt::format("interrupted after {} labelled frame(s), written to {}",
                                         labelled, options.output));
  }
  std::error_code ignored;
  if (!options.keep && std::filesystem::is_directory(workdir) && std::filesystem::is_empty(workdir))
    std::filesystem::remove(workdir, ignored);
  logger().info("wrote {} labelled frame(s) to {}; {:.2f} s per frame on average", labelled,
                options.output, labelled > 0 ? seconds / labelled : 0.0);
  if (!skipped.empty()) {
    std::string list;
    for (auto k : skipped) list += (list.empty() ? "" : ", ") + std::to_string(k);
    throw Error(
        fmt::format("{} of {} frame(s) could not be labelled after a retry (frames {}); "
                    "their scratch folders are in {}",
                    skipped.size(), frames.size(), list, workdir.string()));
  }
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
  commands.emplace_back(command, [options] { run_label(*options); });
}

}  // namespace otfgp::cli
