#pragma once
// Kernels between per-atom descriptors for the sparse GP. Every kernel here is
// the signal variance σ² times a shape k̃ without hyperparameters of its own,
// k(d, d') = σ² k̃(d, d'); the sparse GP keeps σ outside so that changing it
// rescales stored matrices instead of recomputing them. A kernel acts only
// between environments of the same species; the sparse GP takes care of that.
//
// A new kernel implements the shape, its gradient with respect to the first
// argument (for force and stress labels) and, where the mean can be written as
// a quadratic form of the descriptor, the map to that form (for fast MD).

#include <Eigen/Core>
#include <memory>
#include <string>

namespace otfgp {

class Kernel {
 public:
  virtual ~Kernel() = default;

  // Name and integer parameter as stored in model files, e.g. ("normalized_dot_product", 2).
  virtual std::string name() const = 0;
  virtual int power() const = 0;
  // Human-readable form for logs, e.g. "σ²(d̂·d̂')²".
  virtual std::string description() const = 0;
  // The two-body part (below): the descriptor's last columns it is linear in, and its weight w.
  virtual int two_body_columns() const { return 0; }
  virtual double two_body_weight() const { return 0.0; }
  // The weight w₃ of the three-body part (below); 0: none.
  virtual double three_body_weight() const { return 0.0; }

  // k̃ between every row of a (n_a × D) and every row of b (n_b × D): n_a × n_b.
  virtual Eigen::MatrixXd matrix(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) const = 0;
  // k̃(x, x) for every row x of a.
  virtual Eigen::VectorXd diagonal(const Eigen::MatrixXd& a) const = 0;
  // The sparse descriptors in the form value_and_gradient works with (for the
  // normalised dot product: unit rows), computed once per set of rows.
  virtual Eigen::MatrixXd prepare(const Eigen::MatrixXd& sparse) const { return sparse; }
  // k̃(u_m, d) for every row u_m of `prepared` = prepare(sparse) (values, length
  // M) and its gradient with respect to d (M × D, row m is ∂k̃(u_m, d)/∂d).
  virtual void value_and_gradient(const Eigen::VectorXd& d, const Eigen::MatrixXd& prepared,
                                  Eigen::VectorXd& values, Eigen::MatrixXd& gradient) const = 0;

  // Σ_a Σ_b t_aᵀ ∂²k̃(x_a, x_b)/∂x_a∂x_b t_b over the rows x_a of `points` and
  // t_a of `directions` (same shape): the prior variance, in units of σ², of
  // the derivative Σ_a t_a·∇ε(x_a) of a sum of local energies — with t_a =
  // ∂x_a/∂r for one atom coordinate r, that of a force component.
  virtual double derivative_covariance(const Eigen::MatrixXd& points,
                                       const Eigen::MatrixXd& directions) const = 0;

  // True when Σ_m w_m k̃(u_m, d) is a quadratic form b̂ᵀ β b̂ of the normalised
  // many-body part b of the descriptor, plus v·q with a two-body part and t·b
  // with a three-body part.
  virtual bool has_quadratic_map() const { return false; }
  // β = Σ_m w_m b̂_m b̂_mᵀ (D_b × D_b, D_b = D − two_body_columns()) for the rows
  // u_m = [b_m; q_m] of `sparse`; throws when has_quadratic_map() is false.
  virtual Eigen::MatrixXd quadratic_map(const Eigen::MatrixXd& sparse,
                                        const Eigen::VectorXd& weights) const;
  // v = w Σ_m w_m q_m (two_body_columns() numbers; empty without a two-body part).
  Eigen::VectorXd two_body_map(const Eigen::MatrixXd& sparse, const Eigen::VectorXd& weights) const;
  // t = w₃ Σ_m w_m b_m over the raw many-body parts (D_b numbers; empty without a three-body part).
  Eigen::VectorXd three_body_map(const Eigen::MatrixXd& sparse,
                                 const Eigen::VectorXd& weights) const;
};

// k̃ = (d̂·d̂')^p with d̂ = d/|d|, p = 1 or 2. A zero descriptor (an atom with no
// neighbours) has no direction; its kernel with anything is 0, so it carries only
// the species' reference energy.
//
// With a two-body part (two_body_columns L > 0): the descriptor is [b; q], b
// the many-body part (the first D − L columns, normalised as above) and q the
// last L columns (the B2 descriptor's l = 0 densities, b2_descriptor.hpp), and
//   k̃ = (b̂·b̂')^p + w q·q',
// so the mean gains a term linear in q — a pair potential, v·q in the map —
// whose prior variance w|q|² grows with the neighbour density (a compressed
// structure is new to it, unlike to the normalised part). w (Å⁻⁴, for the B2
// densities) is the ratio of the two signal variances.
//
// With a three-body part (three_body_weight w₃ > 0; docs/gp.md "Three-body part"):
//   k̃ += w₃ b·b'
// on the raw, unnormalised many-body part. The B2 power spectrum
// p_{nn'l} = Σ_m c_{nlm}c_{n'lm} is a sum over neighbour pairs (j, k) of
// R_n(r_ij)R_n'(r_ik)P_l(cos θ_jik), so a kernel linear in it makes the local
// energy a learnt three-body potential. The mean gains a term linear in b,
// t·b in the map (three_body_map), and the prior variance w₃|b|² grows with
// the density like the two-body part's. w₃ has the units of 1/b² (the B2
// power spectrum's squared, Å⁻¹² for its densities in Å⁻³).
class NormalizedDotProductKernel final : public Kernel {
 public:
  explicit NormalizedDotProductKernel(int power, int two_body_columns = 0,
                                      double two_body_weight = 0.0, double three_body_weight = 0.0);
  std::string name() const override { return "normalized_dot_product"; }
  int power() const override { return power_; }
  std::string description() const override;
  int two_body_columns() const override { return two_body_columns_; }
  double two_body_weight() const override { return two_body_weight_; }
  double three_body_weight() const override { return three_body_weight_; }
  Eigen::MatrixXd matrix(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) const override;
  Eigen::VectorXd diagonal(const Eigen::MatrixXd& a) const override;
  Eigen::MatrixXd prepare(const Eigen::MatrixXd& sparse) const override;
  void value_and_gradient(const Eigen::VectorXd& d, const Eigen::MatrixXd& prepared,
                          Eigen::VectorXd& values, Eigen::MatrixXd& gradient) const override;
  double derivative_covariance(const Eigen::MatrixXd& points,
                               const Eigen::MatrixXd& directions) const override;
  bool has_quadratic_map() const override { return power_ == 2; }
  Eigen::MatrixXd quadratic_map(const Eigen::MatrixXd& sparse,
                                const Eigen::VectorXd& weights) const override;

 private:
  int power_;
  int two_body_columns_;
  double two_body_weight_;
  double three_body_weight_;
};

// Rows divided by their norms; zero rows stay zero.
Eigen::MatrixXd normalized_rows(const Eigen::MatrixXd& rows);

// The kernel stored under `name` with `power` (and two- and three-body parts);
// throws otfgp::Error for an unknown one.
std::unique_ptr<Kernel> make_kernel(const std::string& name, int power, int two_body_columns = 0,
                                    double two_body_weight = 0.0, double three_body_weight = 0.0);

}  // namespace otfgp
