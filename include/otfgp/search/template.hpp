#pragma once
// Template structures for a search: known crystals (CIF, POSCAR, extended
// XYZ) whose stoichiometry pattern matches the target get the target's
// elements and a rescaled volume.
//
// Assignment rule: the template's species map one-to-one onto the target's so
// that every template count is the same multiple Z of the target's count per
// formula unit; among such maps the one with the smallest Σ |χ_template −
// χ_target| (Pauling electronegativity) wins, so cations replace cations and
// anions anions (NaCl → KCl: Na→K, Cl→Cl; NaCl → MgO: Na→Mg, Cl→O). The cell
// is scaled isotropically by (Σ r_cov,new³ / Σ r_cov,old³)^(1/3), fractional
// coordinates kept.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "otfgp/core/structure.hpp"
#include "otfgp/search/random_structure.hpp"

namespace otfgp::search {

struct Template {
  std::string name;  // file name (and frame for multi-frame files)
  Structure structure;
};

// Every structure in the files, and in the structure files (.cif, .vasp,
// POSCAR*, CONTCAR*, .xyz, .extxyz) of the folders, in name order.
std::vector<Template> read_templates(const std::vector<std::filesystem::path>& paths);

// The template with the target's elements, or nullopt when the pattern does
// not match.
std::optional<Structure> substitute(const Structure& structure, const Stoichiometry& target);

}  // namespace otfgp::search
