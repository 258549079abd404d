#pragma once
// Files and processes the end-to-end tests share: the quickstart's inputs,
// whole-file reads and writes, and a shell command's exit status.

#include <filesystem>
#include <string>

namespace otfgp::testing {

// The quickstart's 64-atom Si crystal and Debian LAMMPS's Stillinger–Weber Si.
std::string quickstart_si64();
inline const std::string si_sw_file = "/usr/share/lammps/potentials/Si.sw";

// The whole file as bytes ("" when it cannot be read).
std::string read_text(const std::filesystem::path& path);
// Writes `text`, creating the parent folders.
void write_text(const std::filesystem::path& path, const std::string& text);
// Runs `command` through /bin/sh; its exit status, -1 when it did not exit.
int shell(const std::string& command);

}  // namespace otfgp::testing
