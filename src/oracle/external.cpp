#include "otfgp/oracle/external.hpp"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "otfgp/core/units.hpp"

namespace otfgp::oracle {

namespace {

bool is_launcher(const std::string& word) {
  static const std::set<std::string> launchers = {"mpirun", "mpiexec", "orterun", "srun",
                                                  "aprun",  "env",     "nice",    "taskset",
                                                  "time",   "numactl", "timeout", "stdbuf"};
  return launchers.count(std::filesystem::path(word).filename().string()) > 0;
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

}  // namespace

ExternalCommand read_external_command(const ConfigSection& section,
                                      const std::filesystem::path& base_dir,
                                      const std::string& default_command) {
  ExternalCommand command;
  command.key = section.name("command");
  const std::string text = section.text("command", default_command);
  try {
    command.words = split_command(text);
  } catch (const Error& error) {  // an unterminated quote
    section.fail("command", error.what());
  }
  if (command.words.empty()) section.fail("command", "empty command");
  // The program runs in the oracle's working directory: paths relative to
  // the config's folder are made absolute (the program when it has a slash,
  // any other word that names an existing file there).
  for (std::size_t i = 0; i < command.words.size(); ++i) {
    std::string& word = command.words[i];
    const std::filesystem::path path = word;
    if (word.empty() || word[0] == '-' || path.is_absolute() || word.find('{') != std::string::npos)
      continue;
    const bool has_slash = word.find('/') != std::string::npos;
    if ((i == 0 && has_slash) || (i > 0 && std::filesystem::is_regular_file(base_dir / path)))
      word = std::filesystem::absolute(base_dir / path).lexically_normal().string();
  }
  if (auto timeout = section.optional_number("timeout")) {
    if (!(*timeout > 0)) section.fail("timeout", "must be a positive number of seconds");
    command.timeout = *timeout;
  }
  if (auto environment = section.optional_section("environment")) {
    if (!environment->node().IsMap())
      section.fail("environment", "expected a mapping of variable names to values");
    for (const auto& name : environment->keys())
      command.environment[name] = environment->text(name);
  }
  return command;
}

void check_external_command(const ExternalCommand& command) {
  const std::string text = joined(command.words);
  // The program runs with the PATH of `environment` when it sets one (as
  // run_process looks it up), and so does the code behind a launcher.
  const auto path = command.environment.find("PATH");
  const std::optional<std::string> search_path =
      path == command.environment.end() ? std::nullopt : std::optional(path->second);
  const std::string where =
      search_path ? fmt::format("on the PATH its environment sets ({})", *search_path) : "on PATH";
  if (!find_executable(command.words.front(), search_path))
    throw Error(fmt::format(
        "{}: program '{}' of command '{}' not found{}", command.key, command.words.front(), text,
        command.words.front().find('/') == std::string::npos ? " " + where : ""));
  if (!is_launcher(command.words.front())) return;
  // Behind a launcher, the first later word that names a program is the code.
  for (std::size_t i = 1; i < command.words.size(); ++i) {
    const std::string& word = command.words[i];
    if (word.empty() || word[0] == '-' || word.find('=') != std::string::npos) continue;
    if (is_launcher(word)) continue;
    if (find_executable(word, search_path)) return;
  }
  throw Error(
      fmt::format("{}: no program found after '{}' in command '{}' (the code it launches "
                  "is not {})",
                  command.key, command.words.front(), text, where));
}

std::array<int, 3> kpoint_mesh(const Structure& structure, double spacing) {
  const Eigen::Matrix3d reciprocal = structure.cell.inverse().transpose();
  std::array<int, 3> mesh{1, 1, 1};
  for (int i = 0; i < 3; ++i)
    if (structure.pbc[i])
      mesh[i] = std::max(
          1,
          static_cast<int>(std::ceil(2 * units::pi * reciprocal.row(i).norm() / spacing - 1e-9)));
  return mesh;
}

void prepare_workdir(const std::filesystem::path& workdir) {
  std::error_code error;
  std::filesystem::create_directories(workdir, error);
  if (error || !std::filesystem::is_directory(workdir))
    throw Error("cannot create the oracle's working directory " + workdir.string() + ": " +
                error.message());
}

std::string file_tail(const std::filesystem::path& path, std::size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

std::string read_output(const std::filesystem::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw OracleFailure(FailureKind::unparsable_output,
                        what + " wrote no output file " + path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void unparsable(const std::string& source, const std::string& what) {
  throw OracleFailure(FailureKind::unparsable_output, source + ": " + what);
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

std::string failure_details(const ProcessResult& result, const std::filesystem::path& workdir,
                            const std::filesystem::path& stdout_file) {
  std::string text;
  if (!result.stderr_tail.empty()) text += "\n--- stderr (tail) ---\n" + result.stderr_tail;
  const std::string output = file_tail(workdir / stdout_file);
  if (!output.empty()) text += "\n--- " + stdout_file.string() + " (tail) ---\n" + output;
  return text;
}

ProcessResult run_external(const ExternalCommand& command,
                           const std::vector<std::string>& arguments,
                           const std::filesystem::path& workdir,
                           const std::filesystem::path& stdout_file, const std::string& what,
                           bool check_exit_status,
                           const std::optional<std::filesystem::path>& stdin_file) {
  std::vector<std::string> words = command.words;
  words.insert(words.end(), arguments.begin(), arguments.end());
  ProcessOptions options;
  options.working_directory = workdir;
  options.environment = command.environment;
  options.stdout_file = workdir / stdout_file;
  options.stdin_file = stdin_file;
  if (command.timeout) options.timeout = std::chrono::duration<double>(*command.timeout);
  const ProcessResult result = run_process(words, options);
  if (result.timed_out)
    throw OracleFailure(FailureKind::timeout,
                        fmt::format("{} in {} timed out after {:g} s ({}){}", what,
                                    workdir.string(), *command.timeout, joined(words),
                                    failure_details(result, workdir, stdout_file)));
  if (check_exit_status && result.exit_status != 0)
    fail_nonzero_exit(result, workdir, stdout_file, what);
  return result;
}

void fail_nonzero_exit(const ProcessResult& result, const std::filesystem::path& workdir,
                       const std::filesystem::path& stdout_file, const std::string& what) {
  throw OracleFailure(
      FailureKind::nonzero_exit,
      fmt::format("{} in {} exited with status {}{}", what, workdir.string(), result.exit_status,
                  failure_details(result, workdir, stdout_file)));
}

KpointSampling read_kpoint_sampling(const ConfigSection& section,
                                    std::optional<double> default_spacing) {
  if (section.has("kspacing") && section.has("kpoints"))
    section.fail("kpoints", "give either kspacing or kpoints, not both");
  KpointSampling sampling;
  if (section.has("kpoints")) {
    const auto mesh = section.integers("kpoints", 3);
    std::array<int, 3> kpoints{};
    for (int i = 0; i < 3; ++i) {
      if (mesh[i] < 1) section.fail("kpoints", "divisions must be at least 1");
      kpoints[i] = static_cast<int>(mesh[i]);
    }
    sampling.kpoints = kpoints;
    return sampling;
  }
  std::optional<double> spacing = section.optional_number("kspacing");
  if (!spacing) spacing = default_spacing;
  if (spacing && !(*spacing > 0)) section.fail("kspacing", "must be positive (1/Å)");
  sampling.kspacing = spacing;
  return sampling;
}

Structure labelled_structure(const Structure& structure, const DftLabels& labels,
                             bool with_stress) {
  Structure labelled = structure;
  labelled.energy = labels.energy;
  labelled.forces = labels.forces;
  if (with_stress) labelled.stress = labels.stress;
  return labelled;
}

std::string run_dft(const ExternalCommand& given, const DftRun& run, const std::string& input,
                    const std::filesystem::path& workdir, int attempt) {
  // The retry's safer SCF (lower mixing, more steps) is slower: it gets twice
  // the time, or a timeout would only repeat itself.
  ExternalCommand command = given;
  if (attempt > 0 && command.timeout) *command.timeout *= 2.0;
  {
    std::ofstream file(workdir / run.input_file);
    file << input;
    if (!file) throw Error("cannot write " + (workdir / run.input_file).string());
  }
  const ProcessResult result = run_external(command, run.arguments, workdir, run.output_file,
                                            run.what, /*check_exit_status=*/false);
  std::string output = read_output(workdir / run.output_file, run.what);
  const bool unconverged = output.find(run.unconverged_marker) != std::string::npos;
  if (result.exit_status != 0 && !unconverged)
    fail_nonzero_exit(result, workdir, run.output_file, run.what);
  return output;
}

}  // namespace otfgp::oracle
