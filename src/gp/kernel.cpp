#include "otfgp/gp/kernel.hpp"

#include <cblas.h>

#include <Eigen/Dense>
#include <cmath>

#include "otfgp/core/error.hpp"

namespace otfgp {

Eigen::MatrixXd Kernel::quadratic_map(const Eigen::MatrixXd&, const Eigen::VectorXd&) const {
  throw Error("kernel " + description() + " has no quadratic map");
}

Eigen::MatrixXd normalized_rows(const Eigen::MatrixXd& rows) {
  Eigen::MatrixXd result = rows;
  for (Eigen::Index i = 0; i < rows.rows(); ++i) {
    const double norm = rows.row(i).norm();
    if (norm > 0) result.row(i) /= norm;
  }
  return result;
}

NormalizedDotProductKernel::NormalizedDotProductKernel(int power) : power_(power) {
  if (power != 1 && power != 2)
    throw Error("normalized dot-product kernel: power must be 1 or 2, got " +
                std::to_string(power));
}

std::string NormalizedDotProductKernel::description() const {
  return power_ == 1 ? "σ²(d̂·d̂')" : "σ²(d̂·d̂')²";
}

Eigen::MatrixXd NormalizedDotProductKernel::matrix(const Eigen::MatrixXd& a,
                                                   const Eigen::MatrixXd& b) const {
  const Eigen::MatrixXd unit_a = normalized_rows(a), unit_b = normalized_rows(b);
  Eigen::MatrixXd dot(a.rows(), b.rows());
  if (dot.size() == 0) return dot;
  if (a.cols() == 0) return dot.setZero();
  // Through the optimised BLAS: the sparse sets make this M × M × D.
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, static_cast<int>(a.rows()),
              static_cast<int>(b.rows()), static_cast<int>(a.cols()), 1.0, unit_a.data(),
              static_cast<int>(a.rows()), unit_b.data(), static_cast<int>(b.rows()), 0.0,
              dot.data(), static_cast<int>(a.rows()));
  if (power_ == 2) dot = dot.array().square().matrix();
  return dot;
}

Eigen::VectorXd NormalizedDotProductKernel::diagonal(const Eigen::MatrixXd& a) const {
  Eigen::VectorXd values(a.rows());
  for (Eigen::Index i = 0; i < a.rows(); ++i) values[i] = a.row(i).squaredNorm() > 0 ? 1.0 : 0.0;
  return values;
}

Eigen::MatrixXd NormalizedDotProductKernel::prepare(const Eigen::MatrixXd& sparse) const {
  return normalized_rows(sparse);
}

void NormalizedDotProductKernel::value_and_gradient(const Eigen::VectorXd& d,
                                                    const Eigen::MatrixXd& sparse_unit,
                                                    Eigen::VectorXd& values,
                                                    Eigen::MatrixXd& gradient) const {
  const Eigen::Index m = sparse_unit.rows();
  const double norm = d.norm();
  values.setZero(m);
  gradient.setZero(m, d.size());
  if (m == 0 || norm == 0) return;
  const Eigen::VectorXd unit = d / norm;
  const Eigen::VectorXd dot = sparse_unit * unit;
  // ∂(d̂·û)/∂d = (û − (d̂·û) d̂)/|d|; the power adds p (d̂·û)^(p−1).
  Eigen::VectorXd factor(m);
  if (power_ == 1) {
    values = dot;
    factor.setConstant(1.0 / norm);
  } else {
    values = dot.array().square().matrix();
    factor = 2.0 * dot / norm;
  }
  gradient = factor.asDiagonal() * sparse_unit;
  gradient.noalias() -= (factor.cwiseProduct(dot)) * unit.transpose();
}

double NormalizedDotProductKernel::derivative_covariance(const Eigen::MatrixXd& points,
                                                         const Eigen::MatrixXd& directions) const {
  // With a = x̂_a·x̂_b, h_a = (t_a − (x̂_a·t_a)x̂_a)/|x_a| (the change of x̂_a along
  // t_a) and tᵀ∂a/∂x_a = h_a·x̂_b, ∂²a/∂x_a∂x_b = P_a P_b/(|x_a||x_b|):
  //   p = 1: Σ h_a·h_b;   p = 2: Σ 2a(h_a·h_b) + 2(h_a·x̂_b)(h_b·x̂_a).
  const Eigen::MatrixXd unit = normalized_rows(points);
  Eigen::MatrixXd tangent = directions;
  for (Eigen::Index a = 0; a < points.rows(); ++a) {
    const double norm = points.row(a).norm();
    if (norm == 0) {
      tangent.row(a).setZero();  // no direction: k̃ vanishes around it
      continue;
    }
    tangent.row(a) -= tangent.row(a).dot(unit.row(a)) * unit.row(a);
    tangent.row(a) /= norm;
  }
  const Eigen::MatrixXd tangents = tangent * tangent.transpose();
  if (power_ == 1) return tangents.sum();
  const Eigen::MatrixXd dots = unit * unit.transpose();
  const Eigen::MatrixXd cross = tangent * unit.transpose();  // h_a·x̂_b
  return 2.0 * (dots.cwiseProduct(tangents).sum() +
                cross.cwiseProduct(cross.transpose()).sum());
}

Eigen::MatrixXd NormalizedDotProductKernel::quadratic_map(const Eigen::MatrixXd& sparse,
                                                          const Eigen::VectorXd& weights) const {
  if (power_ != 2) return Kernel::quadratic_map(sparse, weights);
  const Eigen::MatrixXd unit = normalized_rows(sparse);
  Eigen::MatrixXd beta = unit.transpose() * weights.asDiagonal() * unit;
  // Symmetric by construction; make it so to the last bit for the mapped potential.
  return 0.5 * (beta + beta.transpose());
}

std::unique_ptr<Kernel> make_kernel(const std::string& name, int power) {
  if (name == "normalized_dot_product") return std::make_unique<NormalizedDotProductKernel>(power);
  throw Error("unknown kernel '" + name + "' (known: normalized_dot_product)");
}

}  // namespace otfgp
