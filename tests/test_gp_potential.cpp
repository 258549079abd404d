#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <random>

#include "otfgp/core/error.hpp"
#include "otfgp/gp/b2_descriptor.hpp"
#include "otfgp/gp/b2_kernels.hpp"
#include "otfgp/gp/gp_potential.hpp"
#include "otfgp/gp/kernel.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/gp/training.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "support/checks.hpp"
#include "support/environment.hpp"
#include "support/repeatability.hpp"
#include "support/structures.hpp"

using namespace otfgp;
using namespace otfgp::testing;

namespace {

B2Settings settings() {
  B2Settings s;
  s.species = {8, 14, 45};
  s.n_max = 3;
  s.l_max = 3;
  s.r_min = 0.4;
  s.cutoff = 4.2;
  s.pair_cutoffs[{8, 8}] = 3.6;
  s.pair_cutoffs[{14, 45}] = 4.6;
  return s;
}

std::vector<int> numbers(int oxygen, int silicon, int rhodium) {
  std::vector<int> z(oxygen, 8);
  z.insert(z.end(), silicon, 14);
  z.insert(z.end(), rhodium, 45);
  return z;
}

DescriptorValues describe(const B2Settings& s, const Structure& structure, bool gradients) {
  const B2Descriptor descriptor(s);
  AtomState state = AtomState::from_structure(structure);
  NeighborList list(descriptor.cutoff(), 0.0);
  list.build(state);
  return descriptor.compute(state, list, gradients);
}

// A model with what SparseGP would hand over, from explicit pieces kept for the checks.
struct Synthetic {
  MappedGp model;
  std::vector<Eigen::VectorXd> alpha;                // per species
  std::vector<Eigen::MatrixXd> kuu_inv_minus_sigma;  // per species, K_uu⁻¹ − Σ
};

Eigen::MatrixXd kernel(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b, double sigma) {
  return sigma * sigma * (a * b.transpose()).array().square().matrix();
}

// Sparse points are normalised descriptors of random environments (rhodium gets
// none); β_s = σ² Σ_u α_u d̂_u d̂_uᵀ; Σ = (K_uu + B Bᵀ)⁻¹ for a random B, as a
// posterior with some labels would have.
Synthetic synthetic_model(std::uint64_t seed, const B2Settings& descriptor = settings()) {
  Synthetic synthetic;
  MappedGp& model = synthetic.model;
  model.descriptor = descriptor;
  model.signal_std = 1.7;
  model.reference_energy = {-4.25, -5.5, -7.125};
  const Structure pool = random_structure(triclinic_cell(9.0, 8.5, 9.5, 0.2, -0.1, 0.15),
                                          numbers(30, 20, 6), 1.8, seed);
  const DescriptorValues values = describe(model.descriptor, pool, false);
  std::mt19937_64 rng(seed + 1);
  std::normal_distribution<double> normal;
  const int size = model.descriptor.descriptor_size();
  const int sparse_count[3] = {25, 15, 0};
  for (int s = 0; s < 3; ++s) {
    Eigen::MatrixXd u(sparse_count[s], size);
    int row = 0;
    for (int i = 0; i < pool.size() && row < sparse_count[s]; ++i)
      if (values.species[i] == s) u.row(row++) = values.values.row(i).normalized();
    REQUIRE(row == sparse_count[s]);
    const double sigma = model.signal_std;
    Eigen::VectorXd alpha(sparse_count[s]);
    for (int j = 0; j < alpha.size(); ++j) alpha[j] = 0.3 * normal(rng);
    Eigen::MatrixXd beta = Eigen::MatrixXd::Zero(size, size);
    for (int j = 0; j < alpha.size(); ++j)
      beta += sigma * sigma * alpha[j] * u.row(j).transpose() * u.row(j);
    const int m = sparse_count[s];
    Eigen::MatrixXd q = Eigen::MatrixXd::Zero(m, m);
    if (m > 0) {
      const Eigen::MatrixXd kuu = kernel(u, u, sigma) + 1e-8 * Eigen::MatrixXd::Identity(m, m);
      Eigen::MatrixXd b(m, 3 * m);
      for (int a = 0; a < b.rows(); ++a)
        for (int c = 0; c < b.cols(); ++c) b(a, c) = 0.5 * normal(rng);
      const Eigen::MatrixXd kuu_inv = kuu.ldlt().solve(Eigen::MatrixXd::Identity(m, m));
      const Eigen::MatrixXd sigma_post =
          (kuu + b * b.transpose()).ldlt().solve(Eigen::MatrixXd::Identity(m, m));
      q = kuu_inv - sigma_post;
      q = 0.5 * (q + q.transpose()).eval();
    }
    // R_s from the eigen-decomposition; species 1 keeps only its leading 10 directions
    // (a truncated factor), so the direct check below uses RᵀR as the model does.
    Eigen::MatrixXd factor(0, m);
    if (m > 0) {
      Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(q);
      const int keep = s == 1 ? 10 : m;
      factor.resize(keep, m);
      for (int k = 0; k < keep; ++k) {
        const int column = m - 1 - k;  // largest first
        factor.row(k) = std::sqrt(std::max(0.0, solver.eigenvalues()[column])) *
                        solver.eigenvectors().col(column).transpose();
      }
      q = factor.transpose() * factor;
    }
    model.beta.push_back(beta);
    model.sparse_normalised.push_back(u);
    model.variance_factor.push_back(factor);
    synthetic.alpha.push_back(alpha);
    synthetic.kuu_inv_minus_sigma.push_back(q);
  }
  return synthetic;
}

Structure test_structure(std::uint64_t seed) {
  return random_structure(triclinic_cell(8.0, 7.5, 8.4, 0.25, -0.2, 0.1), numbers(26, 14, 5), 1.8,
                          seed);
}

}  // namespace

TEST_CASE("mapped GP energy equals the explicit kernel sum", "[gp]") {
  const Synthetic synthetic = synthetic_model(7);
  GpPotential potential(synthetic.model, "gp:synthetic.h5");
  CHECK(potential.spec() == "gp:synthetic.h5");
  CHECK(potential.provides_uncertainty());
  CHECK(potential.cutoff() == 4.6);
  const Structure structure = test_structure(8);
  const Evaluation evaluation = evaluate(potential, structure, {true, false});

  const DescriptorValues values = describe(synthetic.model.descriptor, structure, false);
  const double sigma = synthetic.model.signal_std;
  double expected = 0.0;
  Eigen::VectorXd local(structure.size());
  for (int i = 0; i < structure.size(); ++i) {
    const int s = values.species[i];
    const Eigen::RowVectorXd unit = values.values.row(i).normalized();
    local[i] = synthetic.model.reference_energy[s];
    for (int j = 0; j < synthetic.alpha[s].size(); ++j) {
      const double dot = unit.dot(synthetic.model.sparse_normalised[s].row(j));
      local[i] += synthetic.alpha[s][j] * sigma * sigma * dot * dot;
    }
    expected += local[i];
  }
  INFO("energy " << evaluation.energy << " expected " << expected);
  CHECK(std::abs(evaluation.energy - expected) <= 1e-10 * std::abs(expected));
  REQUIRE(evaluation.per_atom_energy.has_value());
  CHECK((*evaluation.per_atom_energy - local).cwiseAbs().maxCoeff() <=
        1e-10 * local.cwiseAbs().maxCoeff());
}

TEST_CASE("mapped GP forces and stress are derivatives of the energy", "[gp]") {
  GpPotential potential(synthetic_model(11).model);
  SECTION("triclinic cell") {
    check_derivatives(potential, test_structure(12), 1e-6, 1e-7);
  }
  SECTION("cell smaller than the cutoff") {
    check_derivatives(
        potential,
        random_structure(triclinic_cell(3.9, 4.1, 3.8, 0.2, 0.1, -0.25), numbers(2, 1, 1), 1.8, 13),
        1e-6, 1e-7);
  }
}

TEST_CASE("mapped GP forces agree with the training path's full descriptor gradients", "[gp]") {
  const Synthetic synthetic = synthetic_model(17);
  GpPotential potential(synthetic.model);
  const Structure structure = test_structure(18);
  const Evaluation evaluation = evaluate(potential, structure);
  const DescriptorValues values = describe(synthetic.model.descriptor, structure, true);
  Positions forces = Positions::Zero(structure.size(), 3);
  for (int i = 0; i < structure.size(); ++i) {
    const Eigen::MatrixXd& beta = synthetic.model.beta[values.species[i]];
    const Eigen::VectorXd d = values.values.row(i).transpose();
    const Eigen::VectorXd unit = d.normalized();
    const Eigen::VectorXd dE_dd = 2.0 * (beta * unit - unit.dot(beta * unit) * unit) / d.norm();
    for (int e = values.offsets[i]; e < values.offsets[i + 1]; ++e) {
      const Eigen::Vector3d g = values.gradient.middleRows(3 * e, 3) * dE_dd;
      forces.row(values.neighbor[e]) -= g.transpose();
      forces.row(i) += g.transpose();
    }
  }
  CHECK((evaluation.forces - forces).cwiseAbs().maxCoeff() < 1e-10 * forces.cwiseAbs().maxCoeff());
}

TEST_CASE("mapped GP uncertainty equals k(x,x) − kᵀ(K_uu⁻¹ − Σ)k", "[gp]") {
  const Synthetic synthetic = synthetic_model(21);
  GpPotential potential(synthetic.model);
  // More than one block of 32 atoms of one species.
  const Structure structure = random_structure(triclinic_cell(10.5, 10.0, 10.8, 0.1, -0.1, 0.2),
                                               numbers(70, 20, 6), 1.8, 22);
  const Evaluation evaluation = evaluate(potential, structure, {false, true});
  REQUIRE(evaluation.uncertainty.has_value());
  REQUIRE(evaluation.uncertainty_normalised.has_value());
  const DescriptorValues values = describe(synthetic.model.descriptor, structure, false);
  const double sigma = synthetic.model.signal_std;
  REQUIRE(sigma != 1.0);  // so that eV and normalised differ
  double worst = 0.0, worst_ev = 0.0, smallest = 1.0;
  for (int i = 0; i < structure.size(); ++i) {
    const int s = values.species[i];
    const Eigen::RowVectorXd unit = values.values.row(i).normalized();
    const Eigen::VectorXd k = kernel(unit, synthetic.model.sparse_normalised[s], sigma).transpose();
    const double variance = sigma * sigma - k.dot(synthetic.kuu_inv_minus_sigma[s] * k);
    const double expected = std::sqrt(std::max(variance, 0.0)) / sigma;
    worst = std::max(worst, std::abs((*evaluation.uncertainty_normalised)[i] - expected));
    // The physical std is the local-energy std in eV: σ times the normalised one.
    worst_ev = std::max(worst_ev, std::abs((*evaluation.uncertainty)[i] - sigma * expected));
    smallest = std::min(smallest, expected);
    if (s == 2) {  // no sparse points: prior std
      CHECK((*evaluation.uncertainty_normalised)[i] == 1.0);
      CHECK((*evaluation.uncertainty)[i] == Approx(sigma).epsilon(1e-14));
    }
  }
  INFO("smallest normalised std " << smallest);
  CHECK(worst < 1e-9);
  CHECK(worst_ev < 1e-9 * sigma);
  CHECK(smallest < 0.9);  // the sparse points do explain some environments
}

TEST_CASE("an atom without neighbours has its reference energy, no force and zero uncertainty",
          "[gp]") {
  const Synthetic synthetic = synthetic_model(31);
  GpPotential potential(synthetic.model);
  Structure structure;
  structure.cell = Eigen::Matrix3d::Identity() * 20.0;
  structure.numbers = {14, 8, 8};
  structure.positions.resize(3, 3);
  structure.positions << 2, 2, 2, 12, 12, 12, 13.1, 12.4, 11.5;
  const Evaluation evaluation = evaluate(potential, structure, {true, true});
  CHECK((*evaluation.per_atom_energy)[0] == synthetic.model.reference_energy[1]);
  CHECK(evaluation.forces.row(0).norm() == 0.0);
  CHECK((*evaluation.uncertainty)[0] == 0.0);
  CHECK((*evaluation.uncertainty_normalised)[0] == 0.0);
  CHECK(evaluation.forces.row(1).norm() > 0.0);
  CHECK((evaluation.forces.row(1) + evaluation.forces.row(2)).norm() < 1e-12);
}

TEST_CASE("remap swaps the model and keeps the binding", "[gp]") {
  Synthetic first = synthetic_model(41);
  GpPotential potential(first.model);
  const Structure structure = test_structure(42);
  AtomState state = AtomState::from_structure(structure);
  potential.bind(state.species);
  NeighborList list(potential.cutoff(), 0.3);
  list.build(state);
  const double before = potential.compute(state, list, {}).energy;
  MappedGp doubled = first.model;
  for (auto& beta : doubled.beta) beta *= 2.0;
  potential.remap(doubled);
  const double after = potential.compute(state, list, {}).energy;
  double reference = 0.0;
  const DescriptorValues values = describe(first.model.descriptor, structure, false);
  for (int s : values.species) reference += first.model.reference_energy[s];
  CHECK(after - reference == Approx(2.0 * (before - reference)).epsilon(1e-12));

  // A model without a bound species is refused and leaves the potential as it was.
  MappedGp silicon_only;
  silicon_only.descriptor = first.model.descriptor;
  silicon_only.descriptor.species = {14};
  silicon_only.descriptor.pair_cutoffs.clear();
  const int size = silicon_only.descriptor.descriptor_size();
  silicon_only.reference_energy = {-5.0};
  silicon_only.beta = {Eigen::MatrixXd::Identity(size, size)};
  silicon_only.sparse_normalised = {Eigen::MatrixXd(0, size)};
  silicon_only.variance_factor = {Eigen::MatrixXd(0, 0)};
  REQUIRE_THROWS_WITH(potential.remap(silicon_only), Catch::Contains("no species O"));
  CHECK(potential.compute(state, list, {}).energy == Approx(after).epsilon(1e-14));
}

TEST_CASE("mapped GP model errors are clear", "[gp]") {
  Synthetic synthetic = synthetic_model(51);
  MappedGp wrong = synthetic.model;
  wrong.beta[1] = Eigen::MatrixXd::Zero(3, 3);
  REQUIRE_THROWS_WITH(GpPotential(wrong), Catch::Contains("beta of Si"));
  wrong = synthetic.model;
  wrong.reference_energy.pop_back();
  REQUIRE_THROWS_WITH(GpPotential(wrong), Catch::Contains("reference energies"));
  wrong = synthetic.model;
  wrong.variance_factor[0] = Eigen::MatrixXd::Zero(4, 7);
  REQUIRE_THROWS_WITH(GpPotential(wrong), Catch::Contains("variance_factor of O"));
  wrong = synthetic.model;
  wrong.signal_std = 0.0;
  REQUIRE_THROWS_WITH(GpPotential(wrong), Catch::Contains("signal_std"));
  GpPotential potential(synthetic.model);
  REQUIRE_THROWS_WITH(potential.bind({8, 26}), Catch::Contains("no species Fe"));
}

TEST_CASE("mapped GP on a Verlet list with skin after atoms moved equals a fresh evaluation",
          "[gp]") {
  const Synthetic synthetic = synthetic_model(61);
  GpPotential potential(synthetic.model);
  Structure structure = test_structure(62);
  AtomState state = AtomState::from_structure(structure);
  potential.bind(state.species);
  NeighborList list(potential.cutoff(), 1.0);
  list.build(state);
  rattle(structure, 0.2, 63);
  state.set_positions(structure);
  REQUIRE_FALSE(list.update(state));  // still valid: no rebuild
  const ComputeResult stale = potential.compute(state, list, {false, true});
  auto forces = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state.f);
  auto uncertainty = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), stale.uncertainty);
  const Evaluation fresh = evaluate(potential, structure, {false, true});
  CHECK(stale.energy == Approx(fresh.energy).epsilon(1e-12));
  double force_error = 0.0, uncertainty_error = 0.0;
  for (int i = 0; i < structure.size(); ++i) {
    for (int c = 0; c < 3; ++c)
      force_error = std::max(force_error, std::abs(forces(i, c) - fresh.forces(i, c)));
    uncertainty_error =
        std::max(uncertainty_error, std::abs(uncertainty(i) - (*fresh.uncertainty)[i]));
  }
  CHECK(force_error < 1e-10);
  CHECK(uncertainty_error < 1e-12);
}

namespace {

// σ² − Σ_q (σ² t_q·k̃)² on the host, from a factor's rows, for every atom of a structure.
Eigen::VectorXd host_variance(const MappedGp& model, const std::vector<Eigen::MatrixXd>& factors,
                              const Structure& structure) {
  const DescriptorValues values = describe(model.descriptor, structure, false);
  const double sigma = model.signal_std;
  Eigen::VectorXd variance(structure.size());
  for (int i = 0; i < structure.size(); ++i) {
    const int s = values.species[i];
    const Eigen::RowVectorXd unit = values.values.row(i).normalized();
    const Eigen::VectorXd k = kernel(unit, model.sparse_normalised[s], sigma).transpose();
    variance[i] = sigma * sigma - (factors[s] * k).squaredNorm();
  }
  return variance;
}

// The three-species settings with a species embedding of two channels (pair cutoffs kept).
B2Settings embedded_settings() {
  B2Settings s = settings();
  s.embedding = species_embedding("elements", s.species, 2, 0.8);
  return s;
}

}  // namespace

TEST_CASE("truncated mapped variance: exact at full rank, within its bound below", "[gp]") {
  Synthetic synthetic = synthetic_model(31);
  const Structure structure = random_structure(triclinic_cell(10.5, 10.0, 10.8, 0.1, -0.1, 0.2),
                                               numbers(70, 20, 6), 1.8, 32);
  std::vector<Eigen::MatrixXd> exact_factors = synthetic.model.variance_factor;
  const Eigen::VectorXd exact = host_variance(synthetic.model, exact_factors, structure);
  const double sigma = synthetic.model.signal_std;
  const DescriptorValues values = describe(synthetic.model.descriptor, structure, false);

  // Every row kept (rotated): the variance is unchanged.
  for (std::size_t s = 0; s < 2; ++s) {
    const auto& f = synthetic.model.variance_factor[s];
    const TruncatedVarianceFactor all = truncate_variance_factor(
        f, synthetic.model.sparse_normalised[s], sigma, static_cast<int>(f.rows()));
    CHECK(all.factor.rows() == f.rows());
    CHECK(all.max_error == 0.0);
    CHECK(((all.factor.transpose() * all.factor) - f.transpose() * f).cwiseAbs().maxCoeff() <
          1e-10 * (f.transpose() * f).cwiseAbs().maxCoeff());
  }
  synthetic.model.variance_rank = 25;  // species 0 has 25 rows, species 1 10
  GpPotential full(synthetic.model);
  const Evaluation at_full = evaluate(full, structure, {false, true});
  for (int i = 0; i < structure.size(); ++i) {
    const double expected = std::sqrt(std::max(exact[i], 0.0));
    CHECK((*at_full.uncertainty)[i] == Approx(expected).margin(1e-10));
  }

  // Few rows: the variance only rises, by at most the reported bound; the
  // device kernel equals the host formula with the truncated rows.
  for (int rank : {1, 3, 6}) {
    synthetic.model.variance_rank = rank;
    GpPotential truncated(synthetic.model);
    const auto& truncation = truncated.variance_truncation();
    REQUIRE(truncation.size() == 3);
    CHECK(truncation[0].factor.rows() == rank);
    CHECK(truncation[0].full_rank == 25);
    CHECK(truncation[2].factor.rows() == 0);  // no sparse points
    std::vector<Eigen::MatrixXd> kept;
    for (const auto& t : truncation) kept.push_back(t.factor);
    const Eigen::VectorXd host = host_variance(synthetic.model, kept, structure);
    const Evaluation evaluation = evaluate(truncated, structure, {false, true});
    double largest_rise = 0.0;
    for (int i = 0; i < structure.size(); ++i) {
      const int s = values.species[i];
      const double rise = host[i] - exact[i];
      INFO("rank " << rank << " atom " << i << " species " << s);
      CHECK(rise >= -1e-12);
      CHECK(rise <= truncation[s].max_error + 1e-12);
      largest_rise = std::max(largest_rise, rise);
      CHECK((*evaluation.uncertainty)[i] ==
            Approx(std::sqrt(std::max(host[i], 0.0))).margin(1e-10));
    }
    CHECK(largest_rise > 0.0);  // the truncation did drop something
    // The mean error at the sparse points is what the rotation minimises: ≤ the bound.
    CHECK(truncation[0].mean_error <= truncation[0].max_error + 1e-12);
  }
}

// The products run chunk by chunk (256 atoms in host memory) into buffers that
// only grow: a structure with several chunks of one species, after a smaller
// one, against the team kernel's rows, and the small one again.
TEST_CASE("the variance's dense products over several chunks and grown buffers equal the rows",
          "[gp]") {
  if (!has_dense_products) return;  // no products to compare on this backend
  Synthetic synthetic = synthetic_model(43);
  synthetic.model.variance_rank = 4;
  const Structure small = random_structure(triclinic_cell(10.5, 10.0, 10.8, 0.1, -0.1, 0.2),
                                           numbers(30, 10, 4), 1.8, 44);
  const Structure large = random_structure(triclinic_cell(21.0, 20.0, 21.6, 0.2, -0.2, 0.4),
                                           numbers(600, 120, 30), 1.8, 45);
  GpPotential products(synthetic.model), rows(synthetic.model);
  products.set_variance_form(GpPotential::VarianceForm::products);
  rows.set_variance_form(GpPotential::VarianceForm::rows);
  for (const Structure* structure : {&small, &large, &small}) {
    INFO(structure->size() << " atoms");
    const Evaluation by_products = evaluate(products, *structure, {false, true});
    const Evaluation by_rows = evaluate(rows, *structure, {false, true});
    CHECK((*by_rows.uncertainty - *by_products.uncertainty).cwiseAbs().maxCoeff() <= 1e-9);
    CHECK((*by_rows.uncertainty_normalised - *by_products.uncertainty_normalised)
              .cwiseAbs()
              .maxCoeff() <= 1e-9);
    CHECK(by_products.uncertainty->minCoeff() > 0.0);
  }
}

TEST_CASE("the variance by packed quadratic forms and by BLAS products equals the rows", "[gp]") {
  Synthetic synthetic = synthetic_model(41);
  const Structure structure = random_structure(triclinic_cell(10.5, 10.0, 10.8, 0.1, -0.1, 0.2),
                                               numbers(70, 20, 6), 1.8, 42);
  for (int rank : {0, 4}) {
    synthetic.model.variance_rank = rank;
    GpPotential potential(synthetic.model);
    potential.set_variance_form(GpPotential::VarianceForm::rows);
    CHECK(potential.quadratic_variance() == std::vector<char>{0, 0, 0});
    const Evaluation by_rows = evaluate(potential, structure, {false, true});
    potential.set_variance_form(GpPotential::VarianceForm::quadratic);
    CHECK(potential.quadratic_variance() == std::vector<char>{1, 1, 0});  // species 2: no rows
    const Evaluation by_forms = evaluate(potential, structure, {false, true});
    INFO("rank " << rank);
    // The same rows as two matrix products per species (host memory or CUDA;
    // what `automatic` uses there), against the team kernel.
    if (has_dense_products) {
      potential.set_variance_form(GpPotential::VarianceForm::products);
      CHECK(potential.quadratic_variance() == std::vector<char>{0, 0, 0});
      const Evaluation by_products = evaluate(potential, structure, {false, true});
      CHECK((*by_rows.uncertainty - *by_products.uncertainty).cwiseAbs().maxCoeff() <= 1e-9);
      CHECK((*by_rows.uncertainty_normalised - *by_products.uncertainty_normalised)
                .cwiseAbs()
                .maxCoeff() <= 1e-9);
    } else {
      CHECK_THROWS_WITH(potential.set_variance_form(GpPotential::VarianceForm::products),
                        Catch::Contains("host memory or a CUDA device"));
    }
    CHECK((*by_rows.uncertainty - *by_forms.uncertainty).cwiseAbs().maxCoeff() <= 1e-9);
    CHECK((*by_rows.uncertainty_normalised - *by_forms.uncertainty_normalised)
              .cwiseAbs()
              .maxCoeff() <= 1e-9);
    CHECK(by_rows.uncertainty->minCoeff() < 0.9 * synthetic.model.signal_std);
  }
}

TEST_CASE("mapped GP with a species embedding: kernel sum, derivatives, training-path forces",
          "[gp][embedding]") {
  const Synthetic synthetic = synthetic_model(71, embedded_settings());
  REQUIRE(synthetic.model.descriptor.descriptor_size() == 6 * 7 / 2 * 4);
  GpPotential potential(synthetic.model);
  const Structure structure = test_structure(72);
  const Evaluation evaluation = evaluate(potential, structure, {true, true});
  const DescriptorValues values = describe(synthetic.model.descriptor, structure, true);
  const double sigma = synthetic.model.signal_std;
  double expected = 0.0;
  Positions forces = Positions::Zero(structure.size(), 3);
  for (int i = 0; i < structure.size(); ++i) {
    const int s = values.species[i];
    const Eigen::VectorXd d = values.values.row(i).transpose();
    const Eigen::VectorXd unit = d.normalized();
    expected += synthetic.model.reference_energy[s];
    for (int j = 0; j < synthetic.alpha[s].size(); ++j) {
      const double dot = unit.dot(synthetic.model.sparse_normalised[s].row(j));
      expected += synthetic.alpha[s][j] * sigma * sigma * dot * dot;
    }
    const Eigen::MatrixXd& beta = synthetic.model.beta[s];
    const Eigen::VectorXd dE_dd = 2.0 * (beta * unit - unit.dot(beta * unit) * unit) / d.norm();
    for (int e = values.offsets[i]; e < values.offsets[i + 1]; ++e) {
      const Eigen::Vector3d g = values.gradient.middleRows(3 * e, 3) * dE_dd;
      forces.row(values.neighbor[e]) -= g.transpose();
      forces.row(i) += g.transpose();
    }
  }
  CHECK(std::abs(evaluation.energy - expected) <= 1e-10 * std::abs(expected));
  CHECK((evaluation.forces - forces).cwiseAbs().maxCoeff() < 1e-10 * forces.cwiseAbs().maxCoeff());
  // Uncertainty: k(x,x) − kᵀ(K_uu⁻¹ − Σ)k on the embedded descriptor.
  double worst = 0.0;
  for (int i = 0; i < structure.size(); ++i) {
    const int s = values.species[i];
    const Eigen::RowVectorXd unit = values.values.row(i).normalized();
    const Eigen::VectorXd k = kernel(unit, synthetic.model.sparse_normalised[s], sigma).transpose();
    const double variance = sigma * sigma - k.dot(synthetic.kuu_inv_minus_sigma[s] * k);
    worst = std::max(worst,
                     std::abs((*evaluation.uncertainty)[i] - std::sqrt(std::max(variance, 0.0))));
  }
  CHECK(worst < 1e-9 * sigma);
  check_derivatives(potential, test_structure(73), 1e-6, 1e-7);
  check_derivatives(
      potential,
      random_structure(triclinic_cell(3.9, 4.1, 3.8, 0.2, 0.1, -0.25), numbers(2, 1, 1), 1.8, 74),
      1e-6, 1e-7);
}

TEST_CASE("mapped GP with an identity embedding equals the species-resolved one",
          "[gp][embedding]") {
  const Synthetic synthetic = synthetic_model(81);
  MappedGp identity = synthetic.model;
  identity.descriptor.embedding = Eigen::MatrixXd::Identity(3, 3);
  GpPotential resolved_potential(synthetic.model), identity_potential(identity);
  const Structure structure = test_structure(82);
  const Evaluation a = evaluate(resolved_potential, structure, {true, true});
  const Evaluation b = evaluate(identity_potential, structure, {true, true});
  // Bit for bit on Serial; to rounding where threads reorder the sums.
  CHECK(testing::repeats(a.energy, b.energy));
  CHECK(testing::repeats(a.forces, b.forces));
  CHECK(testing::repeats(*a.uncertainty, *b.uncertainty));
}

TEST_CASE("mapped GP with an embedding is invariant under permutation of atoms",
          "[gp][embedding]") {
  GpPotential potential(synthetic_model(91, embedded_settings()).model);
  const Structure structure = test_structure(92);
  std::vector<int> order(structure.size());
  for (int i = 0; i < structure.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(93));
  Structure permuted = structure;
  for (int i = 0; i < structure.size(); ++i) {
    permuted.numbers[i] = structure.numbers[order[i]];
    permuted.positions.row(i) = structure.positions.row(order[i]);
  }
  const Evaluation a = evaluate(potential, structure, {false, true});
  const Evaluation b = evaluate(potential, permuted, {false, true});
  CHECK(b.energy == Approx(a.energy).epsilon(1e-12));
  double worst = 0.0, worst_std = 0.0;
  for (int i = 0; i < structure.size(); ++i) {
    worst = std::max(worst, (b.forces.row(i) - a.forces.row(order[i])).cwiseAbs().maxCoeff());
    worst_std = std::max(worst_std, std::abs((*b.uncertainty)[i] - (*a.uncertainty)[order[i]]));
  }
  CHECK(worst < 1e-10 * a.forces.cwiseAbs().maxCoeff());
  CHECK(worst_std < 1e-12);
}

namespace {

// One energy pass of `potential` in `form` with every output the force pass
// makes: energy, virial, forces, per-atom energies and virials, and the
// uncertainty (which reads the unit descriptors that pass keeps).
struct Pass {
  double energy = 0.0;
  std::array<double, 6> virial{};
  Eigen::MatrixXd forces, per_atom_virial;
  Eigen::VectorXd per_atom, uncertainty;
};

Eigen::VectorXd host_vector(const ScalarView& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  Eigen::VectorXd out(host.extent(0));
  for (std::size_t i = 0; i < host.extent(0); ++i) out[i] = host(i);
  return out;
}

Pass run_pass(GpPotential& potential, const Structure& structure, GpPotential::ForceForm form,
              int team_size, bool every_other_centre) {
  potential.set_force_form(form, team_size);
  AtomState state = AtomState::from_structure(structure);
  potential.bind(structure.species());
  NeighborList list(potential.cutoff(), 0.3);
  list.build(state);
  ComputeRequest request;
  request.per_atom_energy = request.uncertainty = request.per_atom_virial = true;
  Kokkos::View<int*, MemSpace> centres("centres", every_other_centre ? state.natoms : 0);
  auto centres_host = Kokkos::create_mirror_view(centres);
  for (std::size_t i = 0; i < centres.extent(0); ++i) centres_host(i) = i % 2 == 0;
  Kokkos::deep_copy(centres, centres_host);
  request.centres = centres;
  const ComputeResult result = potential.compute(state, list, request);
  Pass pass;
  pass.energy = result.energy;
  for (int c = 0; c < 6; ++c) pass.virial[c] = result.virial[c];
  auto f = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state.f);
  auto w = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), result.per_atom_virial);
  pass.forces.resize(state.natoms, 3);
  pass.per_atom_virial.resize(state.natoms, 6);
  for (int i = 0; i < state.natoms; ++i) {
    for (int c = 0; c < 3; ++c) pass.forces(i, c) = f(i, c);
    for (int c = 0; c < 6; ++c) pass.per_atom_virial(i, c) = w(i, c);
  }
  pass.per_atom = host_vector(result.per_atom_energy);
  pass.uncertainty = host_vector(result.uncertainty);
  return pass;
}

double largest_difference(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).cwiseAbs().maxCoeff() / std::max(1.0, a.cwiseAbs().maxCoeff());
}

// A trained model with the kernel's two- and three-body parts (Lennard-Jones
// Ar–Kr frames, or Ar alone with `argon_only`), which the synthetic models
// leave out.
MappedGp two_and_three_body_model(bool argon_only = false) {
  B2Settings s;
  s.species = argon_only ? std::vector<int>{18} : std::vector<int>{18, 36};
  s.n_max = 4;
  s.l_max = 2;
  s.cutoff = 6.0;
  s.two_body = true;
  auto descriptor = std::make_shared<B2Descriptor>(s);
  const auto reference = make_potential(
      "lj:eps=0.0104,sigma=3.4,rc=7.0,eps.Ar-Kr=0.0125,sigma.Ar-Kr=3.55,eps.Kr-Kr=0.0141,"
      "sigma.Kr-Kr=3.65");
  std::vector<Structure> frames;
  for (std::uint64_t seed : {3, 4}) {
    std::vector<int> numbers(16, 18);
    for (int i = 0; i < 16 && !argon_only; i += 3) numbers[i] = 36;
    Structure frame =
        random_structure(triclinic_cell(9.0, 8.5, 9.2, 0.1, -0.15, 0.05), numbers, 3.0, seed);
    attach_labels(frame, evaluate(*reference, frame));
    frames.push_back(frame);
  }
  GpTrainingSettings settings;
  settings.sparse = {SparseSelectionMethod::random, 6};
  settings.hyperparameters = {0.3, 0.002, 0.02, 0.002};
  settings.optimize_hyperparameters = false;
  MappedGp model = train_sparse_gp(descriptor,
                                   std::make_shared<NormalizedDotProductKernel>(
                                       2, descriptor->two_body_size(), 0.05, 0.02),
                                   frames, settings)
                       .mapped();
  model.descriptor = s;  // mapped() leaves the settings to its caller
  return model;
}

}  // namespace

// The batched form is what a GPU runs (docs/gpu.md); here it runs with the
// backend's team size (team 0: the host's BLAS products), in one-thread teams
// and in the largest team the backend allows (2 threads on OpenMP with 2),
// which take the GPU's product kernel and a GPU team's paths (gather,
// per-harmonic contraction).
TEST_CASE("the batched GP force pass equals the fused one", "[gp][batched]") {
  Synthetic resolved = synthetic_model(81);
  resolved.model.variance_rank = 0;
  const Synthetic embedded = synthetic_model(83, embedded_settings());
  Structure with_isolated = test_structure(84);
  with_isolated.cell *= 3.0;  // atoms at least 5.4 Å apart, beyond every cutoff …
  with_isolated.positions *= 3.0;
  with_isolated.positions.row(0) << 0.5, 0.5, 0.5;
  with_isolated.positions.row(1) << 1.6, 0.9, 1.1;  // … but for a close pair
  const std::vector<std::pair<std::string, MappedGp>> models = {
      {"species-resolved, pair cutoffs", resolved.model},
      {"embedding", embedded.model},
      {"two- and three-body parts", two_and_three_body_model()},
      // One species, every atom a centre: the dense product takes d̂ in place.
      {"argon alone, two- and three-body parts", two_and_three_body_model(true)}};
  for (const auto& [name, model] : models) {
    GpPotential potential(model);
    const bool trained = name != "species-resolved, pair cutoffs" && name != "embedding";
    const Structure structure =
        trained ? random_structure(
                      triclinic_cell(10.0, 9.5, 10.2, 0.1, 0.05, -0.1),
                      name == "two- and three-body parts"
                          ? std::vector<int>{18, 36, 18, 18, 36, 18, 36, 18, 18, 36, 18, 18}
                          : std::vector<int>(12, 18),
                      3.0, 85)
                : test_structure(86);
    for (const Structure* s : std::vector<const Structure*>{&structure, &with_isolated}) {
      if (s == &with_isolated && trained) continue;
      for (bool some_centres : {false, true})
        for (int team : {0, 1, testing::largest_team_size(32)}) {
          INFO(name << ", " << (s == &with_isolated ? "isolated atoms" : "dense") << ", team "
                    << team << (some_centres ? ", every other atom a centre" : ""));
          const Pass fused =
              run_pass(potential, *s, GpPotential::ForceForm::fused, team, some_centres);
          const Pass batched =
              run_pass(potential, *s, GpPotential::ForceForm::batched, team, some_centres);
          CHECK(std::abs(fused.energy - batched.energy) <= 1e-12 * std::abs(fused.energy));
          for (int c = 0; c < 6; ++c)
            CHECK(std::abs(fused.virial[c] - batched.virial[c]) <=
                  1e-12 * std::max(1.0, std::abs(fused.virial[c])));
          CHECK(largest_difference(fused.forces, batched.forces) <= 1e-12);
          CHECK(largest_difference(fused.per_atom, batched.per_atom) <= 1e-12);
          CHECK(largest_difference(fused.per_atom_virial, batched.per_atom_virial) <= 1e-12);
          CHECK(largest_difference(fused.uncertainty, batched.uncertainty) <= 1e-9);
          CHECK(fused.forces.cwiseAbs().maxCoeff() > 0.0);
          // The pairs' terms in either scratch level: the same numbers (bit for
          // bit on Serial; threads reorder the force scatter's sums). On a CPU
          // backend both levels come from one host pool, so a level whose size
          // the policy left out overruns it unseen by these comparisons (it
          // crashed `otfgp eval` on a 64-atom SiC model); on a GPU it fails,
          // and scripts/gpu-check runs this test there.
          const double same = testing::deterministic_backend() ? 0.0 : 1e-12;
          for (const auto place :
               {GpPotential::PairScratch::shared, GpPotential::PairScratch::global}) {
            INFO("pair scratch " << (place == GpPotential::PairScratch::shared ? "shared"
                                                                               : "global"));
            potential.set_pair_scratch(place);
            const Pass placed =
                run_pass(potential, *s, GpPotential::ForceForm::batched, team, some_centres);
            potential.set_pair_scratch(GpPotential::PairScratch::automatic);
            CHECK(std::abs(placed.energy - batched.energy) <= same * std::abs(batched.energy));
            for (int c = 0; c < 6; ++c)
              CHECK(std::abs(placed.virial[c] - batched.virial[c]) <=
                    same * std::max(1.0, std::abs(batched.virial[c])));
            CHECK(largest_difference(placed.forces, batched.forces) <= same);
            CHECK(largest_difference(placed.per_atom, batched.per_atom) <= same);
            CHECK(largest_difference(placed.per_atom_virial, batched.per_atom_virial) <= same);
          }
        }
    }
  }
}

TEST_CASE("the batched GP force pass equals the fused one across product chunks", "[gp][batched]") {
  // More atoms of one species (300 O) than the host's dense products take at
  // once (256): that species' rows go through two chunks.
  GpPotential potential(synthetic_model(81).model);
  const Structure structure = random_structure(triclinic_cell(15.5, 15.0, 15.8, 0.1, -0.1, 0.05),
                                               numbers(300, 20, 6), 1.8, 87);
  for (bool some_centres : {false, true}) {
    INFO((some_centres ? "every other atom a centre" : "every atom a centre"));
    const Pass fused =
        run_pass(potential, structure, GpPotential::ForceForm::fused, 0, some_centres);
    const Pass batched =
        run_pass(potential, structure, GpPotential::ForceForm::batched, 0, some_centres);
    CHECK(std::abs(fused.energy - batched.energy) <= 1e-12 * std::abs(fused.energy));
    CHECK(largest_difference(fused.forces, batched.forces) <= 1e-12);
    CHECK(largest_difference(fused.per_atom, batched.per_atom) <= 1e-12);
    CHECK(fused.forces.cwiseAbs().maxCoeff() > 0.0);
  }
}

TEST_CASE("the batched GP force pass runs a model whose atom arrays outgrow a team's level 0",
          "[gp][batched]") {
  // 3 species, n_max 8, l_max 8: d has 2700 numbers and A 1944, 37 KB per
  // atom, more than a GPU block's shared memory gives a team beside Kokkos's
  // reserve. The force kernel kept them at level 0 whatever their size (a
  // CUDA launch throws; b2::TeamScratch refuses it on every backend); at
  // level 1 it equals the fused form, whichever level takes the pairs' terms
  // where they fit.
  B2Settings large = settings();
  large.n_max = 8;
  large.l_max = 8;
  REQUIRE(large.descriptor_size() == 2700);
  REQUIRE(b2::scratch_level(sizeof(double) * (2700 + 3 * 8 * 81)) == 1);
  GpPotential potential(synthetic_model(95, large).model);
  const Structure structure = test_structure(96);
  for (int team : {0, 1, testing::largest_team_size(32)}) {
    INFO("team " << team);
    const Pass fused = run_pass(potential, structure, GpPotential::ForceForm::fused, team, false);
    REQUIRE(fused.forces.cwiseAbs().maxCoeff() > 0.0);
    for (const auto place : {GpPotential::PairScratch::automatic, GpPotential::PairScratch::shared,
                             GpPotential::PairScratch::global}) {
      INFO("pair scratch " << static_cast<int>(place));
      potential.set_pair_scratch(place);
      // The pairs' terms take 2776 B a thread: a team of 12 or more (an AUTO
      // team is sized as a warp, 32) outgrows level 0's 32 KiB as well.
      if (place == GpPotential::PairScratch::shared && (team == 0 || team >= 12)) {
        CHECK_THROWS_WITH(
            run_pass(potential, structure, GpPotential::ForceForm::batched, team, false),
            Catch::Contains("GpPotential::batched_forces needs") &&
                Catch::Contains("level-0 scratch per team of " +
                                std::to_string(team == 0 ? 32 : team) + " threads"));
        continue;
      }
      const Pass batched =
          run_pass(potential, structure, GpPotential::ForceForm::batched, team, false);
      CHECK(std::abs(fused.energy - batched.energy) <= 1e-12 * std::abs(fused.energy));
      CHECK(largest_difference(fused.forces, batched.forces) <= 1e-12);
      CHECK(largest_difference(fused.per_atom_virial, batched.per_atom_virial) <= 1e-12);
      CHECK(largest_difference(fused.uncertainty, batched.uncertainty) <= 1e-9);
    }
    potential.set_pair_scratch(GpPotential::PairScratch::automatic);
  }
}

TEST_CASE("OTFGP_GP_FORCE_FORM picks the form and team size and refuses anything else",
          "[gp][batched]") {
  const Synthetic synthetic = synthetic_model(91);
  const Structure structure = test_structure(92);
  GpPotential automatic(synthetic.model);
  const Evaluation reference = evaluate(automatic, structure);
  for (const char* form : {"fused", "batched", "batched:1", "fused:1"}) {
    const otfgp::testing::ScopedEnvironment setting("OTFGP_GP_FORCE_FORM", form);
    GpPotential chosen(synthetic.model);
    const Evaluation evaluation = evaluate(chosen, structure);
    CHECK(std::abs(evaluation.energy - reference.energy) <= 1e-12 * std::abs(reference.energy));
    CHECK(largest_difference(evaluation.forces, reference.forces) <= 1e-12);
  }
  for (const char* bad : {"gpu", ":", ":2", "1:2", "FUSED", " batched"}) {
    INFO(bad);
    const otfgp::testing::ScopedEnvironment setting("OTFGP_GP_FORCE_FORM", bad);
    CHECK_THROWS_WITH(GpPotential(synthetic.model), Catch::Contains("fused or batched"));
  }
  // Every bad team size names the variable and the backend's range.
  const std::string range =
      "team size after ':' from 1 to " + std::to_string(gp_batched::largest_team_size());
  for (const char* bad : {"batched:", "batched:0", "batched:x", "fused:-3", "batched:5000",
                          "fused:1000000", "batched:99999999999"}) {
    INFO(bad);
    const otfgp::testing::ScopedEnvironment setting("OTFGP_GP_FORCE_FORM", bad);
    CHECK_THROWS_WITH(GpPotential(synthetic.model),
                      Catch::Contains("OTFGP_GP_FORCE_FORM") && Catch::Contains(range));
  }
  const otfgp::testing::ScopedEnvironment automatic_form("OTFGP_GP_FORCE_FORM", std::nullopt);
  GpPotential direct(synthetic.model);
  CHECK_THROWS_WITH(direct.set_force_form(GpPotential::ForceForm::batched, 5000),
                    Catch::Contains("team size must be between"));
}

TEST_CASE("a team size the backend allows but a GP kernel cannot launch with is refused by name",
          "[gp][batched]") {
  // largest_team_size() is the backend's largest team for an empty kernel; on
  // a GPU the GP's kernels hold fewer threads (their registers and scratch:
  // the force kernels' 168 registers a thread allow 384 of an H100 block's
  // 1024), which a launch would refuse with Kokkos's words and no name. On the
  // host every kernel launches in it (scripts/gpu-check runs this on a GPU).
  const Synthetic synthetic = synthetic_model(97);
  const Structure structure = test_structure(98);
  GpPotential potential(synthetic.model);
  for (const auto form : {GpPotential::ForceForm::fused, GpPotential::ForceForm::batched}) {
    INFO((form == GpPotential::ForceForm::fused ? "fused" : "batched"));
    potential.set_force_form(form, gp_batched::largest_team_size());
    if (host_memory)
      CHECK(std::isfinite(evaluate(potential, structure).energy));
    else
      CHECK_THROWS_WITH(evaluate(potential, structure),
                        Catch::Contains("launches in teams of at most") &&
                            Catch::Contains("OTFGP_GP_FORCE_FORM a smaller team size"));
  }
}

TEST_CASE("OTFGP_GP_PAIR_SCRATCH places the batched form's pair terms and refuses anything else",
          "[gp][batched]") {
  const Synthetic synthetic = synthetic_model(93);
  const Structure structure = test_structure(94);
  const otfgp::testing::ScopedEnvironment batched("OTFGP_GP_FORCE_FORM", "batched");
  GpPotential automatic(synthetic.model);
  const Evaluation reference = evaluate(automatic, structure);
  for (const char* place : {"shared", "global"}) {
    INFO(place);
    const otfgp::testing::ScopedEnvironment setting("OTFGP_GP_PAIR_SCRATCH", place);
    GpPotential chosen(synthetic.model);
    const Evaluation evaluation = evaluate(chosen, structure);
    const double same = testing::deterministic_backend() ? 0.0 : 1e-12;
    CHECK(std::abs(evaluation.energy - reference.energy) <= same * std::abs(reference.energy));
    CHECK(largest_difference(evaluation.forces, reference.forces) <= same);
  }
  for (const char* bad : {"0", "L1", "Global", " shared"}) {
    const otfgp::testing::ScopedEnvironment setting("OTFGP_GP_PAIR_SCRATCH", bad);
    CHECK_THROWS_WITH(GpPotential(synthetic.model), Catch::Contains("shared or global"));
  }
}

namespace {

// Allocations of views whose labels name the uncertainty's grouping of atoms
// by species (its lists, blocks and offsets, under the names they have had).
std::vector<std::string> grouping_allocations;

void note_allocation(Kokkos::Profiling::SpaceHandle, const char* label, const void*,
                     std::uint64_t) {
  const std::string name = label;
  for (const char* part : {"order", "blocks", "grouped", "offset", "quadratic_atoms", "bounds",
                           "variance_rows", "variance_kernel", "variance_projection"})
    if (name.rfind("GpPotential::", 0) == 0 && name.find(part) != std::string::npos)
      grouping_allocations.push_back(name);
}

}  // namespace

// Issue 12 item 3: the team kernel's atoms are grouped by species on the
// device, into buffers kept between calls; a second call allocates none.
namespace {

std::vector<std::string> potential_allocations;

void note_potential_allocation(Kokkos::Profiling::SpaceHandle, const char* label, const void*,
                               std::uint64_t) {
  const std::string name = label;
  if (name.rfind("GpPotential::", 0) == 0) potential_allocations.push_back(name);
}

}  // namespace

TEST_CASE("the batched force pass allocates nothing once its buffers fit", "[gp][batched]") {
  // The dense products' grouping, chunk rows and products are kept between
  // calls, as are the per-atom arrays: a second call on the same atoms makes
  // no view (a multi-species model: the grouped path).
  GpPotential potential(synthetic_model(97).model);
  potential.set_force_form(GpPotential::ForceForm::batched);
  const Structure structure = test_structure(98);
  const Evaluation first = evaluate(potential, structure);
  potential_allocations.clear();
  Kokkos::Tools::Experimental::set_allocate_data_callback(note_potential_allocation);
  const Evaluation second = evaluate(potential, structure);
  Kokkos::Tools::Experimental::set_allocate_data_callback(nullptr);
  INFO("allocated: " << (potential_allocations.empty() ? "" : potential_allocations.front()));
  CHECK(potential_allocations.empty());
  // The same sums, in an order the thread schedule sets on threaded backends
  // (a team of 32 on 2 cores differed in the last bit: repeatability.hpp).
  CHECK(testing::repeats(second.energy, first.energy));
}

TEST_CASE("the uncertainty's grouping by species allocates nothing once its buffers fit", "[gp]") {
  Synthetic synthetic = synthetic_model(95);
  synthetic.model.variance_rank = 4;  // truncated: the quadratic forms can take species 0 and 1
  const Structure structure = test_structure(96);
  for (const auto form : {GpPotential::VarianceForm::rows, GpPotential::VarianceForm::quadratic,
                          GpPotential::VarianceForm::automatic}) {
    GpPotential potential(synthetic.model);
    potential.set_variance_form(form);
    const Evaluation first = evaluate(potential, structure, {false, true});
    grouping_allocations.clear();
    Kokkos::Tools::Experimental::set_allocate_data_callback(note_allocation);
    const Evaluation second = evaluate(potential, structure, {false, true});
    Kokkos::Tools::Experimental::set_allocate_data_callback(nullptr);
    INFO("form " << int(form) << ", allocated: " << grouping_allocations.size());
    CHECK(grouping_allocations.empty());
    CHECK(repeats(*first.uncertainty, *second.uncertainty));  // bitwise on Serial
    CHECK(first.uncertainty->maxCoeff() > 0.0);
  }
  // With every other atom a centre the grouping skips the others: the rows
  // (grouped on the device) and the BLAS products or quadratic forms agree, and
  // atoms that are not centres keep zero.
  GpPotential potential(synthetic.model);
  potential.set_variance_form(GpPotential::VarianceForm::rows);
  const Pass by_rows = run_pass(potential, structure, GpPotential::ForceForm::fused, 0, true);
  potential.set_variance_form(GpPotential::VarianceForm::automatic);
  const Pass by_default = run_pass(potential, structure, GpPotential::ForceForm::fused, 0, true);
  CHECK(largest_difference(by_rows.uncertainty, by_default.uncertainty) <= 1e-9);
  for (int i = 1; i < structure.size(); i += 2) CHECK(by_rows.uncertainty[i] == 0.0);
  CHECK(by_rows.uncertainty[0] > 0.0);
}
