#pragma once
// The Ziegler–Biersack–Littmark universal screened nuclear repulsion
// (The Stopping and Range of Ions in Solids, 1985), as LAMMPS's pair_style zbl:
//   E(r) = (Z_i Z_j e²/4πε₀ r) φ(r/a),  a = 0.46850 Å / (Z_i^0.23 + Z_j^0.23),
//   φ(x) = 0.18175 e^{−3.19980x} + 0.50986 e^{−0.94229x} + 0.28022 e^{−0.40290x}
//          + 0.02817 e^{−0.20162x},
// switched off between an inner and an outer distance: dE/dr gains
// A t² + B t³ (t = r − inner) so that dE/dr and d²E/dr² vanish at the outer
// distance, and a constant makes E vanish there; zero beyond.
//
// Spec: zbl:inner=R1,outer=R2 (Å; LAMMPS `pair_style zbl R1 R2`, any elements).
// The GP potentials use make_zbl_repulsion with one switching range per
// species pair: the repulsion acts only closer than the training data
// (docs/gp.md, "Short-range repulsion").

#include <memory>
#include <vector>

#include <Eigen/Dense>

#include "otfgp/potentials/potential.hpp"

namespace otfgp {

// `elements` (atomic numbers) and per pair of their indices the outer distance
// (Å, symmetric, positive); the inner distance of each pair is
// inner_fraction × outer (0 < inner_fraction < 1).
std::unique_ptr<Potential> make_zbl_repulsion(const std::vector<int>& elements,
                                              const Eigen::MatrixXd& outer, double inner_fraction);

}  // namespace otfgp
