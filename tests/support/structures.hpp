#pragma once
// Test configurations: random atoms in a given cell with a minimum distance,
// skewed triclinic cells, and small cubic crystals.

#include <cstdint>
#include <vector>

#include "otfgp/core/structure.hpp"

namespace otfgp::testing {

// A lower-triangular cell (LAMMPS's form) with lengths a, b, c and tilts
// (fractions of the preceding lengths) xy, xz, yz.
Eigen::Matrix3d triclinic_cell(double a, double b, double c, double xy, double xz, double yz);
// `numbers` placed uniformly at random in `cell`, no two atoms (with images)
// closer than min_distance. Periodic in all directions.
Structure random_structure(const Eigen::Matrix3d& cell, const std::vector<int>& numbers,
                           double min_distance, std::uint64_t seed);
// Diamond-structure crystal of element z, lattice constant a, n×n×n conventional cells.
Structure diamond(int z, double a, int n);
// Face-centred cubic crystal of element z, lattice constant a, n×n×n conventional cells.
Structure fcc(int z, double a, int n);
// `count` atomic numbers alternating first, second, first, … (binary test systems).
std::vector<int> alternating(int count, int first, int second);
// Moves every atom by a uniform random displacement of at most `amplitude` (Å) per component.
void rattle(Structure& structure, double amplitude, std::uint64_t seed);

}  // namespace otfgp::testing
