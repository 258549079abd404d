// Truncation of the mapped per-atom variance (include/otfgp/gp/variance_truncation.hpp).
//
// With Y = σ² K̃_ss Tᵀ (M_s × R; row u holds the terms σ² t_q·k̃_u at sparse
// point u) the rotation V from the eigenvectors of YᵀY makes the rotated terms
// uncorrelated over the sparse points, with mean squares the eigenvalues / M_s:
// keeping the r largest keeps the most explained variance there. The rotated
// rows VᵀT have the same RᵀR, so all of them together give the exact variance.
// For the bound, with W_q = Σ_u t_qu û_uû_uᵀ, t_q·k̃_x = ⟨W_q, x̂x̂ᵀ⟩_F, so the
// dropped part Σ_d (σ²⟨W_d, X⟩)² ≤ λ_max(σ⁴⟨W_d, W_d'⟩) ‖X‖_F² with ‖X‖_F = 1,
// and ⟨W_d, W_d'⟩ = t_dᵀ K̃_ss t_d'.

#include "otfgp/gp/variance_truncation.hpp"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace otfgp {

namespace {

// C = op(A)·op(B) through BLAS (these products are O(M³) at large M).
Eigen::MatrixXd product(const Eigen::MatrixXd& a, bool transpose_a, const Eigen::MatrixXd& b,
                        bool transpose_b) {
  const int m = static_cast<int>(transpose_a ? a.cols() : a.rows());
  const int k = static_cast<int>(transpose_a ? a.rows() : a.cols());
  const int n = static_cast<int>(transpose_b ? b.rows() : b.cols());
  Eigen::MatrixXd c = Eigen::MatrixXd::Zero(m, n);
  if (m == 0 || n == 0 || k == 0) return c;
  cblas_dgemm(CblasColMajor, transpose_a ? CblasTrans : CblasNoTrans,
              transpose_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0, a.data(),
              static_cast<int>(a.rows()), b.data(), static_cast<int>(b.rows()), 0.0, c.data(), m);
  return c;
}

// Eigenvalues, ascending; the vectors replace the matrix when `vectors`.
Eigen::VectorXd eigenvalues(Eigen::MatrixXd& matrix, bool vectors) {
  const int n = static_cast<int>(matrix.rows());
  Eigen::VectorXd values(n);
  if (n == 0) return values;
  const lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, vectors ? 'V' : 'N', 'U', n,
                                         matrix.data(), n, values.data());
  if (info != 0)
    throw std::runtime_error("truncate_variance_factor: dsyevd failed, info " +
                             std::to_string(info));
  return values;
}

}  // namespace

TruncatedVarianceFactor truncate_variance_factor(
    const Eigen::MatrixXd& factor, const Eigen::MatrixXd& sparse_normalised, double signal_std,
    int rank, const Eigen::MatrixXd& sparse_two_body, double two_body_weight,
    const Eigen::VectorXd& sparse_norm, double three_body_weight) {
  TruncatedVarianceFactor out;
  const int full = static_cast<int>(factor.rows());
  out.full_rank = full;
  if (rank <= 0 || full == 0) {
    out.factor = factor;
    return out;
  }
  rank = std::min(rank, full);
  const int m = static_cast<int>(factor.cols());
  const double variance = signal_std * signal_std;
  // K̃_ss = (ÛÛᵀ)∘², with a three-body part + w₃ (nnᵀ)∘(ÛÛᵀ) (its features √w₃ b).
  const Eigen::MatrixXd dots = product(sparse_normalised, false, sparse_normalised, true);
  Eigen::MatrixXd kernel = dots.array().square().matrix();
  if (sparse_norm.size() > 0)
    kernel += three_body_weight * (sparse_norm * sparse_norm.transpose()).cwiseProduct(dots);
  // The two-body part, w QQᵀ: its features √w q join x̂x̂ᵀ's, so the bound
  // below holds per unit of ‖X‖_F² + w|q|² = k̃(x,x).
  if (sparse_two_body.size() > 0)
    kernel += two_body_weight * product(sparse_two_body, false, sparse_two_body, true);
  const Eigen::MatrixXd y = variance * product(kernel, false, factor, true);  // M × R
  Eigen::MatrixXd rotation = product(y, true, y, false);                      // R × R
  const Eigen::VectorXd weight = eigenvalues(rotation, true);
  // Largest first: columns full − 1, full − 2, … of the ascending eigenvectors.
  const Eigen::MatrixXd kept = rotation.rightCols(rank).rowwise().reverse();
  const Eigen::MatrixXd dropped = rotation.leftCols(full - rank);
  out.factor = product(kept, true, factor, false);
  out.mean_error = std::max(0.0, weight.head(full - rank).sum()) / m;
  if (rank == full) return out;  // every row, rotated: exact
  // σ⁴ T_d K̃ T_dᵀ = σ² V_dᵀ (T Y) V_d.
  const Eigen::MatrixXd dropped_rows = product(dropped, true, factor, false);  // (R − r) × M
  const Eigen::MatrixXd dropped_y = product(y, false, dropped, false);         // M × (R − r)
  Eigen::MatrixXd gram = variance * product(dropped_rows, false, dropped_y, false);
  gram = 0.5 * (gram + gram.transpose()).eval();
  const Eigen::VectorXd dropped_eigenvalues = eigenvalues(gram, false);
  // The truncated variance never exceeds the prior σ², so neither does the rise;
  // the cap matters where K̃_ss is so ill-conditioned that rounding swamps T_d K̃ T_dᵀ.
  out.max_error = std::clamp(dropped_eigenvalues[dropped_eigenvalues.size() - 1], 0.0, variance);
  return out;
}

Eigen::MatrixXd packed_quadratic_forms(const Eigen::MatrixXd& rows,
                                       const Eigen::MatrixXd& sparse_normalised) {
  const Eigen::Index size = sparse_normalised.cols();
  Eigen::MatrixXd packed(rows.rows(), size * (size + 1) / 2);
  for (Eigen::Index q = 0; q < rows.rows(); ++q) {
    const Eigen::MatrixXd weighted =
        sparse_normalised.array().colwise() * rows.row(q).transpose().array();
    const Eigen::MatrixXd form = product(weighted, true, sparse_normalised, false);  // D × D
    Eigen::Index k = 0;
    for (Eigen::Index a = 0; a < size; ++a)
      for (Eigen::Index b = a; b < size; ++b) packed(q, k++) = a == b ? form(a, a) : 2 * form(a, b);
  }
  return packed;
}

}  // namespace otfgp
