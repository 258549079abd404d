#pragma once
// What the tests of the DFT oracles (qe, cp2k) set up alike: an oracle from a
// YAML section, a frame worth labelling, a shell script standing in for the
// code; read_text (support/files.hpp) reads the files it wrote.

#include <filesystem>
#include <memory>
#include <string>

#include "otfgp/core/structure.hpp"
#include "otfgp/oracle/oracle.hpp"
#include "support/files.hpp"  // read_text

namespace otfgp::testing {

// make_oracle over `yaml` (an oracle section), relative paths against `base`.
std::unique_ptr<oracle::Oracle> oracle_from_yaml(const std::string& yaml,
                                                 const std::filesystem::path& base = ".");
// Two silicon atoms in the primitive fcc cell (a = 5.30 Å), moved off their
// sites so that forces are non-zero, in a slightly sheared and compressed cell
// so that the stress has off-diagonal parts.
Structure silicon_pair();
// An executable `directory/name` that runs `body` under /bin/sh.
std::filesystem::path fake_program(const std::filesystem::path& directory, const std::string& name,
                                   const std::string& body);

}  // namespace otfgp::testing
