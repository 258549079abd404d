#include "otfgp/gp/kernel.hpp"

#include <cblas.h>

#include <Eigen/Dense>
#include <cmath>

#include "otfgp/core/error.hpp"
#include "otfgp/core/number_text.hpp"

namespace otfgp {

Eigen::MatrixXd Kernel::quadratic_map(const Eigen::MatrixXd&, const Eigen::VectorXd&) const {
  throw Error("kernel " + description() + " has no quadratic map");
}

Eigen::VectorXd Kernel::two_body_map(const Eigen::MatrixXd& sparse,
                                     const Eigen::VectorXd& weights) const {
  const int l = two_body_columns();
  if (l == 0) return Eigen::VectorXd();
  return two_body_weight() * sparse.rightCols(l).transpose() * weights;
}

Eigen::VectorXd Kernel::three_body_map(const Eigen::MatrixXd& sparse,
                                       const Eigen::VectorXd& weights) const {
  if (three_body_weight() == 0.0) return Eigen::VectorXd();
  return three_body_weight() * sparse.leftCols(sparse.cols() - two_body_columns()).transpose() *
         weights;
}

Eigen::MatrixXd normalized_rows(const Eigen::MatrixXd& rows) {
  Eigen::MatrixXd result = rows;
  for (Eigen::Index i = 0; i < rows.rows(); ++i) {
    const double norm = rows.row(i).norm();
    if (norm > 0) result.row(i) /= norm;
  }
  return result;
}

NormalizedDotProductKernel::NormalizedDotProductKernel(int power, int two_body_columns,
                                                       double two_body_weight,
                                                       double three_body_weight)
    : power_(power),
      two_body_columns_(two_body_columns),
      two_body_weight_(two_body_weight),
      three_body_weight_(three_body_weight) {
  if (power != 1 && power != 2)
    throw Error("normalized dot-product kernel: power must be 1 or 2, got " +
                std::to_string(power));
  if (two_body_columns < 0)
    throw Error("normalized dot-product kernel: two_body_columns must be ≥ 0");
  if (two_body_columns > 0 && !(std::isfinite(two_body_weight) && two_body_weight > 0.0))
    throw Error("normalized dot-product kernel: the two-body weight must be finite and positive");
  if (!(std::isfinite(three_body_weight) && three_body_weight >= 0.0))
    throw Error("normalized dot-product kernel: the three-body weight must be finite and ≥ 0");
}

std::string NormalizedDotProductKernel::description() const {
  const std::string many_body = power_ == 1 ? "(b̂·b̂')" : "(b̂·b̂')²";
  if (two_body_columns_ == 0 && three_body_weight_ == 0.0)
    return power_ == 1 ? "σ²(d̂·d̂')" : "σ²(d̂·d̂')²";
  std::string text = "σ²[" + many_body;
  if (three_body_weight_ > 0.0) text += " + " + format_significant(three_body_weight_, 4) + " b·b'";
  if (two_body_columns_ > 0) text += " + " + format_significant(two_body_weight_, 4) + " q·q'";
  return text + "]";
}

namespace {

// The many-body part's columns of descriptor rows (all but the last `two_body`).
auto many_body_columns(const Eigen::MatrixXd& rows, int two_body) {
  return rows.leftCols(rows.cols() - two_body);
}

}  // namespace

Eigen::MatrixXd NormalizedDotProductKernel::matrix(const Eigen::MatrixXd& a,
                                                   const Eigen::MatrixXd& b) const {
  const int l = two_body_columns_;
  const Eigen::MatrixXd unit_a = normalized_rows(many_body_columns(a, l)),
                        unit_b = normalized_rows(many_body_columns(b, l));
  Eigen::MatrixXd dot(a.rows(), b.rows());
  if (dot.size() == 0) return dot;
  if (unit_a.cols() == 0) {
    dot.setZero();
  } else {
    // Through the optimised BLAS: the sparse sets make this M × M × D.
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, static_cast<int>(a.rows()),
                static_cast<int>(b.rows()), static_cast<int>(unit_a.cols()), 1.0, unit_a.data(),
                static_cast<int>(a.rows()), unit_b.data(), static_cast<int>(b.rows()), 0.0,
                dot.data(), static_cast<int>(a.rows()));
    if (power_ == 2) dot = dot.array().square().matrix();
  }
  if (l > 0) dot.noalias() += two_body_weight_ * a.rightCols(l) * b.rightCols(l).transpose();
  if (three_body_weight_ > 0.0)
    dot.noalias() +=
        three_body_weight_ * many_body_columns(a, l) * many_body_columns(b, l).transpose();
  return dot;
}

Eigen::VectorXd NormalizedDotProductKernel::diagonal(const Eigen::MatrixXd& a) const {
  const int l = two_body_columns_;
  Eigen::VectorXd values(a.rows());
  for (Eigen::Index i = 0; i < a.rows(); ++i) {
    const double squared = a.row(i).head(a.cols() - l).squaredNorm();
    values[i] = squared > 0 ? 1.0 + three_body_weight_ * squared : 0.0;
    if (l > 0) values[i] += two_body_weight_ * a.row(i).tail(l).squaredNorm();
  }
  return values;
}

Eigen::MatrixXd NormalizedDotProductKernel::prepare(const Eigen::MatrixXd& sparse) const {
  // [b̂ q], and with a three-body part the raw b appended: [b̂ q b].
  const int l = two_body_columns_;
  const Eigen::Index width = sparse.cols() - l;
  Eigen::MatrixXd prepared(sparse.rows(), sparse.cols() + (three_body_weight_ > 0.0 ? width : 0));
  prepared.leftCols(width) = normalized_rows(many_body_columns(sparse, l));
  prepared.middleCols(width, l) = sparse.rightCols(l);
  if (three_body_weight_ > 0.0) prepared.rightCols(width) = many_body_columns(sparse, l);
  return prepared;
}

void NormalizedDotProductKernel::value_and_gradient(const Eigen::VectorXd& d,
                                                    const Eigen::MatrixXd& prepared,
                                                    Eigen::VectorXd& values,
                                                    Eigen::MatrixXd& gradient) const {
  const Eigen::Index m = prepared.rows();
  const int l = two_body_columns_;
  const Eigen::Index width = d.size() - l;
  values.setZero(m);
  gradient.setZero(m, d.size());
  if (m == 0) return;
  if (l > 0) {
    // w q_u·q and its gradient w q_u.
    values.noalias() += two_body_weight_ * prepared.middleCols(width, l) * d.tail(l);
    gradient.rightCols(l) = two_body_weight_ * prepared.middleCols(width, l);
  }
  if (three_body_weight_ > 0.0) {
    // w₃ b_u·b and its gradient w₃ b_u.
    values.noalias() += three_body_weight_ * prepared.rightCols(width) * d.head(width);
    gradient.leftCols(width) = three_body_weight_ * prepared.rightCols(width);
  }
  const double norm = d.head(width).norm();
  if (norm == 0) return;
  const Eigen::VectorXd unit = d.head(width) / norm;
  const auto sparse_unit = prepared.leftCols(width);
  const Eigen::VectorXd dot = sparse_unit * unit;
  // ∂(d̂·û)/∂d = (û − (d̂·û) d̂)/|d|; the power adds p (d̂·û)^(p−1).
  Eigen::VectorXd factor(m);
  if (power_ == 1) {
    values += dot;
    factor.setConstant(1.0 / norm);
  } else {
    values += dot.array().square().matrix();
    factor = 2.0 * dot / norm;
  }
  gradient.leftCols(width).noalias() += factor.asDiagonal() * sparse_unit;
  gradient.leftCols(width).noalias() -= (factor.cwiseProduct(dot)) * unit.transpose();
}

double NormalizedDotProductKernel::derivative_covariance(const Eigen::MatrixXd& points,
                                                         const Eigen::MatrixXd& directions) const {
  // With a = x̂_a·x̂_b, h_a = (t_a − (x̂_a·t_a)x̂_a)/|x_a| (the change of x̂_a along
  // t_a) and tᵀ∂a/∂x_a = h_a·x̂_b, ∂²a/∂x_a∂x_b = P_a P_b/(|x_a||x_b|):
  //   p = 1: Σ h_a·h_b;   p = 2: Σ 2a(h_a·h_b) + 2(h_a·x̂_b)(h_b·x̂_a);
  // the two-body part adds w|Σ_a t_a^q|² (t^q: the direction's last L columns),
  // the three-body part w₃|Σ_a t_a^b|² (t^b: its many-body columns).
  const int l = two_body_columns_;
  const Eigen::MatrixXd unit = normalized_rows(many_body_columns(points, l));
  Eigen::MatrixXd tangent = many_body_columns(directions, l);
  for (Eigen::Index a = 0; a < points.rows(); ++a) {
    const double norm = points.row(a).head(unit.cols()).norm();
    if (norm == 0) {
      tangent.row(a).setZero();  // no direction: k̃ vanishes around it
      continue;
    }
    tangent.row(a) -= tangent.row(a).dot(unit.row(a)) * unit.row(a);
    tangent.row(a) /= norm;
  }
  double linear =
      l > 0 ? two_body_weight_ * directions.rightCols(l).colwise().sum().squaredNorm() : 0.0;
  if (three_body_weight_ > 0.0)
    linear += three_body_weight_ * many_body_columns(directions, l).colwise().sum().squaredNorm();
  const Eigen::MatrixXd tangents = tangent * tangent.transpose();
  if (power_ == 1) return tangents.sum() + linear;
  const Eigen::MatrixXd dots = unit * unit.transpose();
  const Eigen::MatrixXd cross = tangent * unit.transpose();  // h_a·x̂_b
  return 2.0 * (dots.cwiseProduct(tangents).sum() + cross.cwiseProduct(cross.transpose()).sum()) +
         linear;
}

Eigen::MatrixXd NormalizedDotProductKernel::quadratic_map(const Eigen::MatrixXd& sparse,
                                                          const Eigen::VectorXd& weights) const {
  if (!has_quadratic_map()) return Kernel::quadratic_map(sparse, weights);
  const Eigen::MatrixXd unit = normalized_rows(many_body_columns(sparse, two_body_columns_));
  Eigen::MatrixXd beta = unit.transpose() * weights.asDiagonal() * unit;
  // Symmetric by construction; make it so to the last bit for the mapped potential.
  return 0.5 * (beta + beta.transpose());
}

std::unique_ptr<Kernel> make_kernel(const std::string& name, int power, int two_body_columns,
                                    double two_body_weight, double three_body_weight) {
  if (name == "normalized_dot_product")
    return std::make_unique<NormalizedDotProductKernel>(power, two_body_columns, two_body_weight,
                                                        three_body_weight);
  throw Error("unknown kernel '" + name + "' (known: normalized_dot_product)");
}

}  // namespace otfgp
