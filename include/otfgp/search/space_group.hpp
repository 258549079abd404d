#pragma once
// The 230 space groups as spglib knows them, with their Wyckoff positions
// derived from the symmetry operations rather than typed in from tables.
//
// Each group is taken in its first Hall setting in spglib's database (the
// conventional cell; monoclinic with unique axis b, rhombohedral groups on
// hexagonal axes, origin choice 1). The operations include the centring
// translations, so multiplicities count atoms in the conventional cell as the
// International Tables do.
//
// Derivation: every point of the grid (k/24)³ gets its stabiliser (the
// operations, with their lattice translation, that map it onto itself). Points
// with the same stabiliser lie on one affine subspace, the fixed space of that
// stabiliser, and are generic on it. Subspaces are joined into Wyckoff
// positions when an operation maps one onto the other or when they are pieces
// of one subspace cut by the cell boundary (found by walking the subspace).
// Every special position of the 230 groups has coordinates in multiples of
// 1/24, so the grid meets each one; the tests hold the result against the
// International Tables.

#include <Eigen/Core>
#include <optional>
#include <string>
#include <vector>

#include "otfgp/core/structure.hpp"

namespace otfgp::search {

struct SymmetryOperation {
  Eigen::Matrix3i rotation;     // acts on fractional coordinates (columns)
  Eigen::Vector3d translation;  // fractional
};

// One Wyckoff position: the points origin + Σ u_k directions[k] (u free) and
// their images under the group.
struct WyckoffPosition {
  int multiplicity = 0;  // points per conventional cell
  int site_symmetry_order = 0;
  int dimension = 0;                        // number of free parameters, 0…3
  Eigen::Vector3d origin;                   // fractional, a representative point
  std::vector<Eigen::Vector3d> directions;  // integer vectors spanning the free subspace
};

struct SpaceGroup {
  int number = 0;
  int hall_number = 0;
  std::string symbol;  // international short symbol, e.g. "Fm-3m"
  std::vector<SymmetryOperation> operations;
  // Sorted by multiplicity, then dimension (the International Tables list them
  // in reverse order of letter: 'a' has the highest site symmetry).
  std::vector<WyckoffPosition> wyckoff;
};

// The group with this number (1–230), derived once and cached; thread-safe.
// Throws otfgp::Error for a number outside 1–230.
const SpaceGroup& space_group(int number);

// The orbit of a fractional point: its distinct images reduced to [0, 1)³.
std::vector<Eigen::Vector3d> orbit(const SpaceGroup& group, const Eigen::Vector3d& point,
                                   double tolerance = 1e-6);

// What spglib finds for a structure.
struct FoundSymmetry {
  int number = 0;
  std::string symbol;
  std::vector<std::string> wyckoff_letters;  // per atom
  std::vector<int> equivalent_atoms;         // per atom, the first atom of its orbit
};

// spglib's dataset at tolerance `symprec` (Å); nullopt when spglib finds none.
std::optional<FoundSymmetry> find_symmetry(const Structure& structure, double symprec = 1e-3);

// The same group up to the handedness of the crystal: equal numbers, or one of
// the 11 enantiomorphic pairs (P4₁32/P4₃32, P3₁21/P3₂21, …), which a structure
// and its mirror image show.
bool same_group_up_to_mirror(int a, int b);

}  // namespace otfgp::search
