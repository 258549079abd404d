#pragma once
// Runs a cross-check script with the Debian Python (/usr/bin/python3, which has
// pymatgen, ASE, spglib, numpy and h5py), feeding it text on standard input and
// returning what it printed on standard output.

#include <string>

namespace otfgp::testing {

inline constexpr const char* system_python = "/usr/bin/python3";

// Throws std::runtime_error with the script's standard error when it exits non-zero.
std::string run_python(const std::string& script, const std::string& input = "");

// True when /usr/bin/python3 can import every module in the space-separated list.
bool python_has_modules(const std::string& modules);

}  // namespace otfgp::testing
