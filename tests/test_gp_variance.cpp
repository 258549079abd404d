// The GP's total-energy std (Potential interface, ComputeRequest::energy_uncertainty):
// mapped = direct sparse GP = a brute-force pair sum; it survives the model
// file; and the hull draws its stability probabilities from it.

#include <Eigen/Dense>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "otfgp/analysis/hull.hpp"
#include "otfgp/analysis/hull_phases.hpp"
#include "otfgp/analysis/hull_sweep.hpp"
#include "otfgp/gp/b2_descriptor.hpp"
#include "otfgp/gp/gp_potential.hpp"
#include "otfgp/gp/model_file.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/gp/sparse_gp_potential.hpp"
#include "otfgp/gp/team_product.hpp"
#include "otfgp/gp/training.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "support/repeatability.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::testing;

namespace {

// Rattled copies of `base`, labelled by the Buckingham + DSF Ba–Rh–O model.
std::vector<Structure> rattled(const Structure& base, int count, double amplitude,
                               std::uint64_t seed) {
  auto potential = make_potential("buck:BaRhO.buck");
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, amplitude);
  std::vector<Structure> frames;
  for (int f = 0; f < count; ++f) {
    Structure s = base;
    for (int i = 0; i < s.size(); ++i)
      for (int d = 0; d < 3; ++d) s.positions(i, d) += normal(rng);
    attach_labels(s, evaluate(*potential, s));
    frames.push_back(std::move(s));
  }
  return frames;
}

Structure perovskite() {
  const double a = 4.093;
  Structure s;
  s.cell = Eigen::Matrix3d::Identity() * a;
  s.positions.resize(5, 3);
  s.positions << 0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0, 0.5, 0, 0.5, 0, 0.5, 0.5;
  s.positions *= a;
  s.numbers = {56, 45, 8, 8, 8};
  return s;
}

Structure rocksalt_bao() {
  const double a = 5.514;
  Structure s;
  s.cell = Eigen::Matrix3d::Identity() * a;
  s.positions.resize(8, 3);
  s.positions << 0, 0, 0, 0.5, 0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0, 0.5, 0, 0, 0.5, 0.5, 0.5,
      0, 0, 0.5, 0;
  s.positions *= a;
  s.numbers = {56, 8, 56, 8, 56, 8, 56, 8};
  return s;
}

B2Settings settings() {
  B2Settings s;
  s.species = {8, 45, 56};
  s.n_max = 3;
  s.l_max = 2;
  s.cutoff = 5.0;
  return s;
}

// Three species, two compositions (so the split conditioning has pseudo-labels);
// with `two_body`, the descriptor's two-body block and the kernel's two-body part;
// with `three_body`, the kernel's three-body part at w₃⟨|b|²⟩ = 0.3 over the frames.
SparseGp train_oxides(bool two_body, bool three_body = false) {
  std::vector<Structure> frames = rattled(perovskite(), 4, 0.08, 1);
  for (auto& f : rattled(rocksalt_bao(), 4, 0.08, 2)) frames.push_back(f);
  GpTrainingSettings training;
  training.sparse = {SparseSelectionMethod::uncertain, 3};
  training.hyperparameters = {2.0, 0.002, 0.05, 0.001};
  training.optimize_hyperparameters = false;
  B2Settings descriptor = settings();
  descriptor.two_body = two_body;
  double three_body_weight = 0.0;
  if (three_body) {
    const B2Descriptor b2(descriptor);
    double sum = 0.0;
    int atoms = 0;
    for (const Structure& frame : frames) {
      AtomState state = AtomState::from_structure(frame);
      NeighborList list(b2.cutoff(), 0.0);
      list.build(state);
      const DescriptorValues values = b2.compute(state, list, false);
      sum += values.values.leftCols(descriptor.power_spectrum_size()).rowwise().squaredNorm().sum();
      atoms += frame.size();
    }
    three_body_weight = 0.3 * atoms / sum;
  }
  return train_sparse_gp(
      std::make_shared<B2Descriptor>(descriptor),
      std::make_shared<NormalizedDotProductKernel>(2, descriptor.two_body_size(),
                                                   two_body ? 0.05 : 0.0, three_body_weight),
      frames, training);
}

const SparseGp& trained() {
  static const SparseGp gp = train_oxides(false);
  return gp;
}

const SparseGp& trained_two_body() {
  static const SparseGp gp = train_oxides(true);
  return gp;
}

const SparseGp& trained_three_body(bool two_body) {
  static const SparseGp alone = train_oxides(false, true), both = train_oxides(true, true);
  return two_body ? both : alone;
}

MappedGp mapped_of(const SparseGp& gp) {
  MappedGp mapped = gp.mapped();
  mapped.descriptor = settings();
  return mapped;
}

ComputeRequest energy_std_request() {
  ComputeRequest request;
  request.energy_uncertainty = true;
  return request;
}

// Σ_ij Cov(ε_i(a), ε_j(b)) pair by pair over the atoms of two structures, in
// long double from the kernel's matrices, with K_uu⁻¹ − Σ_v formed densely
// from the factors (F: FᵀF = K̃_uu; R_v: Σ_v⁻¹ = R_vᵀR_v/σ² ... as
// SparseGp::predict uses them: Cov/σ² = k̃_ij − k̃_iᵀ(FᵀF)⁻¹k̃_j + σ²k̃_iᵀ(R_vᵀR_v)⁻¹k̃_j).
long double brute_force_energy_covariance(const SparseGp& gp, const Structure& a,
                                          const Structure& b) {
  using MatrixL = Eigen::Matrix<long double, Eigen::Dynamic, Eigen::Dynamic>;
  const long double variance = std::pow(gp.hyperparameters().signal_std, 2);
  const MatrixL f = gp.factors().kernel_factor.cast<long double>();
  const auto& solution = gp.solution();
  const MatrixL r =
      (solution.r_variance.size() ? solution.r_variance : solution.r).cast<long double>();
  const MatrixL p = (f.transpose() * f).inverse() - variance * (r.transpose() * r).inverse();
  const DescriptorValues x = gp.describe(a, false), y = gp.describe(b, false);
  // Kernel values, zero between different species.
  auto same_species = [&](const Eigen::MatrixXd& rows, const std::vector<int>& row_species,
                          const DescriptorValues& atoms) {
    MatrixL k = gp.kernel().matrix(rows, atoms.values).cast<long double>();
    for (Eigen::Index u = 0; u < k.rows(); ++u)
      for (Eigen::Index i = 0; i < k.cols(); ++i)
        if (row_species[u] != atoms.species[i]) k(u, i) = 0;
    return k;
  };
  const MatrixL k_x = same_species(gp.sparse_descriptors(), gp.sparse_species(), x);
  const MatrixL k_y = same_species(gp.sparse_descriptors(), gp.sparse_species(), y);
  const MatrixL prior = same_species(x.values, x.species, y);
  return variance * (prior.sum() - (k_x.transpose() * p * k_y).sum());
}

double brute_force_energy_variance(const SparseGp& gp, const Structure& structure) {
  return static_cast<double>(brute_force_energy_covariance(gp, structure, structure));
}

}  // namespace

TEST_CASE("the GP's total-energy std: mapped = direct = brute-force pair sum", "[gp_variance]") {
  const SparseGp& gp = trained();
  REQUIRE(gp.num_species() == 3);
  const MappedGp mapped = mapped_of(gp);
  REQUIRE(mapped.energy_variance_factor.cols() == gp.num_sparse());
  GpPotential fast(mapped, "gp:test");
  auto direct = make_sparse_gp_potential(std::make_shared<const SparseGp>(gp), "gp:test,mapped=no");
  Structure bigger = perovskite();
  bigger.cell *= 2.0;  // a 2×2×2 supercell
  const Eigen::MatrixXd base = bigger.positions / 2.0;
  bigger.positions.resize(40, 3);
  bigger.numbers.clear();
  for (int c = 0; c < 8; ++c)
    for (int b = 0; b < 5; ++b) {
      bigger.positions.row(5 * c + b) =
          base.row(b) + 4.093 * Eigen::RowVector3d(c & 1, (c >> 1) & 1, (c >> 2) & 1);
      bigger.numbers.push_back(perovskite().numbers[b]);
    }
  std::vector<Structure> tests = rattled(bigger, 1, 0.15, 7);
  for (auto& f : rattled(rocksalt_bao(), 1, 0.2, 8)) tests.push_back(f);
  for (const Structure& test : tests) {
    ComputeRequest both = energy_std_request();
    both.uncertainty = true;
    const Evaluation a = evaluate(fast, test, both), b = evaluate(*direct, test, both);
    REQUIRE(a.energy_uncertainty.has_value());
    REQUIRE(b.energy_uncertainty.has_value());
    const GpPrediction prediction = gp.predict(test, true);
    // Bit for bit on Serial; to rounding where threads order the sums (neighbour list).
    CHECK(repeats(*b.energy_uncertainty, *prediction.energy_std));
    const double brute = brute_force_energy_variance(gp, test);
    INFO(test.formula() << ": mapped " << *a.energy_uncertainty << " eV, direct "
                        << *b.energy_uncertainty << " eV, brute force " << std::sqrt(brute));
    CHECK(std::pow(*a.energy_uncertainty, 2) == Approx(brute).epsilon(1e-6));
    CHECK(std::pow(*b.energy_uncertainty, 2) == Approx(brute).epsilon(1e-6));
    // Local energies are correlated: the total is not the sum of per-atom variances.
    const double independent = a.uncertainty->squaredNorm();
    INFO("Σ_i var(ε_i) = " << independent << " eV², var(E) = " << brute << " eV²");
    CHECK(std::abs(independent - brute) > 0.05 * brute);
  }
  // Only on request.
  CHECK_FALSE(evaluate(fast, tests[0]).energy_uncertainty.has_value());
}

TEST_CASE("the total-energy std survives the model file", "[gp_variance]") {
  TemporaryDirectory directory;
  const auto path = directory.path() / "model.h5";
  save_gp_model(path, trained(), b2_descriptor_format());
  const MappedGp loaded = load_mapped_gp(path);
  CHECK(loaded.energy_variance_factor == mapped_of(trained()).energy_variance_factor);
  auto from_file = make_potential("gp:" + path.string());
  const Structure test = rattled(rocksalt_bao(), 1, 0.2, 9)[0];
  const Evaluation a = evaluate(*from_file, test, energy_std_request());
  REQUIRE(a.energy_uncertainty.has_value());
  CHECK(*a.energy_uncertainty == Approx(*trained().predict(test, true).energy_std).epsilon(1e-7));
  CHECK_THROWS_WITH(make_potential("gp:" + path.string() + ",mapped=no,variance_rank=4"),
                    Catch::Contains("mapped form only"));
  CHECK_THROWS_WITH(make_potential("gp:" + path.string() + ",variance_rank=-2"),
                    Catch::Contains("variance_rank"));
}

TEST_CASE("hull stability probabilities come from the GP's own energy std", "[gp_variance]") {
  GpPotential gp(mapped_of(trained()), "gp:test");
  const std::vector<double> pressures = {0.0, 5.0};
  PressureRelaxation options;
  options.relax.max_steps = 30;
  std::vector<Structure> relaxed;
  StructureInput input{"BaO", "test", rattled(rocksalt_bao(), 1, 0.05, 11)[0]};
  input.structure.set_info_value("std", "0.5");  // replaced by the GP's own
  const StudyPhase phase = relaxed_phase(input, gp, options, pressures, relaxed);
  REQUIRE(relaxed.size() == 2);
  REQUIRE(phase.phase.std_per_atom_by_pressure.size() == 2);
  for (std::size_t k = 0; k < 2; ++k) {
    const Evaluation evaluation = evaluate(gp, relaxed[k], energy_std_request());
    CHECK(phase.phase.std_per_atom_by_pressure[static_cast<Eigen::Index>(k)] ==
          Approx(*evaluation.energy_uncertainty / 8.0)
              .epsilon(std::max(1e-12, testing::repeat_tolerance())));
  }
  REQUIRE(phase.phase.std_per_atom.has_value());
  CHECK(*phase.phase.std_per_atom == phase.phase.std_per_atom_by_pressure.maxCoeff());
  CHECK(*phase.phase.std_per_atom < 0.5);
  // Relaxed where the model has data: no novel atoms. Squeezed to 75 % of its
  // lattice and relaxed one step: atoms closer than any training pair are
  // novel, and each pressure's note says so.
  const auto into_novel = [](const StudyPhase& p) {
    return std::count_if(p.notes.begin(), p.notes.end(), [](const std::string& note) {
      return note.find("where the model would ask for a label") != std::string::npos;
    });
  };
  CHECK(into_novel(phase) == 0);
  REQUIRE(phase.extrapolation.size() == 2);  // the hull's tables mark novel entries from these
  for (const auto& x : phase.extrapolation) CHECK((x && x->novel_atoms == 0));
  {
    StructureInput squeezed = input;
    squeezed.id = "BaO-squeezed";
    squeezed.structure.cell *= 0.75;
    squeezed.structure.positions *= 0.75;
    PressureRelaxation one_step = options;
    one_step.relax.max_steps = 1;
    std::vector<Structure> out;
    const StudyPhase novel = relaxed_phase(squeezed, gp, one_step, pressures, out);
    CHECK(into_novel(novel) == 2);
    REQUIRE(novel.extrapolation.size() == 2);
    for (const auto& x : novel.extrapolation) CHECK((x && x->novel_atoms == 8));
    // Each novel atom adds σ² to the total-energy variance: 8 of 8 novel,
    // at least √8·σ/8 per atom (the GP's own total std alone is far smaller).
    const double sigma = trained().hyperparameters().signal_std;
    REQUIRE(novel.phase.std_per_atom_by_pressure.size() == 2);
    for (Eigen::Index k = 0; k < 2; ++k)
      CHECK(novel.phase.std_per_atom_by_pressure[k] >= std::sqrt(8.0) * sigma / 8.0);
  }

  // Two BaO polymorphs, the second x·s above the first (s: the GP's std per
  // atom at that pressure, both entries carrying it), and high-lying elements:
  // the second is on the hull with probability P(N(0, 2s²) > x·s) = Φ(−x/√2).
  for (std::size_t k = 0; k < 2; ++k) {
    SweepPhase second = phase.phase;
    second.id = "BaO-b";
    const double s = phase.phase.std_per_atom_by_pressure[static_cast<Eigen::Index>(k)];
    REQUIRE(s > 0.0);
    const double x = 0.8;
    second.enthalpy_per_atom = phase.phase.enthalpy_per_atom.array() + x * s;
    SweepPhase barium, oxygen;
    barium.id = "Ba";
    barium.composition = Composition::from_numbers({56});
    oxygen.id = "O";
    oxygen.composition = Composition::from_numbers({8});
    barium.enthalpy_per_atom = oxygen.enthalpy_per_atom =
        phase.phase.enthalpy_per_atom.array() + 10.0;
    barium.volume_per_atom = oxygen.volume_per_atom = second.volume_per_atom =
        phase.phase.volume_per_atom;
    const std::vector<SweepPhase> phases = {phase.phase, second, barium, oxygen};
    const std::vector<HullEntry> entries = sweep_entries(phases, k);
    REQUIRE(entries[1].std_per_atom.has_value());
    CHECK(*entries[1].std_per_atom == s);
    Hull hull = compute_hull(entries);
    SamplingOptions sampling;
    sampling.samples = 20000;
    sample_stability(hull, entries, sampling);
    const double expected = 0.5 * std::erfc(x / 2.0);  // Φ(−x/√2)
    INFO("pressure " << pressures[k] << " GPa, s = " << s << " eV/atom");
    CHECK(*hull.entries[1].stability_probability == Approx(expected).margin(0.015));
    CHECK(*hull.entries[0].stability_probability == Approx(1 - expected).margin(0.015));
  }
}

TEST_CASE(
    "the GP's force std is the posterior std of −∂E/∂x (finite differences of the "
    "energy covariance)",
    "[gp_variance]") {
  const bool two_body = GENERATE(false, true);
  CAPTURE(two_body);
  const SparseGp& gp = two_body ? trained_two_body() : trained();
  const Structure base = rattled(perovskite(), 1, 0.08, 7)[0];
  const Positions std = gp.force_std(gp.describe(base, true));
  REQUIRE(std.rows() == base.size());
  const double h = 2e-3, sigma = gp.hyperparameters().signal_std;
  for (int i = 0; i < base.size(); ++i)
    for (int alpha = 0; alpha < 3; ++alpha) {
      Structure plus = base, minus = base;
      plus.positions(i, alpha) += h;
      minus.positions(i, alpha) -= h;
      // Var(E₊ − E₋) = C₊₊ + C₋₋ − 2C₊₋ ≈ 4h² Var(∂E/∂x).
      const long double difference = brute_force_energy_covariance(gp, plus, plus) +
                                     brute_force_energy_covariance(gp, minus, minus) -
                                     2 * brute_force_energy_covariance(gp, plus, minus);
      const double expected = std::sqrt(static_cast<double>(difference / (4 * h * h))) / sigma;
      CAPTURE(i, alpha, expected, std(i, alpha));
      // The difference of covariances loses digits to rounding; on threaded
      // backends the descriptor sums of the three structures round differently.
      CHECK(std(i, alpha) == Approx(expected).epsilon(deterministic_backend() ? 1e-4 : 1e-3));
    }
}

TEST_CASE("with the kernel's two- and three-body parts the mapped GP equals the direct one",
          "[gp_variance][two_body][three_body]") {
  // The two-body part, the three-body part, both.
  const int parts = GENERATE(1, 2, 3);
  const bool two_body = parts & 1, three_body = parts & 2;
  CAPTURE(two_body, three_body);
  const SparseGp& gp = three_body ? trained_three_body(two_body) : trained_two_body();
  MappedGp mapped = gp.mapped();
  mapped.descriptor = settings();
  mapped.descriptor.two_body = two_body;
  REQUIRE(mapped.two_body.size() == (two_body ? 3u : 0u));
  REQUIRE(mapped.two_body_weight == (two_body ? 0.05 : 0.0));
  REQUIRE(mapped.three_body.size() == (three_body ? 3u : 0u));
  const double w3 = gp.kernel().three_body_weight();
  REQUIRE((w3 > 0.0) == three_body);
  auto direct = make_sparse_gp_potential(std::make_shared<const SparseGp>(gp), "gp:test,mapped=no");
  std::vector<Structure> tests = rattled(perovskite(), 1, 0.1, 17);
  for (auto& f : rattled(rocksalt_bao(), 1, 0.15, 18)) tests.push_back(f);
  Structure squeezed = tests[0];  // 10 % shorter bonds: the pair part sees it
  squeezed.positions *= 0.9;
  squeezed.cell *= 0.9;
  tests.push_back(squeezed);
  ComputeRequest all = energy_std_request();
  all.uncertainty = true;
  for (int rank : {0, 4}) {
    mapped.variance_rank = rank;
    GpPotential fast(mapped, "gp:test");
    GpPotential team(mapped, "gp:test");  // the rows in the team kernel (fast: BLAS on a host)
    team.set_variance_form(GpPotential::VarianceForm::rows);
    for (const Structure& test : tests) {
      CAPTURE(rank, test.formula());
      const Evaluation a = evaluate(fast, test, all), b = evaluate(*direct, test, all);
      const Evaluation c = evaluate(team, test, all);
      CHECK((*a.uncertainty - *c.uncertainty).cwiseAbs().maxCoeff() <=
            1e-9 * gp.hyperparameters().signal_std);
      CHECK(a.energy == Approx(b.energy).epsilon(1e-10));
      CHECK((a.forces - b.forces).norm() <= 1e-9 * b.forces.norm());
      CHECK((*a.stress - *b.stress).norm() <= 1e-9 * b.stress->norm());
      const double brute = brute_force_energy_variance(gp, test);
      CHECK(std::pow(*a.energy_uncertainty, 2) == Approx(brute).epsilon(1e-6));
      const DescriptorValues values = gp.describe(test, false);
      const double sigma = gp.hyperparameters().signal_std;
      for (int i = 0; i < test.size(); ++i) {
        const double exact = (*b.uncertainty)[i], mapped_std = (*a.uncertainty)[i];
        if (rank == 0) {
          CHECK(mapped_std == Approx(exact).epsilon(1e-7).margin(1e-9 * sigma));
        } else {
          // Truncation only raises the std, by at most the bound per unit of prior
          // 1 + w|q|² + w₃|b|².
          const int pairs = mapped.descriptor.two_body_size();
          const double prior =
              1.0 + mapped.two_body_weight * values.values.row(i).tail(pairs).squaredNorm() +
              w3 * values.values.row(i).head(values.values.cols() - pairs).squaredNorm();
          const int s = values.species[i];
          CHECK(mapped_std * mapped_std >= exact * exact - 1e-9 * sigma * sigma * prior);
          CHECK(mapped_std * mapped_std - exact * exact <=
                fast.variance_truncation()[s].max_error * prior + 1e-9 * sigma * sigma * prior);
        }
      }
    }
  }
  // The squeezed structure is new to the pair part: its std rises.
  GpPotential fast(mapped, "gp:test");
  const double usual = evaluate(fast, tests[0], all).uncertainty->mean();
  const double compressed = evaluate(fast, tests.back(), all).uncertainty->mean();
  CHECK(compressed > usual);
}

TEST_CASE(
    "the explained variance of a block of atoms: a team's per-atom form equals the one-thread "
    "form, number for number",
    "[gp_variance][team]") {
  // Σ_a (Σ_u R_au k_ub)² for a block of atoms, as the GP's uncertainty kernel
  // forms it: the one-thread form (each row of R against the whole block) and
  // a GPU team's (a thread per atom, no atomics), each in a one-thread team,
  // and the kernel's choice with the largest team the backend allows.
  using TeamPolicy = Kokkos::TeamPolicy<ExecSpace>;
  using Member = TeamPolicy::member_type;
  constexpr int block = 32;
  const int rank = 23, m = 37, blocks = 5, count = 29;  // the last atoms of a block unused
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal;
  Kokkos::View<double*, MemSpace> R("R", rank * m), k("k", blocks * m * block);
  auto R_host = Kokkos::create_mirror_view(R);
  auto k_host = Kokkos::create_mirror_view(k);
  for (std::size_t i = 0; i < R_host.extent(0); ++i) R_host(i) = normal(rng);
  for (std::size_t i = 0; i < k_host.extent(0); ++i) k_host(i) = normal(rng);
  Kokkos::deep_copy(R, R_host);
  Kokkos::deep_copy(k, k_host);
  const auto explained = [&](int team_size, int form) {
    Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> out("out", blocks, block);
    Kokkos::parallel_for(
        TeamPolicy(blocks, team_size), KOKKOS_LAMBDA(const Member& team) {
          const int g = team.league_rank();
          const double* kb = &k(std::size_t(g) * m * block);
          if (form == 0) squared_projections_rows<block>(R.data(), rank, m, kb, count, &out(g, 0));
          if (form == 1)
            squared_projections_atoms<block>(team, R.data(), rank, m, kb, count, &out(g, 0));
          if (form == 2) squared_projections<block>(team, R.data(), rank, m, kb, count, &out(g, 0));
        });
    return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  };
  const int largest = testing::largest_team_size(32);
  const auto rows = explained(1, 0), atoms = explained(1, 1), chosen = explained(largest, 2);
  for (int g = 0; g < blocks; ++g)
    for (int b = 0; b < count; ++b) {
      double expected = 0.0;
      for (int a = 0; a < rank; ++a) {
        double p = 0.0;
        for (int u = 0; u < m; ++u) p += R_host(a * m + u) * k_host((g * m + u) * block + b);
        expected += p * p;
      }
      REQUIRE(rows(g, b) == Approx(expected).epsilon(1e-12));
      REQUIRE(atoms(g, b) == rows(g, b));
      REQUIRE(chosen(g, b) == rows(g, b));
    }
}
