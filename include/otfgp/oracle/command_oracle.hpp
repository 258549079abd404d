#pragma once
// The `command` oracle: any external program that reads one extended-XYZ
// frame and writes it back with energy (eV), forces (eV/Å) and stress
// (eV/Å³, ASE's sign) — the way to plug in VASP, an ASE calculator or any
// other code. Keys in docs/oracles.md.

#include <memory>

#include "otfgp/oracle/oracle.hpp"

namespace otfgp::oracle {

std::unique_ptr<Oracle> make_command_oracle(const ConfigSection& section,
                                            const std::filesystem::path& base_dir);

}  // namespace otfgp::oracle
