#pragma once
// The simulation cell as a plain struct that kernels can copy: rows of h are
// the lattice vectors (Å); hinv maps Cartesian to fractional coordinates.

#include <Eigen/Core>

#include "otfgp/core/types.hpp"

namespace otfgp {

struct Box {
  // Length of the vector that stands in for a missing lattice vector along a
  // non-periodic direction (Å).
  static constexpr double free_direction_length = 1.0e4;

  double h[3][3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
  double hinv[3][3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
  bool pbc[3] = {true, true, true};

  // Builds from a cell whose rows are lattice vectors. A non-periodic direction
  // with a zero vector gets a large orthogonal placeholder so hinv exists.
  static Box from_cell(const Eigen::Matrix3d& cell, const bool periodic[3]);
  Eigen::Matrix3d cell() const;
  // The cell as the user gave it: placeholder vectors of free directions are zero again.
  Eigen::Matrix3d user_cell() const;
  double volume() const;
  // Perpendicular width of the cell along each lattice direction (Å).
  Eigen::Vector3d widths() const;

  // s = r · h⁻¹ (row-vector convention).
  KOKKOS_INLINE_FUNCTION void fractional(const double r[3], double s[3]) const {
    for (int d = 0; d < 3; ++d) s[d] = r[0] * hinv[0][d] + r[1] * hinv[1][d] + r[2] * hinv[2][d];
  }
  // r = s · h.
  KOKKOS_INLINE_FUNCTION void cartesian(const double s[3], double r[3]) const {
    for (int d = 0; d < 3; ++d) r[d] = s[0] * h[0][d] + s[1] * h[1][d] + s[2] * h[2][d];
  }
};

}  // namespace otfgp
