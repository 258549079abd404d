#pragma once
// VASP POSCAR/CONTCAR files (VASP 5 with a species line, VASP 4 without).
//
// Read: title; scaling factor (one positive number, a negative one meaning the
// cell volume in Å³, or three per-axis factors); three lattice vectors; species
// line (VASP 5; POTCAR labels such as "Si_pv" or "Fe/abc123" are reduced to the
// element) and counts; optional "Selective dynamics"; Direct or Cartesian
// (first letter c/C/k/K) coordinates. Selective-dynamics flags become the
// per-atom property "move_mask:L:3" (T = free to move, the extended XYZ name
// ASE uses for constraints); velocity and predictor blocks are ignored. The
// structure is periodic in all three directions.
// Write: VASP 5 with species and counts in atom order, scale 1.0, Direct
// coordinates by default, "Selective dynamics" when a move_mask column exists.
// Errors name the file and the line. See docs/file-formats.md.

#include <filesystem>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "otfgp/core/structure.hpp"

namespace otfgp {

struct PoscarReadOptions {
  // Element symbols of the count line's groups, for VASP 4 files that have no
  // species line. Without them the title line must name the elements in order
  // (e.g. "Ba Rh O" or "BaRhO3 relaxed"). When the file has a species line they
  // must agree with it.
  std::vector<std::string> species;
};

struct PoscarWriteOptions {
  bool direct = true;  // fractional coordinates; false writes Cartesian (Å)
  bool wrap = false;   // wrap fractional coordinates into [0, 1) before writing
  std::string title;   // first line; empty writes the species in order, as ASE does
};

Structure read_poscar(const std::filesystem::path& path, const PoscarReadOptions& options = {});
Structure read_poscar(std::istream& input, const std::string& source,
                      const PoscarReadOptions& options = {});

// Throws otfgp::Error when the cell has no volume (POSCAR is always periodic).
void write_poscar(std::ostream& output, const Structure& structure,
                  const PoscarWriteOptions& options = {});
// Replaces the file atomically (temporary file, then rename).
void write_poscar(const std::filesystem::path& path, const Structure& structure,
                  const PoscarWriteOptions& options = {});

}  // namespace otfgp
