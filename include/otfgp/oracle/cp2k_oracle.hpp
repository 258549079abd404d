#pragma once
// The `cp2k` oracle: CP2K Quickstep (GPW), one ENERGY_FORCE run per frame
// with analytic stress; basis set and GTH pseudopotential per element from
// the cp2k-data libraries (/usr/share/cp2k: BASIS_MOLOPT, GTH_POTENTIALS).
// Energy in hartree, forces in hartree/bohr and stress in GPa converted to
// eV, eV/Å and eV/Å³ (ASE's sign). Keys in docs/oracles.md.

#include <memory>
#include <string>

#include "otfgp/core/structure.hpp"
#include "otfgp/oracle/external.hpp"
#include "otfgp/oracle/oracle.hpp"

namespace otfgp::oracle {

std::unique_ptr<Oracle> make_cp2k_oracle(const ConfigSection& section,
                                         const std::filesystem::path& base_dir);

// CP2K's output parsed (exposed for tests): labels in eV, eV/Å, eV/Å³.
// Throws OracleFailure(not_converged) for "SCF run NOT converged" and
// OracleFailure(unparsable_output) when a value is missing.
using Cp2kResult = DftLabels;
Cp2kResult parse_cp2k_output(const std::string& text, int atoms, const std::string& source);

}  // namespace otfgp::oracle
