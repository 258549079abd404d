#include "otfgp/core/box.hpp"

#include <Eigen/Dense>
#include <cmath>

#include "otfgp/core/error.hpp"
#include "otfgp/core/structure.hpp"

namespace otfgp {

Box Box::from_cell(const Eigen::Matrix3d& cell, const bool periodic[3]) {
  Eigen::Matrix3d h = cell;
  for (int d = 0; d < 3; ++d) {
    if (!periodic[d] && h.row(d).norm() < 1e-12) {
      // A free direction without a vector: any vector independent of the others
      // serves, since nothing is wrapped or imaged along it.
      Eigen::Vector3d candidate = Eigen::Vector3d::Zero();
      candidate[d] = free_direction_length;
      h.row(d) = candidate.transpose();
    }
  }
  if (!(std::abs(h.determinant()) > singular_cell_volume))
    throw Error("cell is singular (volume " + std::to_string(std::abs(h.determinant())) + " Å³)");
  Box box;
  const Eigen::Matrix3d inverse = h.inverse();
  for (int a = 0; a < 3; ++a) {
    box.pbc[a] = periodic[a];
    for (int b = 0; b < 3; ++b) {
      box.h[a][b] = h(a, b);
      box.hinv[a][b] = inverse(a, b);
    }
  }
  return box;
}

Eigen::Matrix3d Box::cell() const {
  Eigen::Matrix3d m;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) m(a, b) = h[a][b];
  return m;
}

Eigen::Matrix3d Box::user_cell() const {
  Eigen::Matrix3d m = cell();
  for (int d = 0; d < 3; ++d) {
    Eigen::Vector3d placeholder = Eigen::Vector3d::Zero();
    placeholder[d] = free_direction_length;
    if (!pbc[d] && m.row(d).transpose() == placeholder) m.row(d).setZero();
  }
  return m;
}

double Box::volume() const {
  return std::abs(cell().determinant());
}

Eigen::Vector3d Box::widths() const {
  const Eigen::Matrix3d m = cell();
  const double v = volume();
  Eigen::Vector3d w;
  for (int d = 0; d < 3; ++d) {
    const Eigen::Vector3d u = m.row((d + 1) % 3), t = m.row((d + 2) % 3);
    w[d] = v / u.cross(t).norm();
  }
  return w;
}

}  // namespace otfgp
