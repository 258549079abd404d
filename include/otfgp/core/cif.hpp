#pragma once
// Crystallographic Information Files (CIF 1.1), the subset crystal templates
// use: cell lengths and angles, the symmetry operations
// (_space_group_symop_operation_xyz or _symmetry_equiv_pos_as_xyz, as
// "x,-y,z+1/2"), and the _atom_site_ loop (type symbol or label, fractional
// x, y, z; numbers with standard uncertainties such as 5.640(2)). The
// asymmetric unit is expanded by the operations and images closer than
// 0.01 Å merged. Writing gives a P1 CIF with every atom listed.

#include <filesystem>
#include <string>

#include "otfgp/core/structure.hpp"

namespace otfgp {

// The first data block of the file. Throws otfgp::Error naming the file and
// what is missing or malformed (no cell, no atom sites, a bad operation, an
// unknown element, partial occupancy).
Structure read_cif(const std::filesystem::path& path);
Structure parse_cif(const std::string& text, const std::string& source);
// Atomic write (temporary file, then rename).
void write_cif(const std::filesystem::path& path, const Structure& structure,
               const std::string& data_name = "otfgp");

}  // namespace otfgp
