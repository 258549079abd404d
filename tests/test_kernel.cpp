// The GP kernels (gp/kernel.hpp): the shape against its formula, gradients and
// the derivative covariance against finite differences, with and without the
// two- and three-body parts.

#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "otfgp/core/error.hpp"
#include "otfgp/gp/kernel.hpp"

using namespace otfgp;

namespace {

Eigen::MatrixXd random_rows(int rows, int cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 2.0);
  Eigen::MatrixXd m(rows, cols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) m(i, j) = uniform(rng);
  return m;
}

// (b̂·b̂')^p + w₃ b·b' + w q·q' written out, b the first D − L numbers.
double by_hand(const Eigen::VectorXd& x, const Eigen::VectorXd& y, int power, int l, double w,
               double w3) {
  const Eigen::Index width = x.size() - l;
  const double a = x.head(width).normalized().dot(y.head(width).normalized());
  return std::pow(a, power) + w3 * x.head(width).dot(y.head(width)) + w * x.tail(l).dot(y.tail(l));
}

// Σ_ab k̃(x_a + ε t_a, x_b + η t_b), every row of `points` moved.
double moved_sum(const Kernel& kernel, const Eigen::MatrixXd& points, const Eigen::MatrixXd& t,
                 double epsilon, double eta) {
  return kernel.matrix(points + epsilon * t, points + eta * t).sum();
}

}  // namespace

TEST_CASE("the normalised dot-product kernel with two- and three-body parts equals its formula",
          "[kernel]") {
  const int d = 9;
  const Eigen::MatrixXd a = random_rows(4, d, 1), b = random_rows(5, d, 2);
  for (int power : {1, 2})
    for (int l : {0, 3})
      for (double w3 : {0.0, 0.21}) {
        const double w = l > 0 ? 0.37 : 0.0;
        const NormalizedDotProductKernel kernel(power, l, w, w3);
        CAPTURE(power, l, w3);
        const Eigen::MatrixXd k = kernel.matrix(a, b);
        for (int i = 0; i < a.rows(); ++i)
          for (int j = 0; j < b.rows(); ++j)
            CHECK(k(i, j) == Approx(by_hand(a.row(i), b.row(j), power, l, w, w3)).epsilon(1e-13));
        const Eigen::VectorXd diagonal = kernel.diagonal(a);
        for (int i = 0; i < a.rows(); ++i)
          CHECK(diagonal[i] == Approx(by_hand(a.row(i), a.row(i), power, l, w, w3)).epsilon(1e-13));

        // value_and_gradient against matrix() and central differences.
        const Eigen::MatrixXd prepared = kernel.prepare(b);
        Eigen::VectorXd values;
        Eigen::MatrixXd gradient;
        const Eigen::VectorXd x = a.row(0).transpose();
        kernel.value_and_gradient(x, prepared, values, gradient);
        CHECK((values - kernel.matrix(b, a.topRows(1))).norm() < 1e-13);
        const double h = 1e-6;
        for (int e = 0; e < d; ++e) {
          Eigen::VectorXd plus = x, minus = x;
          plus[e] += h;
          minus[e] -= h;
          const Eigen::VectorXd fd =
              (kernel.matrix(b, plus.transpose()) - kernel.matrix(b, minus.transpose())) / (2 * h);
          CHECK((gradient.col(e) - fd).norm() < 1e-8);
        }

        // Σ_ab t_aᵀ ∂²k̃/∂x_a∂x_b t_b = ∂²/∂ε∂η Σ_ab k̃(x_a + εt_a, x_b + ηt_b).
        const Eigen::MatrixXd t = random_rows(4, d, 3);
        const double g = 1e-4;
        const double fd = (moved_sum(kernel, a, t, g, g) - moved_sum(kernel, a, t, g, -g) -
                           moved_sum(kernel, a, t, -g, g) + moved_sum(kernel, a, t, -g, -g)) /
                          (4 * g * g);
        CHECK(kernel.derivative_covariance(a, t) == Approx(fd).epsilon(1e-6));
      }
}

TEST_CASE("the two-body part: a zero many-body part keeps w q·q', its map, clear errors",
          "[kernel]") {
  const NormalizedDotProductKernel kernel(2, 2, 0.5);
  Eigen::MatrixXd rows(2, 5);
  rows << 0, 0, 0, 1, 2,  //
      1, 0, 0, 3, -1;
  CHECK(kernel.matrix(rows, rows)(0, 0) == Approx(0.5 * 5));
  CHECK(kernel.matrix(rows, rows)(0, 1) == Approx(0.5 * 1));
  CHECK(kernel.matrix(rows, rows)(1, 1) == Approx(1 + 0.5 * 10));
  // The map: β over the many-body columns, v = w Σ_m c_m q_m over the two-body ones.
  CHECK(kernel.has_quadratic_map());
  CHECK_FALSE(NormalizedDotProductKernel(1, 2, 0.5).has_quadratic_map());
  const Eigen::MatrixXd beta = kernel.quadratic_map(rows, Eigen::Vector2d(2, 3));
  REQUIRE(beta.rows() == 3);
  CHECK(beta(0, 0) == Approx(3.0));
  CHECK(beta.sum() == Approx(3.0));
  const Eigen::VectorXd v = kernel.two_body_map(rows, Eigen::Vector2d(2, 3));
  CHECK(v[0] == Approx(0.5 * (2 * 1 + 3 * 3)));
  CHECK(v[1] == Approx(0.5 * (2 * 2 + 3 * -1)));
  CHECK(NormalizedDotProductKernel(2).two_body_map(rows, Eigen::Vector2d(2, 3)).size() == 0);
  CHECK_THROWS_AS(NormalizedDotProductKernel(1, 2, 0.5).quadratic_map(rows, Eigen::Vector2d(1, 1)),
                  Error);
  CHECK(kernel.two_body_columns() == 2);
  CHECK(kernel.two_body_weight() == 0.5);
  CHECK_THROWS_WITH(NormalizedDotProductKernel(2, 3, 0.0),
                    Catch::Contains("two-body weight must be finite and positive"));
  CHECK_THROWS_WITH(NormalizedDotProductKernel(2, -1, 1.0), Catch::Contains("two_body_columns"));
  CHECK_THROWS_AS(make_kernel("normalized_dot_product", 2, 3, std::nan("")), Error);
}

TEST_CASE("the three-body part: w₃ b·b' on the raw many-body part, and its linear map",
          "[kernel]") {
  // Rows [b; q]: a zero b keeps only the two-body part, the raw b enters unnormalised.
  const NormalizedDotProductKernel kernel(2, 2, 0.5, 0.25);
  Eigen::MatrixXd rows(2, 5);
  rows << 0, 0, 0, 1, 2,  //
      2, 0, 0, 3, -1;
  CHECK(kernel.matrix(rows, rows)(0, 0) == Approx(0.5 * 5));
  CHECK(kernel.matrix(rows, rows)(1, 1) == Approx(1 + 0.25 * 4 + 0.5 * 10));
  CHECK(kernel.diagonal(rows)[1] == Approx(1 + 0.25 * 4 + 0.5 * 10));
  CHECK(kernel.three_body_weight() == 0.25);
  CHECK(NormalizedDotProductKernel(2).three_body_weight() == 0.0);
  // The prepared rows carry the raw b behind [b̂ q].
  CHECK(kernel.prepare(rows).cols() == 5 + 3);
  CHECK(NormalizedDotProductKernel(2, 2, 0.5).prepare(rows).cols() == 5);
  // The mean: b̂ᵀβb̂ (the normalised part, as without it) + t·b + v·q.
  CHECK(kernel.has_quadratic_map());
  const Eigen::Vector2d weights(0.7, -1.3);
  const Eigen::VectorXd t = kernel.three_body_map(rows, weights);
  REQUIRE(t.size() == 3);
  CHECK(t.isApprox(0.25 * (0.7 * rows.row(0).head(3) - 1.3 * rows.row(1).head(3)).transpose()));
  CHECK(kernel.quadratic_map(rows, weights)
            .isApprox(NormalizedDotProductKernel(2, 2, 0.5).quadratic_map(rows, weights)));
  CHECK(NormalizedDotProductKernel(2, 2, 0.5).three_body_map(rows, weights).size() == 0);
  CHECK_THAT(kernel.description(), Catch::Contains("0.25 b·b'") && Catch::Contains("0.5 q·q'"));
  CHECK_THAT(NormalizedDotProductKernel(2, 0, 0.0, 0.1).description(),
             Catch::Equals("σ²[(b̂·b̂')² + 0.1 b·b']"));
  CHECK_THROWS_WITH(NormalizedDotProductKernel(2, 0, 0.0, -1.0),
                    Catch::Contains("three-body weight must be finite and ≥ 0"));
  CHECK_THROWS_AS(make_kernel("normalized_dot_product", 2, 0, 0.0, std::nan("")), Error);
  CHECK(make_kernel("normalized_dot_product", 2, 0, 0.0, 0.3)->three_body_weight() == 0.3);
}
