#include "support/structures.hpp"

#include <Eigen/Dense>
#include <random>
#include <stdexcept>

namespace otfgp::testing {

Eigen::Matrix3d triclinic_cell(double a, double b, double c, double xy, double xz, double yz) {
  Eigen::Matrix3d cell;
  cell << a, 0, 0, xy * a, b, 0, xz * a, yz * b, c;
  return cell;
}

namespace {
double minimum_image_distance(const Eigen::Matrix3d& cell, const Eigen::RowVector3d& delta) {
  const Eigen::RowVector3d s = delta * cell.inverse();
  double best = 1e300;
  for (int a = -2; a <= 2; ++a)
    for (int b = -2; b <= 2; ++b)
      for (int c = -2; c <= 2; ++c) {
        Eigen::RowVector3d t = s;
        t[0] -= std::round(s[0]) + a;
        t[1] -= std::round(s[1]) + b;
        t[2] -= std::round(s[2]) + c;
        best = std::min(best, (t * cell).norm());
      }
  return best;
}
}  // namespace

Structure random_structure(const Eigen::Matrix3d& cell, const std::vector<int>& numbers,
                           double min_distance, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Structure s;
  s.cell = cell;
  s.numbers = numbers;
  s.positions.resize(static_cast<int>(numbers.size()), 3);
  for (int i = 0; i < s.size(); ++i) {
    for (int attempt = 0;; ++attempt) {
      if (attempt > 100000) throw std::runtime_error("random_structure: cell too crowded");
      const Eigen::RowVector3d r = Eigen::RowVector3d(unit(rng), unit(rng), unit(rng)) * cell;
      bool ok = true;
      for (int j = 0; j < i && ok; ++j)
        ok = minimum_image_distance(cell, r - s.positions.row(j)) >= min_distance;
      if (ok) {
        s.positions.row(i) = r;
        break;
      }
    }
  }
  return s;
}

namespace {
// n×n×n conventional cubic cells of side a, each holding the fractional `basis` sites.
template <std::size_t sites>
Structure cubic_crystal(const double (&basis)[sites][3], int z, double a, int n) {
  Structure s;
  s.cell = Eigen::Matrix3d::Identity() * a * n;
  s.positions.resize(static_cast<int>(sites) * n * n * n, 3);
  int k = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (int l = 0; l < n; ++l)
        for (const auto& b : basis) {
          s.positions.row(k++) = Eigen::RowVector3d(i + b[0], j + b[1], l + b[2]) * a;
          s.numbers.push_back(z);
        }
  return s;
}
}  // namespace

Structure diamond(int z, double a, int n) {
  const double basis[8][3] = {{0, 0, 0},          {0, 0.5, 0.5},      {0.5, 0, 0.5},
                              {0.5, 0.5, 0},      {0.25, 0.25, 0.25}, {0.25, 0.75, 0.75},
                              {0.75, 0.25, 0.75}, {0.75, 0.75, 0.25}};
  return cubic_crystal(basis, z, a, n);
}

Structure fcc(int z, double a, int n) {
  const double basis[4][3] = {{0, 0, 0}, {0, 0.5, 0.5}, {0.5, 0, 0.5}, {0.5, 0.5, 0}};
  return cubic_crystal(basis, z, a, n);
}

std::vector<int> alternating(int count, int first, int second) {
  std::vector<int> numbers(count, first);
  for (int i = 1; i < count; i += 2) numbers[i] = second;
  return numbers;
}

void rattle(Structure& structure, double amplitude, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-amplitude, amplitude);
  for (int i = 0; i < structure.size(); ++i)
    for (int d = 0; d < 3; ++d) structure.positions(i, d) += uniform(rng);
}

}  // namespace otfgp::testing
