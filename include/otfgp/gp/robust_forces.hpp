#pragma once
// Robust force weights (docs/otf.md "Robust force weights"): a frame's
// atoms whose forces the model missed far more than the frame's others get a
// larger force noise, so that one rare configuration does not pull the whole
// fit. Huber weights on the per-atom force error before learning.

#include <vector>

#include <Eigen/Core>

namespace otfgp {

// Per atom the force noise multiplier s_i ≥ 1 (LabelSelection::force_noise_scale)
// from the model's force error e_i = |F_i − F̂_i| (eV/Å, `atom_error`) on a
// frame before it is learnt: with t = factor × max(median e, √3 σ_f),
// s_i = √(e_i / t) where e_i > t, else 1 — the Huber weight 1/s² = t/e_i,
// under which such an atom pulls the fit as an error of t would. Empty when
// no atom exceeds t. factor > 1; force_noise σ_f > 0.
std::vector<double> robust_force_noise_scales(const Eigen::VectorXd& atom_error, double factor,
                                              double force_noise);

}  // namespace otfgp
