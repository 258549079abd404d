#include <Eigen/Dense>
#include <catch2/catch.hpp>
#include <random>

#include "otfgp/gp/growing_qr.hpp"

using namespace otfgp;

namespace {

Eigen::MatrixXd random_matrix(int rows, int cols, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  Eigen::MatrixXd m(rows, cols);
  for (int j = 0; j < cols; ++j)
    for (int i = 0; i < rows; ++i) m(i, j) = normal(rng);
  return m;
}

// R from a one-shot Householder QR with a non-negative diagonal, for comparison.
Eigen::MatrixXd reference_r(const Eigen::MatrixXd& x) {
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(x);
  Eigen::MatrixXd r = qr.matrixQR().topRows(x.cols()).triangularView<Eigen::Upper>();
  for (int i = 0; i < r.rows(); ++i)
    if (r(i, i) < 0) r.row(i) *= -1;
  return r;
}

Eigen::MatrixXd with_positive_diagonal(Eigen::MatrixXd r) {
  for (int i = 0; i < r.rows(); ++i)
    if (r(i, i) < 0) r.row(i) *= -1;
  return r;
}

}  // namespace

TEST_CASE("growing QR: rows and columns added in any order give the one-shot factor",
          "[growing_qr]") {
  std::mt19937_64 rng(7);
  // The full matrix is revealed piecewise: rows in blocks, columns in blocks.
  const int total_rows = 90, total_cols = 25;
  const Eigen::MatrixXd x = random_matrix(total_rows, total_cols, rng);
  const Eigen::VectorXd b = random_matrix(total_rows, 1, rng);

  GrowingQr qr;
  int rows = 0, cols = 0;
  // Interleave: 3 columns, 10 rows, 5 columns, 30 rows, ... ending with everything.
  const std::vector<std::pair<char, int>> steps = {{'c', 3},  {'r', 10}, {'c', 5},
                                                   {'r', 1},  {'r', 29}, {'c', 7},
                                                   {'r', 20}, {'c', 10}, {'r', 30}};
  for (const auto& [kind, count] : steps) {
    if (kind == 'r') {
      qr.add_rows(x.block(rows, 0, count, cols), b.segment(rows, count));
      rows += count;
    } else {
      qr.add_columns(x.block(0, cols, rows, count));
      cols += count;
    }
    REQUIRE(qr.rows() == rows);
    REQUIRE(qr.cols() == cols);
    const Eigen::MatrixXd xs = x.topLeftCorner(rows, cols);
    const Eigen::VectorXd bs = b.head(rows);
    // RᵀR = XᵀX and Rᵀz = Xᵀb hold whatever the rank.
    const Eigen::MatrixXd gram = qr.r().transpose() * qr.r();
    CHECK((gram - xs.transpose() * xs).norm() <= 1e-12 * (xs.transpose() * xs).norm() + 1e-13);
    CHECK((qr.r().transpose() * qr.z() - xs.transpose() * bs).norm() <=
          1e-12 * (xs.transpose() * bs).norm() + 1e-13);
    CHECK(qr.rhs_squared_norm() == Approx(bs.squaredNorm()).epsilon(1e-13));
    CHECK(qr.residual_squared_norm() + qr.z().squaredNorm() ==
          Approx(bs.squaredNorm()).epsilon(1e-12));
    if (rows >= cols && cols > 0) {
      CHECK((with_positive_diagonal(qr.r()) - reference_r(xs)).norm() <= 1e-11 * xs.norm());
      // Least-squares residual from the factor equals the direct one.
      const Eigen::VectorXd solution = xs.colPivHouseholderQr().solve(bs);
      CHECK(qr.residual_squared_norm() ==
            Approx((xs * solution - bs).squaredNorm()).epsilon(1e-10));
    }
  }
}

TEST_CASE("growing QR: columns before any rows, and wide matrices", "[growing_qr]") {
  std::mt19937_64 rng(11);
  GrowingQr qr;
  qr.add_columns(Eigen::MatrixXd(0, 6));
  REQUIRE(qr.cols() == 6);
  REQUIRE(qr.r().isZero());
  const Eigen::MatrixXd x = random_matrix(4, 9, rng);
  const Eigen::VectorXd b = random_matrix(4, 1, rng);
  qr.add_rows(x.leftCols(6), b);
  qr.add_columns(x.rightCols(3));
  CHECK((qr.r().transpose() * qr.r() - x.transpose() * x).norm() <= 1e-12 * x.squaredNorm());
  CHECK((qr.r().transpose() * qr.z() - x.transpose() * b).norm() <= 1e-12 * x.norm() * b.norm());
  // Four rows, nine columns: b lies in the column space, nothing is left over.
  CHECK(qr.residual_squared_norm() <= 1e-24 * b.squaredNorm() + 1e-28);
}

TEST_CASE("growing QR: restored factors refuse to grow", "[growing_qr]") {
  GrowingQr qr =
      GrowingQr::restored(Eigen::MatrixXd::Identity(2, 2), Eigen::VectorXd::Ones(2), 0.5, 2.5, 3);
  CHECK(qr.residual_squared_norm() == 0.5);
  CHECK(qr.rhs_squared_norm() == 2.5);
  CHECK_FALSE(qr.can_grow());
  CHECK_THROWS(qr.add_rows(Eigen::MatrixXd::Ones(1, 2), Eigen::VectorXd::Ones(1)));
  CHECK_THROWS(qr.add_columns(Eigen::MatrixXd::Ones(3, 1)));
}

TEST_CASE("growing QR: a factor restored with its residual and blocks grows bit for bit",
          "[growing_qr]") {
  std::mt19937_64 rng(11);
  const Eigen::MatrixXd x = random_matrix(60, 20, rng);
  const Eigen::VectorXd b = random_matrix(60, 1, rng);
  GrowingQr qr;
  qr.add_columns(x.block(0, 0, 0, 4));
  qr.add_rows(x.block(0, 0, 25, 4), b.head(25));
  qr.add_columns(x.block(0, 4, 25, 6));
  GrowingQr restored = GrowingQr::restored(qr.r(), qr.z(), qr.residual_squared_norm(),
                                           qr.rhs_squared_norm(), qr.rows(), qr.residual());
  CHECK_FALSE(restored.can_grow());
  // Too few blocks (a checkpoint increment missing) and foreign ones are refused.
  std::vector<GrowingQr::Block> fewer(qr.blocks().begin(), qr.blocks().end() - 1);
  CHECK_THROWS_WITH(restored.resume(fewer), Catch::Contains("blocks missing"));
  std::vector<GrowingQr::Block> misshapen = qr.blocks();
  misshapen.front().v.conservativeResize(misshapen.front().v.rows() + 1, Eigen::NoChange);
  CHECK_THROWS_WITH(restored.resume(misshapen), Catch::Contains("does not fit"));
  CHECK_THROWS(GrowingQr::restored(qr.r(), qr.z(), qr.residual_squared_norm() * 2,
                                   qr.rhs_squared_norm(), qr.rows(), qr.residual()));
  CHECK_THROWS_WITH(GrowingQr::restored(qr.r(), qr.z(), qr.residual_squared_norm(),
                                        qr.rhs_squared_norm(), qr.rows())
                        .resume(qr.blocks()),
                    Catch::Contains("without its residual"));

  restored.resume(qr.blocks());
  REQUIRE(restored.can_grow());
  for (GrowingQr* f : {&qr, &restored}) {
    f->add_rows(x.block(25, 0, 20, 10), b.segment(25, 20));
    f->add_columns(x.block(0, 10, 45, 10));
    f->add_rows(x.block(45, 0, 15, 20), b.segment(45, 15));
  }
  CHECK(restored.r() == qr.r());
  CHECK(restored.z() == qr.z());
  CHECK(restored.residual_squared_norm() == qr.residual_squared_norm());
}
