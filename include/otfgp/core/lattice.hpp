#pragma once
// Crystal builders for starting structures: conventional cells of the common
// lattices, repeated along a, b and c. Cells, bases and atom order are those of
// ASE's bulk(..., cubic=True).repeat(...) (hcp: bulk(..., 'hcp')): the tiles in
// order (a outermost), each holding the whole basis. Lengths in Å.
//
//   lattice     elements           cell and basis
//   sc          [A]                cubic a, 1 atom
//   bcc         [A]                cubic a, 2 atoms
//   fcc         [A]                cubic a, 4 atoms
//   hcp         [A]                hexagonal a, c (default c = a·√(8/3)), 2 atoms
//   diamond     [A]                cubic a, 8 atoms
//   zincblende  [A, B]             cubic a, 8 atoms (A at fcc sites, B at the tetrahedral ones)
//   rocksalt    [A, B]             cubic a, 8 atoms (A at fcc sites, B shifted by a/2)
//   perovskite  [A, B, X]          cubic a, 5 atoms ABX3 (A at the corner, B at the centre)

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "otfgp/core/structure.hpp"

namespace otfgp {

struct LatticeSpec {
  std::string lattice;                // one of lattice_names()
  std::vector<std::string> elements;  // element symbols, as many as the lattice has sites
  double a = 0.0;                     // Å
  std::optional<double> c;            // Å, hcp only
  std::array<int, 3> repeat{1, 1, 1};
};

// Throws otfgp::Error naming the problem (unknown lattice, wrong number of
// elements, unknown symbol, non-positive length or repeat).
Structure build_lattice(const LatticeSpec& spec);
std::vector<std::string> lattice_names();
// How many element symbols the lattice takes; throws for an unknown lattice.
int lattice_site_count(const std::string& lattice);

// The same cell as a lower-triangular matrix (LAMMPS's restricted triclinic
// form: a along x, b in the xy plane), with equal lengths and angles.
// Cartesian rows map onto it by r · cell⁻¹ · lower.
Eigen::Matrix3d lower_triangular_cell(const Eigen::Matrix3d& cell);

}  // namespace otfgp
