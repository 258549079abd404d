// The sparse GP against central differences, a dense textbook DTC/full GP
// written out here, and itself trained in another order.

#include <Eigen/Dense>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>

#include "otfgp/core/units.hpp"
#include "otfgp/gp/b2_descriptor.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/gp/sparse_gp.hpp"
#include "otfgp/gp/sparse_gp_potential.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "support/checks.hpp"
#include "support/radial_descriptor.hpp"
#include "support/repeatability.hpp"
#include "support/structures.hpp"

using namespace otfgp;
using namespace otfgp::testing;

namespace {

const std::string reference_spec =
    "lj:eps=0.0104,sigma=3.4,rc=7.0,eps.Ar-Kr=0.0125,sigma.Ar-Kr=3.55,eps.Kr-Kr=0.0141,sigma.Kr-Kr="
    "3.65";

Structure labelled_frame(std::uint64_t seed, int natoms = 9) {
  std::vector<int> numbers(natoms, 18);
  for (int i = 0; i < natoms; i += 3) numbers[i] = 36;
  Structure s =
      random_structure(triclinic_cell(9.0, 8.5, 9.2, 0.1, -0.15, 0.05), numbers, 3.0, seed);
  auto potential = make_potential(reference_spec);
  attach_labels(s, evaluate(*potential, s));
  return s;
}

// two_body: the last columns declared the two-body block.
std::shared_ptr<const Descriptor> test_descriptor(int two_body = 0) {
  return std::make_shared<RadialDescriptor>(std::vector<int>{18, 36}, 10, 6.0, two_body);
}

GpHyperparameters test_hyperparameters() {
  GpHyperparameters h;
  h.signal_std = 0.7;
  h.energy_noise = 0.004;
  h.force_noise = 0.02;
  h.stress_noise = 0.003;
  return h;
}

// ---- a dense textbook implementation, independent of SparseGp's internals ----

// (â·b̂)^p and its gradient with respect to a.
double shape(const Eigen::VectorXd& a, const Eigen::VectorXd& b, int p) {
  if (a.norm() == 0 || b.norm() == 0) return 0;
  return std::pow(a.dot(b) / (a.norm() * b.norm()), p);
}
Eigen::VectorXd shape_gradient(const Eigen::VectorXd& a, const Eigen::VectorXd& b, int p) {
  const double na = a.norm(), nb = b.norm();
  const double c = a.dot(b) / (na * nb);
  const Eigen::VectorXd dc = b / (na * nb) - c * a / (na * na);
  return p * std::pow(c, p - 1) * dc;
}

struct DenseLabels {
  Eigen::MatrixXd k;      // labels × sparse, full units
  Eigen::VectorXd y;      // targets, reference energies removed
  Eigen::VectorXd noise;  // variances
};

// Kernel rows of one frame's labels (energy, forces, stress) against a sparse set.
DenseLabels dense_rows(const SparseGp& gp, const Structure& frame, bool energy_only) {
  const DescriptorValues v = gp.describe(frame, true);
  const GpHyperparameters& h = gp.hyperparameters();
  const double s2 = h.signal_std * h.signal_std;
  const int p = gp.kernel().power();
  const int m = gp.num_sparse(), n = frame.size();
  const int rows = energy_only ? 1 : 1 + 3 * n + 6;
  DenseLabels out{Eigen::MatrixXd::Zero(rows, m), Eigen::VectorXd::Zero(rows),
                  Eigen::VectorXd::Zero(rows)};
  double reference = 0;
  for (int i = 0; i < n; ++i) reference += gp.reference_energies()[v.species[i]];
  out.y[0] = *frame.energy - reference;
  out.noise[0] = h.energy_noise * h.energy_noise * n;
  if (!energy_only) {
    for (int i = 0; i < n; ++i)
      for (int c = 0; c < 3; ++c) {
        out.y[1 + 3 * i + c] = (*frame.forces)(i, c);
        out.noise[1 + 3 * i + c] = h.force_noise * h.force_noise;
      }
    for (int c = 0; c < 6; ++c) {
      out.y[1 + 3 * n + c] = (*frame.stress)[c];
      out.noise[1 + 3 * n + c] = h.stress_noise * h.stress_noise;
    }
  }
  const double volume = frame.volume();
  for (int u = 0; u < m; ++u) {
    const Eigen::VectorXd su = gp.sparse_descriptors().row(u).transpose();
    for (int i = 0; i < n; ++i) {
      if (v.species[i] != gp.sparse_species()[u]) continue;
      const Eigen::VectorXd di = v.values.row(i).transpose();
      out.k(0, u) += s2 * shape(di, su, p);
      if (energy_only) continue;
      const Eigen::VectorXd g = s2 * shape_gradient(di, su, p);
      for (int e = v.offsets[i]; e < v.offsets[i + 1]; ++e) {
        const int j = v.neighbor[e];
        Eigen::Vector3d dk;
        for (int c = 0; c < 3; ++c) dk[c] = v.gradient.row(3 * e + c).dot(g);
        for (int c = 0; c < 3; ++c) {
          out.k(1 + 3 * j + c, u) -= dk[c];
          out.k(1 + 3 * i + c, u) += dk[c];
        }
        const Eigen::Vector3d r = v.pair_vector.row(e).transpose();
        const Eigen::Matrix3d outer = r * dk.transpose() / volume;
        const Eigen::Matrix3d sym = 0.5 * (outer + outer.transpose());
        const double voigt[6] = {sym(0, 0), sym(1, 1), sym(2, 2), sym(1, 2), sym(0, 2), sym(0, 1)};
        for (int c = 0; c < 6; ++c) out.k(1 + 3 * n + c, u) += voigt[c];
      }
    }
  }
  return out;
}

Eigen::MatrixXd dense_kuu(const SparseGp& gp) {
  const int m = gp.num_sparse();
  const double s2 = std::pow(gp.hyperparameters().signal_std, 2);
  Eigen::MatrixXd k = Eigen::MatrixXd::Zero(m, m);
  for (int a = 0; a < m; ++a)
    for (int b = 0; b < m; ++b)
      if (gp.sparse_species()[a] == gp.sparse_species()[b])
        k(a, b) = s2 * shape(gp.sparse_descriptors().row(a).transpose(),
                             gp.sparse_descriptors().row(b).transpose(), gp.kernel().power());
  return k;
}

DenseLabels stack(const std::vector<DenseLabels>& parts) {
  int rows = 0;
  for (const auto& p : parts) rows += static_cast<int>(p.y.size());
  DenseLabels out{Eigen::MatrixXd(rows, parts[0].k.cols()), Eigen::VectorXd(rows),
                  Eigen::VectorXd(rows)};
  int at = 0;
  for (const auto& p : parts) {
    const int n = static_cast<int>(p.y.size());
    out.k.middleRows(at, n) = p.k;
    out.y.segment(at, n) = p.y;
    out.noise.segment(at, n) = p.noise;
    at += n;
  }
  return out;
}

// Sparse set: atoms 0, 1, 4 and 7 of every frame; `second_frame_scales`: the
// force noise scales of the second frame's atoms (empty: none).
SparseGp trained_gp(const std::vector<Structure>& frames, int power, LabelSelection labels = {},
                    int two_body_columns = 0, double two_body_weight = 0.0,
                    double three_body_weight = 0.0,
                    const std::vector<double>& second_frame_scales = {}) {
  SparseGp gp(test_descriptor(two_body_columns),
              std::make_shared<NormalizedDotProductKernel>(power, two_body_columns, two_body_weight,
                                                           three_body_weight),
              test_hyperparameters(), Eigen::Vector2d(-0.02, -0.03));
  for (std::size_t f = 0; f < frames.size(); ++f) {
    LabelSelection frame_labels = labels;
    if (f == 1) frame_labels.force_noise_scale = second_frame_scales;
    const int index = gp.add_frame(frames[f], frame_labels);
    gp.add_sparse_atoms(index, {0, 1, 4, 7}, -1.0);
  }
  return gp;
}

double relative_difference(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).norm() / std::max(b.norm(), 1e-300);
}

}  // namespace

TEST_CASE("sparse GP forces are -dE/dx and stress is (1/V) dE/depsilon", "[sparse_gp]") {
  for (int power : {1, 2}) {
    SparseGp gp = trained_gp({labelled_frame(1), labelled_frame(2), labelled_frame(3)}, power);
    auto shared = std::make_shared<const SparseGp>(std::move(gp));
    auto potential = make_sparse_gp_potential(shared, "gp:test");
    check_derivatives(*potential, labelled_frame(10), 1e-7, 1e-8);
    // A cluster (no periodicity) has forces but no stress.
    Structure cluster = labelled_frame(11, 6);
    cluster.pbc = {false, false, false};
    const Evaluation e = evaluate(*potential, cluster);
    CHECK_FALSE(e.stress.has_value());
    CHECK(e.forces.colwise().sum().norm() < 1e-12);
  }
}

TEST_CASE("with a two-body kernel part, forces are -dE/dx and stress (1/V) dE/depsilon",
          "[sparse_gp][two_body]") {
  // The last 4 numbers of the test descriptor play the two-body block.
  SparseGp gp =
      trained_gp({labelled_frame(1), labelled_frame(2), labelled_frame(3)}, 2, {}, 4, 0.3);
  const SparseGp plain = trained_gp({labelled_frame(1), labelled_frame(2), labelled_frame(3)}, 2);
  CHECK(gp.predict(labelled_frame(10)).energy != plain.predict(labelled_frame(10)).energy);
  auto shared = std::make_shared<const SparseGp>(std::move(gp));
  auto potential = make_sparse_gp_potential(shared, "gp:test");
  check_derivatives(*potential, labelled_frame(10), 1e-7, 1e-8);
  // A kernel and a descriptor that disagree on the two-body block are refused.
  CHECK_THROWS_WITH(
      SparseGp(test_descriptor(4), std::make_shared<NormalizedDotProductKernel>(2),
               test_hyperparameters(), Eigen::Vector2d(0, 0)),
      Catch::Contains("two-body part reads 0 columns") && Catch::Contains("two-body block has 4"));
  CHECK_THROWS_WITH(
      SparseGp(test_descriptor(), std::make_shared<NormalizedDotProductKernel>(2, 4, 1.0),
               test_hyperparameters(), Eigen::Vector2d(0, 0)),
      Catch::Contains("two-body block has 0"));
}

TEST_CASE("with a three-body kernel part, forces are -dE/dx, and the mapped form carries its map",
          "[sparse_gp][three_body]") {
  const std::vector<Structure> frames = {labelled_frame(1), labelled_frame(2), labelled_frame(3)};
  for (int two_body : {0, 4}) {
    CAPTURE(two_body);
    const double w2 = two_body > 0 ? 0.3 : 0.0;
    SparseGp gp = trained_gp(frames, 2, {}, two_body, w2, 0.05);
    const SparseGp plain = trained_gp(frames, 2, {}, two_body, w2);
    CHECK(gp.predict(labelled_frame(10)).energy != plain.predict(labelled_frame(10)).energy);
    const MappedGp mapped = gp.mapped();
    CHECK(mapped.three_body_weight == 0.05);
    REQUIRE(mapped.three_body.size() == 2);
    REQUIRE(mapped.sparse_norm.size() == 2);
    CHECK(mapped.sparse_norm[0].size() == mapped.sparse_normalised[0].rows());
    auto shared = std::make_shared<const SparseGp>(std::move(gp));
    auto potential = make_sparse_gp_potential(shared, "gp:test");
    check_derivatives(*potential, labelled_frame(10), 1e-7, 1e-8);
  }
}

TEST_CASE("sparse GP mean, variance and likelihood equal a dense textbook DTC", "[sparse_gp]") {
  const std::vector<Structure> frames = {labelled_frame(21), labelled_frame(22),
                                         labelled_frame(23)};
  // Without and with per-atom force noise scales on the second frame (its atoms
  // 3 and 6 at 3 and 1.7 times σ_f, the rest at σ_f).
  const std::vector<double> scales =
      GENERATE(std::vector<double>(), std::vector<double>{1, 1, 3.0, 1, 1, 1.7, 1, 1, 1});
  CAPTURE(scales.size());
  for (int power : {1, 2}) {
    SparseGp gp = trained_gp(frames, power, {}, 0, 0.0, 0.0, scales);
    gp.set_split_conditioning(false);  // the textbook DTC first
    REQUIRE(gp.num_sparse() == 12);
    std::vector<DenseLabels> parts;
    for (const auto& f : frames) parts.push_back(dense_rows(gp, f, false));
    for (std::size_t i = 0; i < scales.size(); ++i)
      parts[1].noise.segment(1 + 3 * i, 3) *= scales[i] * scales[i];
    const DenseLabels train = stack(parts);
    REQUIRE(gp.num_labels() == train.y.size());
    // In long double, so that the reference is more accurate than what it checks.
    using MatrixL = Eigen::Matrix<long double, Eigen::Dynamic, Eigen::Dynamic>;
    using VectorL = Eigen::Matrix<long double, Eigen::Dynamic, 1>;
    const MatrixL kuu_inverse = dense_kuu(gp).cast<long double>().inverse();
    const MatrixL k_fu = train.k.cast<long double>();
    const VectorL y = train.y.cast<long double>();
    const MatrixL c = k_fu * kuu_inverse * k_fu.transpose() +
                      MatrixL(train.noise.cast<long double>().asDiagonal());
    const Eigen::LDLT<MatrixL> c_solver(c);
    const VectorL c_inv_y = c_solver.solve(y);

    // Log marginal likelihood of y ~ N(0, Q_ff + Λ).
    const double n = static_cast<double>(train.y.size());
    const double log_det = static_cast<double>(c_solver.vectorD().array().log().sum());
    const double data_fit = static_cast<double>(y.dot(c_inv_y));
    const double dense_likelihood =
        -0.5 * data_fit - 0.5 * log_det - 0.5 * n * std::log(2 * units::pi);
    const LikelihoodTerms terms = gp.log_marginal_likelihood();
    CHECK(terms.value == Approx(dense_likelihood).epsilon(1e-9));
    CHECK(terms.data_fit == Approx(data_fit).epsilon(1e-9));

    // Mean of a test frame's energy, forces and stress.
    const Structure test = labelled_frame(30);
    const DenseLabels star = dense_rows(gp, test, false);
    const Eigen::VectorXd mean =
        (star.k.cast<long double>() * kuu_inverse * k_fu.transpose() * c_inv_y).cast<double>();
    const GpPrediction prediction = gp.predict(test, true);
    double reference = 0;
    for (int z : test.numbers) reference += z == 18 ? -0.02 : -0.03;
    CHECK(prediction.energy - reference == Approx(mean[0]).epsilon(1e-8));
    Eigen::VectorXd forces(3 * test.size());
    for (int i = 0; i < test.size(); ++i)
      for (int k = 0; k < 3; ++k) forces[3 * i + k] = prediction.forces(i, k);
    CHECK(relative_difference(forces, mean.segment(1, 3 * test.size())) < 1e-8);
    CHECK(relative_difference(*prediction.stress, mean.tail(6)) < 1e-8);

    // DTC variances: k** − Q*f (Q_ff + Λ)⁻¹ Q_f*, per atom and for the total energy.
    const DescriptorValues v = gp.describe(test, false);
    const double s2 = std::pow(gp.hyperparameters().signal_std, 2);
    Eigen::MatrixXd k_atoms = Eigen::MatrixXd::Zero(test.size(), gp.num_sparse());
    double prior_energy = 0;
    for (int i = 0; i < test.size(); ++i) {
      for (int u = 0; u < gp.num_sparse(); ++u)
        if (gp.sparse_species()[u] == v.species[i])
          k_atoms(i, u) = s2 * shape(v.values.row(i).transpose(),
                                     gp.sparse_descriptors().row(u).transpose(), power);
      for (int j = 0; j < test.size(); ++j)
        if (v.species[i] == v.species[j])
          prior_energy +=
              s2 * shape(v.values.row(i).transpose(), v.values.row(j).transpose(), power);
    }
    const MatrixL q_star = k_atoms.cast<long double>() * kuu_inverse * k_fu.transpose();
    for (int i = 0; i < test.size(); ++i) {
      const VectorL q = q_star.row(i).transpose();
      const double dense_variance = s2 - static_cast<double>(q.dot(c_solver.solve(q)));
      CHECK(std::pow(prediction.atom_std[i], 2) * s2 ==
            Approx(dense_variance).epsilon(1e-8).margin(1e-13));
    }
    const VectorL q_energy = q_star.colwise().sum().transpose();
    const double energy_variance =
        prior_energy - static_cast<double>(q_energy.dot(c_solver.solve(q_energy)));
    CHECK(std::pow(*prediction.energy_std, 2) == Approx(energy_variance).epsilon(1e-8));

    // Split conditioning: the variances (never the mean) conditioned on the
    // pseudo-labels Σ_i c_{s_i} ε_i = 0 (noise σ_e²N) of every training frame,
    // c orthogonal to the frame's composition.
    gp.set_split_conditioning(true);
    const GpPrediction conditioned = gp.predict(test, true);
    // The mean is untouched: bit for bit on Serial, to rounding where threads
    // change the order of the descriptor sums between the two predictions.
    CHECK(testing::repeats(conditioned.energy, prediction.energy));
    CHECK(testing::repeats(conditioned.forces, prediction.forces));
    const double energy_noise = gp.hyperparameters().energy_noise;
    std::vector<Eigen::VectorXd> pseudo_rows;
    std::vector<double> pseudo_noise;
    for (const auto& f : frames) {
      const DescriptorValues fv = gp.describe(f, false);
      const Eigen::RowVector2d composition(std::count(fv.species.begin(), fv.species.end(), 0),
                                           std::count(fv.species.begin(), fv.species.end(), 1));
      Eigen::JacobiSVD<Eigen::MatrixXd> svd(Eigen::MatrixXd(composition), Eigen::ComputeFullV);
      const Eigen::Vector2d c = svd.matrixV().col(1);
      Eigen::VectorXd row = Eigen::VectorXd::Zero(gp.num_sparse());
      for (int i = 0; i < f.size(); ++i)
        for (int u = 0; u < gp.num_sparse(); ++u)
          if (gp.sparse_species()[u] == fv.species[i])
            row[u] += c[fv.species[i]] * s2 *
                      shape(fv.values.row(i).transpose(),
                            gp.sparse_descriptors().row(u).transpose(), power);
      pseudo_rows.push_back(row);
      pseudo_noise.push_back(energy_noise * energy_noise * f.size());
    }
    const int n_labels = static_cast<int>(k_fu.rows()),
              n_all = n_labels + static_cast<int>(pseudo_rows.size());
    MatrixL k_all(n_all, gp.num_sparse());
    VectorL noise_all(n_all);
    k_all.topRows(n_labels) = k_fu;
    noise_all.head(n_labels) = train.noise.cast<long double>();
    for (std::size_t r = 0; r < pseudo_rows.size(); ++r) {
      k_all.row(n_labels + r) = pseudo_rows[r].cast<long double>().transpose();
      noise_all[n_labels + r] = pseudo_noise[r];
    }
    const Eigen::LDLT<MatrixL> all_solver(k_all * kuu_inverse * k_all.transpose() +
                                          MatrixL(noise_all.asDiagonal()));
    const MatrixL q_all = k_atoms.cast<long double>() * kuu_inverse * k_all.transpose();
    for (int i = 0; i < test.size(); ++i) {
      const VectorL q = q_all.row(i).transpose();
      const double dense_variance = s2 - static_cast<double>(q.dot(all_solver.solve(q)));
      CHECK(std::pow(conditioned.atom_std[i], 2) * s2 ==
            Approx(dense_variance).epsilon(1e-8).margin(1e-13));
      CHECK(conditioned.atom_std[i] <= prediction.atom_std[i] * (1 + 1e-12));
    }
    const VectorL q_all_energy = q_all.colwise().sum().transpose();
    CHECK(
        std::pow(*conditioned.energy_std, 2) ==
        Approx(prior_energy - static_cast<double>(q_all_energy.dot(all_solver.solve(q_all_energy))))
            .epsilon(1e-8));
  }
}

TEST_CASE("with every atom sparse and energy labels only the SGP is the full GP", "[sparse_gp]") {
  const std::vector<Structure> frames = {labelled_frame(41, 6), labelled_frame(42, 6),
                                         labelled_frame(43, 6)};
  LabelSelection energy_only{true, false, false, {}};
  SparseGp gp(test_descriptor(), std::make_shared<NormalizedDotProductKernel>(2),
              test_hyperparameters(), Eigen::Vector2d(-0.02, -0.03));
  gp.set_split_conditioning(false);
  for (const auto& f : frames) {
    const int index = gp.add_frame(f, energy_only);
    gp.add_sparse_atoms(index, {0, 1, 2, 3, 4, 5}, -1.0);
  }
  REQUIRE(gp.num_labels() == 3);
  // Full GP over energies: K(E_a, E_b) = Σ_{i∈a, j∈b} k(d_i, d_j).
  const double s2 = std::pow(gp.hyperparameters().signal_std, 2);
  std::vector<DescriptorValues> values;
  for (const auto& f : frames) values.push_back(gp.describe(f, false));
  const Structure test = labelled_frame(44, 6);
  values.push_back(gp.describe(test, false));
  auto energy_kernel = [&](int a, int b) {
    double k = 0;
    for (int i = 0; i < values[a].values.rows(); ++i)
      for (int j = 0; j < values[b].values.rows(); ++j)
        if (values[a].species[i] == values[b].species[j])
          k += s2 *
               shape(values[a].values.row(i).transpose(), values[b].values.row(j).transpose(), 2);
    return k;
  };
  Eigen::Matrix3d k_ff;
  Eigen::Vector3d k_star, y;
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) k_ff(a, b) = energy_kernel(a, b);
    k_ff(a, a) += std::pow(gp.hyperparameters().energy_noise, 2) * 6;
    k_star[a] = energy_kernel(3, a);
    y[a] = dense_rows(gp, frames[a], true).y[0];
  }
  const Eigen::Vector3d weights = k_ff.ldlt().solve(y);
  const GpPrediction p = gp.predict(test, true);
  double reference = 0;
  for (int z : test.numbers) reference += z == 18 ? -0.02 : -0.03;
  CHECK(p.energy - reference == Approx(k_star.dot(weights)).epsilon(1e-8));
  const double variance = energy_kernel(3, 3) - k_star.dot(k_ff.ldlt().solve(k_star));
  CHECK(std::pow(*p.energy_std, 2) == Approx(variance).epsilon(1e-6));
}

TEST_CASE("log marginal likelihood gradient matches central differences", "[sparse_gp]") {
  SparseGp gp = trained_gp({labelled_frame(51), labelled_frame(52), labelled_frame(53)}, 2);
  const GpHyperparameters h0 = test_hyperparameters();
  const LikelihoodTerms terms = gp.log_marginal_likelihood(h0);
  const double step = 1e-5;
  for (int k = 0; k < 4; ++k) {
    auto shifted = [&](double delta) {
      GpHyperparameters h = h0;
      double* values[4] = {&h.signal_std, &h.energy_noise, &h.force_noise, &h.stress_noise};
      *values[k] *= std::exp(delta);
      return gp.log_marginal_likelihood(h).value;
    };
    const double numerical = (shifted(step) - shifted(-step)) / (2 * step);
    INFO("log-parameter " << k);
    CHECK(terms.gradient[k] == Approx(numerical).epsilon(1e-6).margin(1e-6));
  }
}

namespace {

// Frames then some of their atoms as new sparse columns (the column update:
// the descriptor's pull-back for few columns) against the same sparse set
// first and then the frames (every frame's rows from descriptor gradients).
void check_incremental_equals_scratch(const std::function<SparseGp()>& make) {
  const std::vector<Structure> frames = {labelled_frame(61), labelled_frame(62), labelled_frame(63),
                                         labelled_frame(64)};
  const std::vector<std::vector<int>> sparse_atoms = {{0, 2, 5}, {1, 3}, {4, 6, 7, 8}, {0, 8}};
  // As on the fly: a frame arrives, then some of its atoms join the sparse set;
  // hyperparameters change on the way.
  SparseGp incremental = make();
  for (std::size_t f = 0; f < frames.size(); ++f) {
    const int index = incremental.add_frame(frames[f]);
    incremental.add_sparse_atoms(index, sparse_atoms[f], -1.0);
    if (f == 1) {
      GpHyperparameters h = test_hyperparameters();
      h.force_noise *= 3;
      incremental.set_hyperparameters(h);
      REQUIRE(incremental.alpha().size() == incremental.num_sparse());
      incremental.set_hyperparameters(test_hyperparameters());
    }
  }
  // From scratch: the same sparse set first, then every frame.
  SparseGp scratch = make();
  for (std::size_t f = 0; f < frames.size(); ++f) {
    const DescriptorValues v = scratch.describe(frames[f], false);
    Eigen::MatrixXd rows(sparse_atoms[f].size(), v.size);
    std::vector<int> species;
    for (std::size_t a = 0; a < sparse_atoms[f].size(); ++a) {
      rows.row(a) = v.values.row(sparse_atoms[f][a]);
      species.push_back(v.species[sparse_atoms[f][a]]);
    }
    scratch.add_sparse_environments(rows, species, {}, -1.0);
  }
  for (const auto& f : frames) scratch.add_frame(f);
  REQUIRE(scratch.num_sparse() == incremental.num_sparse());
  CHECK(relative_difference(incremental.alpha(), scratch.alpha()) < 1e-8);
  CHECK(incremental.log_marginal_likelihood().value ==
        Approx(scratch.log_marginal_likelihood().value).epsilon(1e-10));
  const Structure test = labelled_frame(65);
  const GpPrediction a = incremental.predict(test, true), b = scratch.predict(test, true);
  CHECK(a.energy == Approx(b.energy).epsilon(1e-10));
  CHECK(relative_difference(a.forces, b.forces) < 1e-8);
  CHECK(relative_difference(a.atom_std, b.atom_std) < 1e-8);
  // A rebuild from the stored frames is training from scratch too.
  SparseGp rebuilt = incremental;
  rebuilt.rebuild();
  CHECK(relative_difference(rebuilt.alpha(), scratch.alpha()) < 1e-8);
}

std::shared_ptr<const Descriptor> b2_test_descriptor(bool two_body, bool embedded, int n_max = 4,
                                                     int l_max = 3) {
  B2Settings settings;
  settings.species = {18, 36};
  settings.n_max = n_max;
  settings.l_max = l_max;
  settings.r_min = 0.5;
  settings.cutoff = 6.0;
  settings.pair_cutoffs[{18, 18}] = 5.5;
  settings.two_body = two_body;
  if (embedded) settings.embedding = species_embedding("elements", settings.species, 2, 0.7);
  return std::make_shared<B2Descriptor>(settings);
}

}  // namespace

TEST_CASE("incremental training equals training from scratch", "[sparse_gp]") {
  check_incremental_equals_scratch([] {
    return SparseGp(test_descriptor(), std::make_shared<NormalizedDotProductKernel>(2),
                    test_hyperparameters(), Eigen::Vector2d(-0.02, -0.03));
  });
}

TEST_CASE("with B2 (new columns through its pull-back) incremental equals from scratch",
          "[sparse_gp][pull_back]") {
  SECTION("species-resolved, pair cutoffs") {
    check_incremental_equals_scratch([] {
      return SparseGp(b2_test_descriptor(false, false),
                      std::make_shared<NormalizedDotProductKernel>(2), test_hyperparameters(),
                      Eigen::Vector2d(-0.02, -0.03));
    });
  }
  SECTION("D = 20: updates with 3 columns of a species go through the gradients") {
    check_incremental_equals_scratch([] {
      return SparseGp(b2_test_descriptor(false, false, 2, 1),
                      std::make_shared<NormalizedDotProductKernel>(2), test_hyperparameters(),
                      Eigen::Vector2d(-0.02, -0.03));
    });
  }
  SECTION("species embedding and the two-body block") {
    check_incremental_equals_scratch([] {
      const auto descriptor = b2_test_descriptor(true, true);
      return SparseGp(
          descriptor,
          std::make_shared<NormalizedDotProductKernel>(2, descriptor->two_body_size(), 0.3),
          test_hyperparameters(), Eigen::Vector2d(-0.02, -0.03));
    });
  }
}

TEST_CASE("the quadratic map reproduces the kernel sum and the variance", "[sparse_gp]") {
  SparseGp gp = trained_gp({labelled_frame(71), labelled_frame(72), labelled_frame(73)}, 2);
  const MappedGp mapped = gp.mapped();
  REQUIRE(mapped.beta.size() == 2);
  const Structure test = labelled_frame(74);
  const DescriptorValues v = gp.describe(test, true);
  const GpPrediction p = gp.predict(test, v, true);
  const double s2 = std::pow(mapped.signal_std, 2);
  for (int i = 0; i < test.size(); ++i) {
    const int s = v.species[i];
    const Eigen::VectorXd unit = v.values.row(i).transpose().normalized();
    const double local = unit.dot(mapped.beta[s] * unit) + mapped.reference_energy[s];
    CHECK(local == Approx(p.local_energy[i]).epsilon(1e-10));
    const Eigen::VectorXd k = s2 * (mapped.sparse_normalised[s] * unit).array().square().matrix();
    const double variance = s2 - (mapped.variance_factor[s] * k).squaredNorm();
    CHECK(std::sqrt(std::max(variance, 0.0) / s2) == Approx(p.atom_std[i]).margin(1e-9));
  }
  // Power 1 has no quadratic map.
  SparseGp linear = trained_gp({labelled_frame(75)}, 1);
  CHECK_THROWS(linear.mapped());
}

TEST_CASE("near-duplicate sparse environments are skipped", "[sparse_gp]") {
  SparseGp gp(test_descriptor(), std::make_shared<NormalizedDotProductKernel>(2),
              test_hyperparameters(), Eigen::Vector2d::Zero());
  const int index = gp.add_frame(labelled_frame(81));
  CHECK(gp.add_sparse_atoms(index, {0, 1, 2}) == 3);
  CHECK(gp.add_sparse_atoms(index, {1, 2, 3}) == 1);
  CHECK(gp.add_sparse_atoms(index, {4, 4}) == 1);
  CHECK(gp.num_sparse() == 5);
}
