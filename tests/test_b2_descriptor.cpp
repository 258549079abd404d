#include <Eigen/Dense>
#include <Eigen/Eigenvalues>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "otfgp/core/error.hpp"
#include "otfgp/gp/b2_descriptor.hpp"
#include "otfgp/gp/b2_kernels.hpp"
#include "otfgp/gp/team_product.hpp"
#include "support/repeatability.hpp"
#include "support/structures.hpp"

using namespace otfgp;
using namespace otfgp::testing;

namespace {

constexpr double pi = 3.14159265358979323846;

// n standard normal numbers (seeded) in a device view.
Kokkos::View<double*, MemSpace> random_normal(int n, std::uint64_t seed) {
  Kokkos::View<double*, MemSpace> view("random_normal", n);
  auto host = Kokkos::create_mirror_view(view);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  for (int k = 0; k < n; ++k) host(k) = normal(rng);
  Kokkos::deep_copy(view, host);
  return view;
}

DescriptorValues describe(const B2Descriptor& descriptor, const Structure& structure,
                          bool gradients) {
  AtomState state = AtomState::from_structure(structure);
  NeighborList list(descriptor.cutoff(), 0.0);
  list.build(state);
  return descriptor.compute(state, list, gradients);
}

B2Settings silicon_settings() {
  B2Settings settings;
  settings.species = {14};
  settings.n_max = 6;
  settings.l_max = 4;
  settings.r_min = 0.5;
  settings.cutoff = 4.2;
  return settings;
}

// Three species with a cutoff per pair, some shorter and one longer than the default.
B2Settings oxide_settings() {
  B2Settings settings;
  settings.species = {8, 45, 56};
  settings.n_max = 4;
  settings.l_max = 3;
  settings.r_min = 0.3;
  settings.cutoff = 4.5;
  settings.pair_cutoffs[{8, 8}] = 3.7;
  settings.pair_cutoffs[{8, 56}] = 4.9123456789012345;
  settings.pair_cutoffs[{45, 45}] = 4.0;
  return settings;
}

Structure oxide_structure(const Eigen::Matrix3d& cell, int atoms, std::uint64_t seed) {
  std::vector<int> numbers(atoms);
  for (int i = 0; i < atoms; ++i) numbers[i] = i % 3 == 0 ? 56 : (i % 3 == 1 ? 45 : 8);
  return random_structure(cell, numbers, 1.7, seed);
}

Eigen::Matrix3d random_rotation(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  Eigen::Matrix3d m;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) m(a, b) = normal(rng);
  Eigen::HouseholderQR<Eigen::Matrix3d> qr(m);
  Eigen::Matrix3d q = qr.householderQ();
  if (q.determinant() < 0) q.col(0) *= -1.0;
  return q;
}

double max_abs(const Eigen::MatrixXd& m) {
  return m.cwiseAbs().maxCoeff();
}

// b's gradient rows in a's entry order, entries matched by centre atom, neighbour
// and pair vector: on threaded backends the neighbour list orders each atom's
// neighbours by the thread schedule, so two computations list them differently.
Eigen::MatrixXd gradient_in_order_of(const DescriptorValues& a, const DescriptorValues& b) {
  REQUIRE(a.offsets == b.offsets);
  Eigen::MatrixXd out(b.gradient.rows(), b.gradient.cols());
  for (std::size_t i = 0; i + 1 < a.offsets.size(); ++i)
    for (int e = a.offsets[i]; e < a.offsets[i + 1]; ++e) {
      int match = -1;
      for (int f = b.offsets[i]; f < b.offsets[i + 1]; ++f)
        if (b.neighbor[f] == a.neighbor[e] &&
            (b.pair_vector.row(f) - a.pair_vector.row(e)).norm() < 1e-9)
          match = f;
      REQUIRE(match >= 0);
      out.middleRows(3 * e, 3) = b.gradient.middleRows(3 * match, 3);
    }
  return out;
}

// Values and, when asked, gradients of the kernels' harmonics at unit vectors (rows of u).
void harmonics_at(int l_max, const Eigen::MatrixXd& points, Eigen::MatrixXd& values,
                  Eigen::MatrixXd* gradients) {
  const int n = static_cast<int>(points.rows()), count = (l_max + 1) * (l_max + 1);
  Kokkos::View<double* [3], Kokkos::LayoutRight, MemSpace> r("points", n);
  Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> y("values", n, count);
  Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> dy("gradients", n, 3 * count);
  auto r_host = Kokkos::create_mirror_view(r);
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c) r_host(i, c) = points(i, c);
  Kokkos::deep_copy(r, r_host);
  const b2::SphericalHarmonics harmonics = b2::SphericalHarmonics::create(l_max);
  Kokkos::parallel_for(
      "harmonics_at", RangePolicy(0, n), KOKKOS_LAMBDA(int i) {
        const double point[3] = {r(i, 0), r(i, 1), r(i, 2)};
        harmonics.evaluate(point, &y(i, 0), &dy(i, 0));
      });
  auto y_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), y);
  auto dy_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), dy);
  values.resize(n, count);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < count; ++k) values(i, k) = y_host(i, k);
  if (gradients) {
    gradients->resize(n, 3 * count);
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < 3 * count; ++k) (*gradients)(i, k) = dy_host(i, k);
  }
}

// Gauss–Legendre nodes and weights on [−1, 1] (Golub–Welsch).
void gauss_legendre(int n, Eigen::VectorXd& nodes, Eigen::VectorXd& weights) {
  Eigen::MatrixXd jacobi = Eigen::MatrixXd::Zero(n, n);
  for (int k = 1; k < n; ++k)
    jacobi(k, k - 1) = jacobi(k - 1, k) = k / std::sqrt(4.0 * k * k - 1.0);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(jacobi);
  nodes = solver.eigenvalues();
  weights = 2.0 * solver.eigenvectors().row(0).array().square().transpose();
}

// ∂d_i/∂x_a (3 × D per atom a) assembled from the pair-vector gradients.
Eigen::MatrixXd position_gradient(const DescriptorValues& values, int i, int a) {
  Eigen::MatrixXd g = Eigen::MatrixXd::Zero(3, values.size);
  for (int e = values.offsets[i]; e < values.offsets[i + 1]; ++e) {
    const Eigen::MatrixXd block = values.gradient.middleRows(3 * e, 3);
    if (values.neighbor[e] == a) g += block;
    if (i == a) g -= block;
  }
  return g;
}

// (1/…) ∂d_i/∂ε_ab through the pair vectors: Σ_e r_a ∂d_i/∂r_b, symmetrised.
Eigen::RowVectorXd strain_gradient(const DescriptorValues& values, int i, int a, int b) {
  Eigen::RowVectorXd g = Eigen::RowVectorXd::Zero(values.size);
  for (int e = values.offsets[i]; e < values.offsets[i + 1]; ++e)
    g += 0.5 * (values.pair_vector(e, a) * values.gradient.row(3 * e + b) +
                values.pair_vector(e, b) * values.gradient.row(3 * e + a));
  return g;
}

Structure strained(const Structure& structure, int a, int b, double e) {
  Eigen::Matrix3d deformation = Eigen::Matrix3d::Identity();
  deformation(a, b) += a == b ? e : 0.5 * e;
  if (a != b) deformation(b, a) += 0.5 * e;
  Structure s = structure;
  s.cell = structure.cell * deformation;
  s.positions = structure.positions * deformation;
  return s;
}

void check_invariances(const B2Descriptor& descriptor, const Structure& structure,
                       std::uint64_t seed) {
  const Eigen::MatrixXd reference = describe(descriptor, structure, false).values;
  const double tolerance = 1e-10 * max_abs(reference);
  REQUIRE(max_abs(reference) > 0.0);

  SECTION("rotation") {
    const Eigen::Matrix3d q = random_rotation(seed);
    Structure rotated = structure;
    rotated.cell = structure.cell * q.transpose();
    rotated.positions = structure.positions * q.transpose();
    CHECK(max_abs(describe(descriptor, rotated, false).values - reference) < tolerance);
  }
  SECTION("translation") {
    Structure moved = structure;
    moved.positions.rowwise() += Eigen::RowVector3d(0.37, -1.91, 12.5);
    CHECK(max_abs(describe(descriptor, moved, false).values - reference) < tolerance);
  }
  SECTION("permutation of the atoms") {
    std::vector<int> order(structure.size());
    for (int i = 0; i < structure.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
    Structure permuted = structure;
    for (int i = 0; i < structure.size(); ++i) {
      permuted.positions.row(i) = structure.positions.row(order[i]);
      permuted.numbers[i] = structure.numbers[order[i]];
    }
    const Eigen::MatrixXd values = describe(descriptor, permuted, false).values;
    double error = 0.0;
    for (int i = 0; i < structure.size(); ++i)
      error = std::max(error, (values.row(i) - reference.row(order[i])).cwiseAbs().maxCoeff());
    CHECK(error < tolerance);
  }
  SECTION("choice of periodic image and of the cell") {
    Structure imaged = structure;
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> shift(-2, 2);
    for (int i = 0; i < structure.size(); ++i)
      imaged.positions.row(i) += double(shift(rng)) * structure.cell.row(0) +
                                 double(shift(rng)) * structure.cell.row(1) +
                                 double(shift(rng)) * structure.cell.row(2);
    // The same lattice spanned by other vectors: a, b + a, c − b.
    imaged.cell.row(1) = structure.cell.row(1) + structure.cell.row(0);
    imaged.cell.row(2) = structure.cell.row(2) - structure.cell.row(1);
    CHECK(max_abs(describe(descriptor, imaged, false).values - reference) < tolerance);
  }
}

void check_derivatives(const B2Descriptor& descriptor, const Structure& structure) {
  const DescriptorValues values = describe(descriptor, structure, true);
  REQUIRE(values.gradient.rows() == 3 * static_cast<Eigen::Index>(values.neighbor.size()));
  const double step = 1e-5;
  const double scale = max_abs(values.gradient);
  REQUIRE(scale > 0.0);
  double worst = 0.0;
  for (int a = 0; a < structure.size(); ++a)
    for (int c = 0; c < 3; ++c) {
      Structure plus = structure, minus = structure;
      plus.positions(a, c) += step;
      minus.positions(a, c) -= step;
      const Eigen::MatrixXd numeric =
          (describe(descriptor, plus, false).values - describe(descriptor, minus, false).values) /
          (2 * step);
      for (int i = 0; i < structure.size(); ++i)
        worst = std::max(
            worst, (position_gradient(values, i, a).row(c) - numeric.row(i)).cwiseAbs().maxCoeff());
    }
  INFO("max |∂d/∂x − finite difference| = " << worst << ", max |∂d/∂r| = " << scale);
  CHECK(worst < 1e-7 * scale);

  constexpr int voigt[6][2] = {{0, 0}, {1, 1}, {2, 2}, {1, 2}, {0, 2}, {0, 1}};
  double worst_strain = 0.0, strain_scale = 0.0;
  for (const auto& [a, b] : voigt) {
    const Eigen::MatrixXd numeric =
        (describe(descriptor, strained(structure, a, b, 1e-6), false).values -
         describe(descriptor, strained(structure, a, b, -1e-6), false).values) /
        2e-6;
    for (int i = 0; i < structure.size(); ++i) {
      const Eigen::RowVectorXd analytic = strain_gradient(values, i, a, b);
      strain_scale = std::max(strain_scale, analytic.cwiseAbs().maxCoeff());
      worst_strain = std::max(worst_strain, (analytic - numeric.row(i)).cwiseAbs().maxCoeff());
    }
  }
  INFO("max |∂d/∂ε − finite difference| = " << worst_strain << " of " << strain_scale);
  CHECK(worst_strain < 1e-6 * strain_scale);
}

}  // namespace

TEST_CASE("descriptor size follows (N n_max)(N n_max + 1)/2 (l_max + 1)", "[b2]") {
  B2Settings settings = silicon_settings();
  settings.n_max = 8;
  settings.l_max = 3;
  CHECK(settings.descriptor_size() == 144);
  CHECK(B2Descriptor(settings).size() == 144);
  const B2Settings oxide = oxide_settings();
  CHECK(oxide.descriptor_size() == 12 * 13 / 2 * 4);
  const B2Descriptor descriptor(oxide);
  const DescriptorValues values =
      describe(descriptor, oxide_structure(Eigen::Matrix3d::Identity() * 7.0, 9, 3), false);
  CHECK(values.size == descriptor.size());
  CHECK(values.values.cols() == descriptor.size());
  CHECK(values.values.rows() == 9);
  CHECK(descriptor.cutoff() == 4.9123456789012345);  // full precision, largest pair
}

TEST_CASE("real spherical harmonics match their closed forms for l ≤ 2", "[b2][harmonics]") {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd points(50, 3);
  for (int i = 0; i < 50; ++i)
    points.row(i) = Eigen::RowVector3d(normal(rng), normal(rng), normal(rng)) * (0.5 + i * 0.1);
  Eigen::MatrixXd values, gradients;
  harmonics_at(2, points, values, &gradients);
  for (int i = 0; i < 50; ++i) {
    const Eigen::RowVector3d u = points.row(i).normalized();
    const double x = u[0], y = u[1], z = u[2];
    const double expected[9] = {0.5 / std::sqrt(pi),
                                std::sqrt(3 / (4 * pi)) * y,
                                std::sqrt(3 / (4 * pi)) * z,
                                std::sqrt(3 / (4 * pi)) * x,
                                0.5 * std::sqrt(15 / pi) * x * y,
                                0.5 * std::sqrt(15 / pi) * y * z,
                                0.25 * std::sqrt(5 / pi) * (3 * z * z - 1),
                                0.5 * std::sqrt(15 / pi) * x * z,
                                0.25 * std::sqrt(15 / pi) * (x * x - y * y)};
    for (int k = 0; k < 9; ++k) CHECK(values(i, k) == Approx(expected[k]).margin(1e-14));
  }
}

TEST_CASE("real spherical harmonics are orthonormal and their gradients exact", "[b2][harmonics]") {
  const int l_max = b2::max_l;
  const int count = (l_max + 1) * (l_max + 1);
  // Gauss–Legendre in z and equal steps in φ integrate these polynomials exactly.
  Eigen::VectorXd nodes, weights;
  gauss_legendre(l_max + 2, nodes, weights);
  const int n_phi = 2 * l_max + 3;
  Eigen::MatrixXd points(nodes.size() * n_phi, 3);
  Eigen::VectorXd w(points.rows());
  for (int a = 0; a < nodes.size(); ++a)
    for (int b = 0; b < n_phi; ++b) {
      const double phi = 2 * pi * b / n_phi, s = std::sqrt(1 - nodes[a] * nodes[a]);
      points.row(a * n_phi + b) =
          Eigen::RowVector3d(s * std::cos(phi), s * std::sin(phi), nodes[a]);
      w[a * n_phi + b] = weights[a] * 2 * pi / n_phi;
    }
  Eigen::MatrixXd values;
  harmonics_at(l_max, points, values, nullptr);
  const Eigen::MatrixXd gram = values.transpose() * w.asDiagonal() * values;
  CHECK(max_abs(gram - Eigen::MatrixXd::Identity(count, count)) < 1e-12);

  // Gradients at points off the sphere against central differences.
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd off(20, 3);
  for (int i = 0; i < 20; ++i)
    off.row(i) = Eigen::RowVector3d(normal(rng), normal(rng), normal(rng)) * 2.0;
  Eigen::MatrixXd y0, gradients;
  harmonics_at(l_max, off, y0, &gradients);
  double worst = 0.0;
  for (int c = 0; c < 3; ++c) {
    Eigen::MatrixXd plus = off, minus = off, y_plus, y_minus;
    plus.col(c).array() += 1e-6;
    minus.col(c).array() -= 1e-6;
    harmonics_at(l_max, plus, y_plus, nullptr);
    harmonics_at(l_max, minus, y_minus, nullptr);
    const Eigen::MatrixXd numeric = (y_plus - y_minus) / 2e-6;
    for (int i = 0; i < 20; ++i)
      for (int k = 0; k < count; ++k)
        worst = std::max(worst, std::abs(numeric(i, k) - gradients(i, 3 * k + c)));
  }
  CHECK(worst < 1e-7);
}

TEST_CASE("radial basis is Chebyshev times a cutoff with zero value and slope at r_cut", "[b2]") {
  const double r_min = 0.7, r_cut = 4.3;
  const int n_max = 12;
  Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> out("radial", 3, 2 * n_max);
  const double radii[3] = {1.3, 3.9, r_cut};
  Kokkos::parallel_for(
      "radial", RangePolicy(0, 3), KOKKOS_LAMBDA(int i) {
        const double r = i == 0 ? radii[0] : (i == 1 ? radii[1] : radii[2]);
        b2::radial_basis(r, r_min, r_cut, n_max, &out(i, 0), &out(i, n_max));
      });
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  for (int i = 0; i < 2; ++i) {
    const double r = radii[i], xi = 2 * (r - r_min) / (r_cut - r_min) - 1;
    for (int n = 0; n < n_max; ++n) {
      const double value = [&](double rr) {
        const double t = std::cos(n * std::acos(2 * (rr - r_min) / (r_cut - r_min) - 1));
        return t * (r_cut - rr) * (r_cut - rr);
      }(r);
      CHECK(host(i, n) == Approx(value).margin(1e-12));
      const double h = 1e-6;
      const auto f = [&](double rr) {
        return std::cos(n * std::acos(2 * (rr - r_min) / (r_cut - r_min) - 1)) * (r_cut - rr) *
               (r_cut - rr);
      };
      CHECK(host(i, n_max + n) == Approx((f(r + h) - f(r - h)) / (2 * h)).margin(1e-6));
      (void)xi;
    }
  }
  for (int n = 0; n < n_max; ++n) {
    CHECK(host(2, n) == 0.0);
    CHECK(host(2, n_max + n) == 0.0);
  }
}

namespace {

// O–Rh with an O–Rh cutoff of 3 Å (n_max 3, l_max 2, r_min 0.5 Å), and a
// dimer of them |r| ≈ 2.41 Å apart in a 30 Å box: one neighbour each.
B2Settings dimer_settings() {
  B2Settings settings;
  settings.species = {8, 45};
  settings.n_max = 3;
  settings.l_max = 2;
  settings.r_min = 0.5;
  settings.cutoff = 5.0;
  settings.pair_cutoffs[{8, 45}] = 3.0;
  return settings;
}

const Eigen::RowVector3d dimer_vector(1.1, -1.3, 1.7);

Structure dimer_structure() {
  Structure dimer;
  dimer.cell = Eigen::Matrix3d::Identity() * 30.0;
  dimer.pbc = {false, false, false};
  dimer.numbers = {8, 45};
  dimer.positions.resize(2, 3);
  const Eigen::RowVector3d& r = dimer_vector;
  dimer.positions << 5, 5, 5, 5 + r[0], 5 + r[1], 5 + r[2];
  return dimer;
}

// g_n(r) f_c(r) of the dimer's distance, the Chebyshev basis on [0.5, 3] Å.
double dimer_radial(int n) {
  const double distance = dimer_vector.norm(), rc = 3.0;
  return std::cos(n * std::acos(2 * (distance - 0.5) / (rc - 0.5) - 1)) * (rc - distance) *
         (rc - distance);
}

}  // namespace

TEST_CASE("B2 of a dimer equals the definition by hand, with the pair's own cutoff", "[b2]") {
  const B2Descriptor descriptor(dimer_settings());
  Structure dimer = dimer_structure();
  const Eigen::RowVector3d& r = dimer_vector;
  const DescriptorValues values = describe(descriptor, dimer, false);
  // One neighbour: A_{s n lm} = g_n f_c Y_lm, so B2_{(s n)(s n′) l} = g_n g_n′ f_c² Σ_m Y_lm² =
  // g_n g_n′ f_c² (2l + 1)/(4π) for the neighbour's species s, zero otherwise.
  const double distance = r.norm();
  const auto g = dimer_radial;
  const int channels = 6;
  for (int atom = 0; atom < 2; ++atom) {
    const int s = atom == 0 ? 1 : 0;  // the neighbour's species
    int q = 0;
    for (int p = 0; p < channels; ++p)
      for (int p2 = p; p2 < channels; ++p2, ++q)
        for (int l = 0; l <= 2; ++l) {
          const bool both = p / 3 == s && p2 / 3 == s;
          const double expected = both ? g(p % 3) * g(p2 % 3) * (2 * l + 1) / (4 * pi) : 0.0;
          CHECK(values.values(atom, q * 3 + l) == Approx(expected).margin(1e-12));
        }
  }
  // Beyond the O–Rh cutoff (but inside the default) the atoms do not see each other.
  dimer.positions.row(1) = Eigen::RowVector3d(5, 5, 5) + r * (3.05 / distance);
  const DescriptorValues apart = describe(descriptor, dimer, true);
  CHECK(max_abs(apart.values) == 0.0);
  CHECK(apart.neighbor.empty());
  CHECK(apart.offsets == std::vector<int>({0, 0, 0}));
}

TEST_CASE("B2 is invariant under rotation, translation, permutation and image choice", "[b2]") {
  SECTION("silicon, triclinic cell") {
    const B2Descriptor descriptor(silicon_settings());
    check_invariances(descriptor,
                      random_structure(triclinic_cell(8.5, 7.9, 8.2, 0.3, -0.2, 0.25),
                                       std::vector<int>(14, 14), 2.0, 21),
                      22);
  }
  SECTION("three species with pair cutoffs, triclinic cell") {
    const B2Descriptor descriptor(oxide_settings());
    check_invariances(descriptor,
                      oxide_structure(triclinic_cell(7.5, 7.0, 8.0, -0.25, 0.3, 0.2), 15, 23), 24);
  }
  SECTION("cell smaller than the cutoff") {
    const B2Descriptor descriptor(oxide_settings());
    check_invariances(descriptor,
                      oxide_structure(triclinic_cell(3.3, 3.6, 3.4, 0.2, -0.1, 0.3), 3, 25), 26);
  }
}

TEST_CASE("B2 pair-vector gradients equal central differences", "[b2]") {
  SECTION("silicon") {
    const B2Descriptor descriptor(silicon_settings());
    check_derivatives(descriptor, random_structure(triclinic_cell(6.2, 6.0, 6.4, 0.2, -0.15, 0.1),
                                                   std::vector<int>(6, 14), 2.0, 31));
  }
  SECTION("three species with pair cutoffs, cell smaller than the cutoff") {
    const B2Descriptor descriptor(oxide_settings());
    check_derivatives(descriptor,
                      oxide_structure(triclinic_cell(4.1, 3.9, 4.3, 0.15, 0.2, -0.1), 4, 32));
  }
}

TEST_CASE("B2 settings and species errors are clear", "[b2]") {
  B2Settings settings = silicon_settings();
  settings.n_max = 0;
  REQUIRE_THROWS_WITH(B2Descriptor(settings), Catch::Contains("n_max"));
  settings = silicon_settings();
  settings.l_max = b2::max_l + 1;
  REQUIRE_THROWS_WITH(B2Descriptor(settings), Catch::Contains("l_max"));
  settings = silicon_settings();
  settings.r_min = 5.0;
  REQUIRE_THROWS_WITH(B2Descriptor(settings), Catch::Contains("cutoff"));
  settings = silicon_settings();
  settings.species = {14, 8};
  REQUIRE_THROWS_WITH(B2Descriptor(settings), Catch::Contains("ascending"));
  settings = silicon_settings();
  settings.pair_cutoffs[{8, 14}] = 3.0;
  REQUIRE_THROWS_WITH(B2Descriptor(settings), Catch::Contains("O-Si"));
  settings = silicon_settings();
  settings.species.clear();
  REQUIRE_THROWS_WITH(B2Descriptor(settings), Catch::Contains("species"));

  const B2Descriptor descriptor(silicon_settings());
  Structure water = random_structure(Eigen::Matrix3d::Identity() * 6, {8, 1, 1}, 1.0, 3);
  REQUIRE_THROWS_WITH(describe(descriptor, water, false), Catch::Contains("no species H"));
  AtomState state = AtomState::from_structure(
      random_structure(Eigen::Matrix3d::Identity() * 6, {14, 14}, 2.0, 4));
  NeighborList short_list(3.0, 0.0);
  short_list.build(state);
  REQUIRE_THROWS_WITH(descriptor.compute(state, short_list, false),
                      Catch::Contains("neighbour list"));
}

namespace {

// The oxide settings with a species embedding of two channels from element properties.
B2Settings embedded_oxide_settings() {
  B2Settings settings = oxide_settings();
  settings.embedding = species_embedding("elements", settings.species, 2, 0.7);
  return settings;
}

}  // namespace

TEST_CASE("a species embedding sizes the descriptor by channels, not species", "[b2][embedding]") {
  B2Settings settings = embedded_oxide_settings();
  CHECK(settings.channels() == 2);
  CHECK(settings.descriptor_size() == 8 * 9 / 2 * 4);
  const B2Descriptor descriptor(settings);
  const DescriptorValues values =
      describe(descriptor, oxide_structure(Eigen::Matrix3d::Identity() * 7.0, 9, 3), false);
  CHECK(values.values.cols() == 144);
  CHECK(descriptor.cutoff() == 4.9123456789012345);  // pair cutoffs still apply

  // Row 0 all ones; row 1 the standardised electronegativity (Ba 0.89, Rh 2.28, O 3.44),
  // scaled to |row 0| · contrast.
  const Eigen::MatrixXd& w = settings.embedding;
  CHECK(w.row(0) == Eigen::RowVector3d(1, 1, 1));
  const Eigen::RowVector3d chi(3.44, 2.28, 0.89);  // species order O, Rh, Ba
  const Eigen::RowVector3d centred = chi.array() - chi.mean();
  CHECK(max_abs(w.row(1) - centred.normalized() * std::sqrt(3.0) * 0.7) < 1e-14);
  // Three channels: the covalent radius, made orthogonal to the first two rows.
  const Eigen::MatrixXd three = species_embedding("elements", settings.species, 3);
  CHECK(std::abs(three.row(2).dot(three.row(0))) < 1e-12);
  CHECK(std::abs(three.row(2).dot(three.row(1))) < 1e-12);
  CHECK(three.row(2).norm() == Approx(std::sqrt(3.0)).epsilon(1e-14));
  CHECK(species_embedding("resolved", settings.species, 3) == Eigen::Matrix3d::Identity());
  CHECK_THROWS_WITH(species_embedding("elements", settings.species, 4),
                    Catch::Contains("at most one channel per species"));
  CHECK_THROWS_WITH(species_embedding("resolved", settings.species, 2),
                    Catch::Contains("one channel per species"));
  CHECK_THROWS_WITH(species_embedding("learnt", settings.species, 2),
                    Catch::Contains("unknown kind"));

  settings.embedding = Eigen::MatrixXd::Ones(2, 2);
  CHECK_THROWS_WITH(B2Descriptor(settings), Catch::Contains("one per species (3)"));
  settings.embedding = Eigen::MatrixXd::Ones(2, 3);
  settings.embedding.col(1).setZero();
  CHECK_THROWS_WITH(B2Descriptor(settings), Catch::Contains("Rh no weight"));
  settings.embedding(0, 1) = std::nan("");
  CHECK_THROWS_WITH(B2Descriptor(settings), Catch::Contains("non-finite"));
}

TEST_CASE("an identity embedding is the species-resolved B2, bit for bit", "[b2][embedding]") {
  B2Settings resolved = oxide_settings();
  B2Settings identity = resolved;
  identity.embedding = Eigen::MatrixXd::Identity(3, 3);
  const Structure structure =
      oxide_structure(triclinic_cell(7.5, 7.0, 8.0, -0.25, 0.3, 0.2), 15, 41);
  const DescriptorValues a = describe(B2Descriptor(resolved), structure, true);
  const DescriptorValues b = describe(B2Descriptor(identity), structure, true);
  REQUIRE(a.values.cols() == b.values.cols());
  CHECK(max_abs(a.values) > 0.0);
  // Bit for bit on Serial; to rounding on threaded backends (neighbour order).
  CHECK(repeats(a.values, b.values));
  CHECK(repeats(a.gradient, gradient_in_order_of(a, b)));
}

TEST_CASE("one all-ones channel is the one-species B2 of the same atoms", "[b2][embedding]") {
  // With W = (1 1 1) every neighbour feeds the same channel: the descriptor of a
  // structure whose atoms are all one element, given the same (uniform) cutoff.
  B2Settings mixed = oxide_settings();
  mixed.pair_cutoffs.clear();
  mixed.embedding = Eigen::MatrixXd::Ones(1, 3);
  B2Settings single = mixed;
  single.species = {8};
  single.embedding.resize(0, 0);
  const Structure structure =
      oxide_structure(triclinic_cell(7.5, 7.0, 8.0, -0.25, 0.3, 0.2), 15, 43);
  Structure oxygen = structure;
  oxygen.numbers.assign(structure.numbers.size(), 8);
  const DescriptorValues a = describe(B2Descriptor(mixed), structure, true);
  const DescriptorValues b = describe(B2Descriptor(single), oxygen, true);
  CHECK(max_abs(a.values - b.values) <= 1e-13 * max_abs(b.values));
  CHECK(max_abs(a.gradient - gradient_in_order_of(a, b)) <= 1e-13 * max_abs(b.gradient));
  // Weights enter the density linearly, so B2 (quadratic in A) scales by their square.
  mixed.embedding *= -1.5;
  const DescriptorValues scaled = describe(B2Descriptor(mixed), structure, false);
  CHECK(max_abs(scaled.values - 2.25 * b.values) <= 1e-13 * max_abs(b.values));
}

TEST_CASE("B2 with a species embedding: invariances and gradients", "[b2][embedding]") {
  const B2Descriptor descriptor(embedded_oxide_settings());
  SECTION("invariant under rotation, translation, permutation and image choice") {
    check_invariances(descriptor,
                      oxide_structure(triclinic_cell(7.5, 7.0, 8.0, -0.25, 0.3, 0.2), 15, 45), 46);
  }
  SECTION("pair-vector gradients equal central differences, cell smaller than the cutoff") {
    check_derivatives(descriptor,
                      oxide_structure(triclinic_cell(4.1, 3.9, 4.3, 0.15, 0.2, -0.1), 4, 47));
  }
}

TEST_CASE("the two-body block is the l = 0 density, after an unchanged power spectrum",
          "[b2][two_body]") {
  const B2Settings settings = dimer_settings();
  B2Settings with_pairs = settings;
  with_pairs.two_body = true;
  REQUIRE(with_pairs.two_body_size() == 6);
  REQUIRE(with_pairs.descriptor_size() == settings.descriptor_size() + 6);
  const Structure dimer = dimer_structure();
  const DescriptorValues plain = describe(B2Descriptor(settings), dimer, true);
  const DescriptorValues values = describe(B2Descriptor(with_pairs), dimer, true);
  const int power = settings.descriptor_size();
  CHECK(values.values.leftCols(power) == plain.values);
  CHECK(values.gradient.leftCols(power) == plain.gradient);
  // A_{(s n), 00} = Y_00 g_n f_c for the neighbour's species s, zero for the other.
  const auto g = dimer_radial;
  const double y00 = 0.5 / std::sqrt(pi);
  for (int atom = 0; atom < 2; ++atom) {
    const int s = atom == 0 ? 1 : 0;
    for (int p = 0; p < 6; ++p) {
      const double expected = p / 3 == s ? y00 * g(p % 3) : 0.0;
      CHECK(values.values(atom, power + p) == Approx(expected).margin(1e-13));
    }
  }
}

TEST_CASE("B2 with the two-body block: invariances and gradients", "[b2][two_body]") {
  SECTION("three species with pair cutoffs, cell smaller than the cutoff") {
    B2Settings settings = oxide_settings();
    settings.two_body = true;
    const B2Descriptor descriptor(settings);
    check_invariances(descriptor,
                      oxide_structure(triclinic_cell(7.5, 7.0, 8.0, -0.25, 0.3, 0.2), 15, 48), 49);
    check_derivatives(descriptor,
                      oxide_structure(triclinic_cell(4.1, 3.9, 4.3, 0.15, 0.2, -0.1), 4, 50));
  }
  SECTION("with a species embedding") {
    B2Settings settings = embedded_oxide_settings();
    settings.two_body = true;
    check_derivatives(B2Descriptor(settings),
                      oxide_structure(triclinic_cell(4.1, 3.9, 4.3, 0.15, 0.2, -0.1), 4, 51));
  }
}

namespace {

// Descriptor::pull_back of B2 (its own kernel) against the gradient rows of
// compute(…, true) times the covectors, and against the default
// implementation that goes through them: every atom but one, shuffled, with
// `rows` random covectors each.
void check_pull_back(const B2Descriptor& descriptor, const Structure& structure, int rows,
                     std::uint64_t seed) {
  AtomState state = AtomState::from_structure(structure);
  NeighborList list(descriptor.cutoff(), 0.0);
  list.build(state);
  const DescriptorValues values = descriptor.compute(state, list, true);
  std::vector<int> atoms;
  for (int i = 0; i < structure.size(); ++i)
    if (i != 1) atoms.push_back(i);
  std::mt19937_64 rng(seed);
  std::shuffle(atoms.begin(), atoms.end(), rng);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd adjoints(static_cast<Eigen::Index>(atoms.size()) * rows, descriptor.size());
  for (Eigen::Index c = 0; c < adjoints.cols(); ++c)
    for (Eigen::Index r = 0; r < adjoints.rows(); ++r) adjoints(r, c) = normal(rng);

  int entries = 0;
  for (int i : atoms) entries += values.offsets[i + 1] - values.offsets[i];
  Eigen::MatrixXd expected(rows, 3 * entries);
  int column = 0;
  for (std::size_t a = 0; a < atoms.size(); ++a) {
    const int begin = values.offsets[atoms[a]], count = values.offsets[atoms[a] + 1] - begin;
    expected.middleCols(column, 3 * count) =
        adjoints.middleRows(static_cast<Eigen::Index>(a) * rows, rows) *
        values.gradient.middleRows(3 * begin, 3 * count).transpose();
    column += 3 * count;
  }
  REQUIRE(entries > 0);
  REQUIRE(max_abs(expected) > 0.0);
  const Eigen::MatrixXd pulled = descriptor.pull_back(state, list, atoms, adjoints);
  REQUIRE(pulled.rows() == rows);
  REQUIRE(pulled.cols() == 3 * entries);
  INFO("max |pull-back − gradientᵀ·covector| = " << max_abs(pulled - expected) << " of "
                                                 << max_abs(expected));
  CHECK(max_abs(pulled - expected) <= 1e-12 * max_abs(expected));
  const Eigen::MatrixXd by_gradient =
      descriptor.Descriptor::pull_back(state, list, atoms, adjoints);
  CHECK(max_abs(by_gradient - expected) <= 1e-14 * max_abs(expected));
}

}  // namespace

TEST_CASE("B2 pull-back equals the transposed gradient times the covectors", "[b2][pull_back]") {
  SECTION("silicon, one covector per atom") {
    const B2Descriptor descriptor(silicon_settings());
    check_pull_back(descriptor,
                    random_structure(triclinic_cell(8.5, 7.9, 8.2, 0.3, -0.2, 0.25),
                                     std::vector<int>(14, 14), 2.0, 61),
                    1, 62);
  }
  SECTION("silicon, seven covectors per atom") {
    const B2Descriptor descriptor(silicon_settings());
    check_pull_back(descriptor,
                    random_structure(triclinic_cell(8.5, 7.9, 8.2, 0.3, -0.2, 0.25),
                                     std::vector<int>(14, 14), 2.0, 63),
                    7, 64);
  }
  SECTION("three species with pair cutoffs, cell smaller than the cutoff") {
    const B2Descriptor descriptor(oxide_settings());
    check_pull_back(descriptor,
                    oxide_structure(triclinic_cell(4.1, 3.9, 4.3, 0.15, 0.2, -0.1), 4, 65), 5, 66);
    check_pull_back(descriptor,
                    oxide_structure(triclinic_cell(7.5, 7.0, 8.0, -0.25, 0.3, 0.2), 15, 67), 3, 68);
  }
  SECTION("with the two-body block") {
    B2Settings settings = oxide_settings();
    settings.two_body = true;
    check_pull_back(B2Descriptor(settings),
                    oxide_structure(triclinic_cell(7.5, 7.0, 8.0, -0.25, 0.3, 0.2), 15, 69), 4, 70);
  }
  SECTION("with a species embedding") {
    check_pull_back(B2Descriptor(embedded_oxide_settings()),
                    oxide_structure(triclinic_cell(7.5, 7.0, 8.0, -0.25, 0.3, 0.2), 15, 71), 4, 72);
  }
  SECTION("with a species embedding and the two-body block") {
    B2Settings settings = embedded_oxide_settings();
    settings.two_body = true;
    check_pull_back(B2Descriptor(settings),
                    oxide_structure(triclinic_cell(4.1, 3.9, 4.3, 0.15, 0.2, -0.1), 4, 73), 6, 74);
  }
}

TEST_CASE("B2 pull-back of atoms without neighbours, and of mismatched covectors",
          "[b2][pull_back]") {
  const B2Descriptor descriptor(dimer_settings());
  Structure dimer = dimer_structure();
  dimer.positions.row(1) =
      Eigen::RowVector3d(5, 5, 5) + dimer_vector * (3.05 / dimer_vector.norm());
  AtomState state = AtomState::from_structure(dimer);
  NeighborList list(descriptor.cutoff(), 0.0);
  list.build(state);
  const Eigen::MatrixXd adjoints = Eigen::MatrixXd::Ones(4, descriptor.size());
  CHECK(descriptor.pull_back(state, list, {0, 1}, adjoints).size() == 0);
  CHECK(descriptor.pull_back(state, list, {}, Eigen::MatrixXd(0, descriptor.size())).size() == 0);
  CHECK_THROWS_AS(descriptor.pull_back(state, list, {0, 1}, adjoints.leftCols(3)),
                  std::invalid_argument);
  CHECK_THROWS_AS(descriptor.pull_back(state, list, {0, 1}, adjoints.topRows(3)),
                  std::invalid_argument);
  CHECK_THROWS_AS(descriptor.pull_back(state, list, {2}, adjoints), std::out_of_range);
}

TEST_CASE(
    "B2 team kernels: the density gathered by a team, the force contraction with its harmonics "
    "made as used, the power spectrum and its adjoint by elements and the column-wise β·d̂ equal "
    "the one-thread forms, number for number",
    "[b2][team]") {
  // The forms a GPU team takes (no atomics on the team's density, reads of β
  // coalesced, harmonics made as the force contraction uses them) against the
  // one-thread forms of the host, on one input: each form on its own in a
  // one-thread team (so every host backend runs both; on a device the
  // contraction is always the streamed form, so there it is checked from the
  // radial terms alone against the cached terms, and its numbers by
  // test_gp_potential "mapped GP forces and stress are derivatives of the
  // energy"), and density_and_terms with the largest team the backend allows
  // (two threads under OpenMP with two: the gathered form chosen for it).
  using TeamPolicy = Kokkos::TeamPolicy<ExecSpace>;
  using Member = TeamPolicy::member_type;
  B2Settings settings = oxide_settings();
  const Structure structure = oxide_structure(10.0 * Eigen::Matrix3d::Identity(), 45, 17);
  AtomState state = AtomState::from_structure(structure);
  NeighborList list(B2Descriptor(settings).cutoff(), 0.3);
  list.build(state);
  b2::B2Basis basis = b2::B2Basis::create(settings);
  basis.bind(settings, state.species);
  const int natoms = state.natoms, size = basis.density_size;
  const int stride = basis.terms_size(b2::Terms::gradients), max_pairs = list.max_neighbors();
  const NeighborView neighbors = list.view();
  const VecView x = state.x;
  const IntView type = state.type;
  Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> cache("cache", natoms,
                                                              std::size_t(max_pairs) * stride);
  const auto density = [&](int team_size, bool gather) {
    Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> A("A", natoms, size);
    Kokkos::parallel_for(
        TeamPolicy(natoms, team_size), KOKKOS_LAMBDA(const Member& team) {
          const int i = team.league_rank();
          const int begin = neighbors.offsets(i), end = neighbors.offsets(i + 1);
          double* a = &A(i, 0);
          double* t = &cache(i, 0);
          basis.density_and_terms(
              team, neighbors, x, type, i, basis.type_map(type(i)), begin, end,
              [](int k) { return k; }, t, a);
          if (!gather) return;
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, size), [&](int e) { a[e] = 0.0; });
          team.team_barrier();
          basis.gather_density(team, t, end - begin, basis.cache_stride(team), a);
        });
    return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), A);
  };
  const int largest = testing::largest_team_size(32);
  // A team caches the harmonics without their gradients (cache_stride): the
  // one-thread runs come last, leaving the layout the contraction below reads.
  const auto team = density(largest, false);
  const auto one_thread = density(1, false);
  const auto gathered = density(1, true);
  const int one_thread_stride = basis.terms_size(b2::B2Basis::cached_terms(false));
  int nonzero = 0;
  for (int i = 0; i < natoms; ++i)
    for (int a = 0; a < size; ++a) {
      REQUIRE(gathered(i, a) == one_thread(i, a));
      REQUIRE(team(i, a) == one_thread(i, a));
      nonzero += one_thread(i, a) != 0.0;
    }
  CHECK(nonzero > natoms * size / 4);

  // ∂ε/∂r_ij from the cached terms, the sums swept over lm (one thread on the
  // host) and one (l, |m|) at a time (a team of several, the harmonics made
  // as they are used), and the latter from the radial terms alone (what a
  // team's force kernel makes, Terms::radial).
  const Kokkos::View<double*, MemSpace> dE_dA = random_normal(size, 3);
  REQUIRE(basis.terms_size(b2::Terms::radial) <= b2::terms_header + 2 * b2::max_radial);
  Kokkos::View<double***, Kokkos::LayoutRight, MemSpace> g("g", 3, natoms * max_pairs, 3);
  Kokkos::parallel_for(
      Kokkos::RangePolicy<ExecSpace>(0, natoms), KOKKOS_LAMBDA(int i) {
        const int begin = neighbors.offsets(i);
        for (int k = 0; k < neighbors.offsets(i + 1) - begin; ++k) {
          const double* t = &cache(i, std::size_t(k) * one_thread_stride);
          if (t[3] < 0.0) continue;
          basis.contract_gradient(t, dE_dA.data(), &g(0, i * max_pairs + k, 0), false);
          basis.contract_gradient(t, dE_dA.data(), &g(1, i * max_pairs + k, 0), true);
          double radial[b2::terms_header + 2 * b2::max_radial];
          if (basis.neighbor_terms(neighbors, x, type, i, basis.type_map(type(i)), begin + k,
                                   b2::Terms::radial, radial))
            basis.contract_gradient(radial, dE_dA.data(), &g(2, i * max_pairs + k, 0), true);
        }
      });
  const auto g_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g);
  int contracted = 0;
  for (int e = 0; e < natoms * max_pairs; ++e)
    for (int c = 0; c < 3; ++c) {
      REQUIRE(g_host(1, e, c) == g_host(0, e, c));
      REQUIRE(g_host(2, e, c) == g_host(0, e, c));
      contracted += g_host(0, e, c) != 0.0;
    }
  CHECK(contracted > natoms);

  // B2(A) and its adjoint by rows (one thread) and by elements (a team of
  // several), from the densities above and a random ∂ε/∂d.
  const int power = basis.power_size;
  Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> A_device("A", natoms, size);
  Kokkos::deep_copy(A_device, one_thread);
  const Kokkos::View<double*, MemSpace> dE_dd = random_normal(power, 11);
  Kokkos::View<double***, Kokkos::LayoutRight, MemSpace> spectra("spectra", 2, natoms, power);
  Kokkos::View<double***, Kokkos::LayoutRight, MemSpace> adjoints("adjoints", 2, natoms, size);
  Kokkos::parallel_for(
      Kokkos::RangePolicy<ExecSpace>(0, natoms), KOKKOS_LAMBDA(int i) {
        const double* a = &A_device(i, 0);
        for (int p = 0; p < basis.n_radial; ++p) {
          basis.power_spectrum_row(p, a, &spectra(0, i, 0));
          basis.power_spectrum_adjoint_row(p, a, dE_dd.data(), &adjoints(0, i, 0));
        }
        for (int e = 0; e < power; ++e) basis.power_spectrum_element(e, a, &spectra(1, i, 0));
        for (int e = 0; e < size; ++e)
          basis.power_spectrum_adjoint_element(e, a, dE_dd.data(), &adjoints(1, i, 0));
      });
  const auto spectra_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), spectra);
  const auto adjoints_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), adjoints);
  int spectrum_nonzero = 0, adjoint_nonzero = 0;
  for (int i = 0; i < natoms; ++i) {
    for (int e = 0; e < power; ++e) {
      REQUIRE(spectra_host(1, i, e) == spectra_host(0, i, e));
      spectrum_nonzero += spectra_host(0, i, e) != 0.0;
    }
    for (int a = 0; a < size; ++a) {
      REQUIRE(adjoints_host(1, i, a) == adjoints_host(0, i, a));
      adjoint_nonzero += adjoints_host(0, i, a) != 0.0;
    }
  }
  CHECK(spectrum_nonzero > natoms * power / 4);
  CHECK(adjoint_nonzero > natoms * size / 4);

  // β·d̂ for a symmetric β of an odd size (the last columns outside the
  // groups of four).
  const int D = 39;
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal;
  Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> beta("beta", D, D), d("d", natoms, D);
  auto beta_host = Kokkos::create_mirror_view(beta);
  auto d_host = Kokkos::create_mirror_view(d);
  for (int r = 0; r < D; ++r)
    for (int c = 0; c <= r; ++c) beta_host(r, c) = beta_host(c, r) = normal(rng);
  for (int i = 0; i < natoms; ++i)
    for (int e = 0; e < D; ++e) d_host(i, e) = normal(rng);
  Kokkos::deep_copy(beta, beta_host);
  Kokkos::deep_copy(d, d_host);
  const auto product = [&](int team_size, int form) {
    Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> out("out", natoms, D);
    Kokkos::parallel_for(
        TeamPolicy(natoms, team_size), KOKKOS_LAMBDA(const Member& team) {
          const int i = team.league_rank();
          if (form == 0) symmetric_product_rows(&beta(0, 0), &d(i, 0), &out(i, 0), D);
          if (form == 1) symmetric_product_columns(team, &beta(0, 0), &d(i, 0), &out(i, 0), D);
          if (form == 2) symmetric_product(team, &beta(0, 0), &d(i, 0), &out(i, 0), D);
        });
    return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  };
  const auto rows = product(1, 0), columns = product(1, 1), chosen = product(largest, 2);
  for (int i = 0; i < natoms; ++i)
    for (int r = 0; r < D; ++r) {
      double expected = 0.0;
      for (int c = 0; c < D; ++c) expected += beta_host(r, c) * d_host(i, c);
      REQUIRE(rows(i, r) == Approx(expected).epsilon(1e-12));
      REQUIRE(columns(i, r) == rows(i, r));
      REQUIRE(chosen(i, r) == rows(i, r));
    }
}

TEST_CASE("a team kernel's scratch beyond what the backend gives a team is refused clearly",
          "[b2][team]") {
  // TeamScratch checks on every backend what a CUDA launch refuses, so that a
  // kernel placing too much at level 0 fails here and not only on a GPU.
  using TeamPolicy = Kokkos::TeamPolicy<ExecSpace>;
  const std::size_t level0 = TeamPolicy::scratch_size_max(0);
  const std::size_t level1 = TeamPolicy::scratch_size_max(1);
  CHECK_NOTHROW(b2::TeamScratch().per_team(0, level0).on(TeamPolicy(1, 1), 1, "k"));
  CHECK_NOTHROW(b2::TeamScratch()
                    .per_team(0, level0 / 2)
                    .per_thread(0, level0 / 64)
                    .per_team(1, level1)
                    .on(TeamPolicy(1, 1), 0, "k"));
  CHECK_THROWS_WITH(
      b2::TeamScratch().per_team(0, level0 + 8).on(TeamPolicy(1, 1), 1, "GpPotential::forces"),
      Catch::Contains("GpPotential::forces needs " + std::to_string(level0 + 8) +
                      " bytes of level-0 scratch") &&
          Catch::Contains("more than the backend gives a team (" + std::to_string(level0) + ")"));
  // The backend's team size (0) counts as a warp of 32 threads.
  CHECK_THROWS_WITH(b2::TeamScratch().per_thread(0, level0 / 16).on(TeamPolicy(1, 1), 0, "k"),
                    Catch::Contains("per team of 32 threads"));
  CHECK_THROWS_WITH(b2::TeamScratch().per_team(1, level1 + 8).on(TeamPolicy(1, 1), 1, "k"),
                    Catch::Contains("level-1"));
  // The levels a kernel's arrays take: the team's at level 0 while they fit
  // in 32 KiB, its threads' with them while all fits.
  CHECK(b2::scratch_levels(1000, 100, 32).team == 0);
  CHECK(b2::scratch_levels(1000, 100, 32).thread == 0);
  CHECK(b2::scratch_levels(30000, 100, 32).thread == 1);
  CHECK(b2::scratch_levels(40000, 100, 32).team == 1);
  CHECK(b2::scratch_levels(40000, 100, 32).thread == 0);
}
