#pragma once
// The mapped GP's per-atom variance with fewer terms (docs/gp.md, "Truncated
// variance"). The local-energy variance of an atom of species s with unit
// descriptor x̂ is
//   v(x) = σ² − Σ_q (σ² t_q·k̃_x)²,   k̃_x,u = (x̂·û_u)²,
// over the rows t_q of the factor R_s (mapped_gp.hpp). Any orthogonal rotation
// of the rows leaves the sum unchanged; the rotation here orders them by how
// much of the explained part Σ_q (σ² t_q·k̃)² they carry over the species'
// sparse points (the principal components of the row values there), and the
// first r rows are kept. Dropping rows can only raise the variance, and by at
// most the largest eigenvalue of the dropped rows' Gram matrix
// σ⁴ T_d K̃_ss T_dᵀ for any x̂ (the kernel is a dot product of x̂x̂ᵀ with
// ‖x̂x̂ᵀ‖_F = 1), and never by more than σ²: `max_error` reports the smaller.
// (With thousands of sparse points K̃_ss is so ill-conditioned that rounding
// swamps the first, and σ² is what remains.)

#include <Eigen/Core>

namespace otfgp {

struct TruncatedVarianceFactor {
  Eigen::MatrixXd factor;  // kept rows (r × M_s), best first
  int full_rank = 0;       // rows of the exact factor
  // eV²: bound on the variance added by the truncation, any atom; with a
  // two- and three-body parts, per unit of the atom's prior k̃(x,x) = 1 + w|q|² + w₃|b|².
  double max_error = 0.0;
  double mean_error = 0.0;  // eV²: mean variance added at the sparse points
};

// factor: R_s (rank × M_s); sparse_normalised: the species' d̂_u (M_s × D);
// signal_std: σ (eV). rank 0 keeps the factor as it is (errors 0); a rank of
// at least the factor's rows keeps every row, rotated (exact to rounding).
// With the kernel's two-body part, its rows q_u (M_s × L) and weight w: the
// sparse kernel is (ÛÛᵀ)∘² + w QQᵀ; with its three-body part, the norms |b_u|
// (M_s) and weight w₃ add w₃ (nnᵀ)∘(ÛÛᵀ). O(M_s²·(D + rank of R_s)) once per model.
TruncatedVarianceFactor truncate_variance_factor(
    const Eigen::MatrixXd& factor, const Eigen::MatrixXd& sparse_normalised, double signal_std,
    int rank, const Eigen::MatrixXd& sparse_two_body = {}, double two_body_weight = 0.0,
    const Eigen::VectorXd& sparse_norm = {}, double three_body_weight = 0.0);

// The rows as packed quadratic forms in the unit descriptor: row q holds the
// upper triangle (a ≤ b, row by row) of W_q = Σ_u t_qu û_uû_uᵀ with the
// off-diagonal entries doubled, so t_q·k̃_x = Σ_{a≤b} P_q,ab x̂_a x̂_b. Evaluating
// the variance this way costs O(rows·D²/2) per atom whatever M_s is.
// rows: r × M_s; result r × D(D+1)/2. O(r·M_s·D²).
Eigen::MatrixXd packed_quadratic_forms(const Eigen::MatrixXd& rows,
                                       const Eigen::MatrixXd& sparse_normalised);

}  // namespace otfgp
