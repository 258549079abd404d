#pragma once
// Runs an external program (DFT codes, LAMMPS, gnuplot, user commands) with
// an argument vector — no shell — in a working directory, with extra
// environment variables, optional standard input/output files and a timeout
// after which the whole process group is killed (SIGTERM, then SIGKILL).

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace otfgp {

struct ProcessOptions {
  std::filesystem::path working_directory;           // empty: the current one
  std::map<std::string, std::string> environment;    // added to (or replacing in) the inherited one
  std::optional<std::filesystem::path> stdin_file;   // default: /dev/null
  std::optional<std::filesystem::path> stdout_file;  // default: discarded
  std::optional<std::chrono::duration<double>> timeout;  // default: none
  std::size_t stderr_tail_bytes = 4096;                  // how much of stderr to keep
};

struct ProcessResult {
  int exit_status = 0;      // exit code; 128 + signal when killed by a signal
  bool timed_out = false;   // killed because the timeout passed
  double seconds = 0.0;     // wall time
  std::string stderr_tail;  // the last stderr_tail_bytes of standard error
};

// Throws otfgp::Error when the program cannot be started (not found, not
// executable); a program that starts and fails is reported in the result.
// When SIGINT/SIGTERM arrives under an InterruptGuard (core/interrupt.hpp)
// while it runs, the program's group is ended as on a timeout and
// InterruptedError is thrown.
ProcessResult run_process(const std::vector<std::string>& arguments, const ProcessOptions& options);

// The full path of `program` searched on `search_path` (a PATH value; none:
// this process's PATH), or itself when it contains a slash and is executable;
// nothing when it is not found. run_process searches the PATH its
// `environment` sets, when it sets one, as a shell does for `PATH=… program`.
std::optional<std::filesystem::path> find_executable(
    const std::string& program, const std::optional<std::string>& search_path = std::nullopt);

// Splits a command line such as "mpirun -np 2 pw.x" into words (single and
// double quotes group; no other shell syntax).
std::vector<std::string> split_command(const std::string& command);
// The words as one command line that split_command reads back as them: one
// space between words, a word with a space or a quote (or none at all) in
// single quotes, a single quote in it as '"'"'.
std::string join_command(const std::vector<std::string>& words);

}  // namespace otfgp
