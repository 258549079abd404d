#pragma once
// The `qe` oracle: Quantum ESPRESSO's pw.x, one SCF single point per frame
// (tprnfor, tstress), energy in Ry, forces in Ry/bohr and stress in Ry/bohr³
// converted to eV, eV/Å and eV/Å³ (ASE's sign). Keys in docs/oracles.md.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "otfgp/core/structure.hpp"
#include "otfgp/oracle/external.hpp"
#include "otfgp/oracle/oracle.hpp"

namespace otfgp::oracle {

std::unique_ptr<Oracle> make_qe_oracle(const ConfigSection& section,
                                       const std::filesystem::path& base_dir);

// pw.x's output parsed (exposed for tests): the labels in eV, eV/Å, eV/Å³.
// Throws OracleFailure(not_converged) when the SCF did not converge and
// OracleFailure(unparsable_output) when a value is missing; `atoms` is the
// number of atoms the run had.
using QeResult = DftLabels;
QeResult parse_pw_output(const std::string& text, int atoms, const std::string& source);

// The element a pseudopotential file is for, as its UPF header writes it,
// trimmed ("Si", "SI"; compare case-insensitively): v2's element="…"
// attribute of <PP_HEADER …/>, or v1's "<symbol>  Element" line inside
// <PP_HEADER>. Nothing when the file cannot be read or holds neither.
std::optional<std::string> upf_element(const std::filesystem::path& file);

// The exchange-correlation functional a pseudopotential file was made with,
// as pw.x's four components ("SLA PW PBX PBC"): v2's functional="…"
// attribute or v1's "… Exchange-Correlation functional" line, a short name
// (PZ, LDA, PBE, PBESOL, BLYP, TPSS) spelt out and PBE in a gradient slot
// read as PBX / PBC, as pw.x reads them. Nothing when the file holds none or
// one of another form (not compared).
std::optional<std::string> upf_functional(const std::filesystem::path& file);

}  // namespace otfgp::oracle
