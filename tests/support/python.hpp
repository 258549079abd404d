#pragma once
// Runs a Python snippet with the Debian interpreter (/usr/bin/python3, which has
// ase, pymatgen, spglib, numpy, h5py) for cross-checks against reference codes.
// The interpreter runs isolated (-I): no PYTHONPATH, no user site packages, so
// the result does not depend on the environment of whoever runs the tests.

#include <string>
#include <vector>

namespace otfgp::testing {

inline constexpr const char* python_interpreter = "/usr/bin/python3";

struct PythonResult {
  int exit_code = -1;  // the interpreter's exit status; 128 + n when killed by signal n
  std::string output;  // everything written to stdout
  std::string error;   // everything written to stderr (tracebacks)
};

// Runs `code` as a script; `arguments` become sys.argv[1:]. The working
// directory is the caller's. Throws std::runtime_error only when the
// interpreter cannot be started at all.
PythonResult run_python(const std::string& code, const std::vector<std::string>& arguments = {});

// Runs `code` and returns its stdout; throws std::runtime_error with the exit
// status and stderr when the script fails.
std::string python_output(const std::string& code, const std::vector<std::string>& arguments = {});

}  // namespace otfgp::testing
