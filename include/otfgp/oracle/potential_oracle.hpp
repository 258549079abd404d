#pragma once
// The `potential` oracle: any otfgp potential spec (`sw:Si.sw`,
// `buck:BaRhO.buck`, …) evaluated in process. The embedded default, so the
// on-the-fly loop runs with no external program.

#include <memory>

#include "otfgp/oracle/oracle.hpp"

namespace otfgp::oracle {

// Keys: `kind: potential`, `potential: SPEC` (required).
std::unique_ptr<Oracle> make_potential_oracle(const ConfigSection& section,
                                              const std::filesystem::path& base_dir);

}  // namespace otfgp::oracle
