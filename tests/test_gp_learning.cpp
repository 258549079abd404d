// Small but real learning runs (the long ones are bench/gp_learning.py): the
// B2 sparse GP learns Stillinger–Weber Si and the Buckingham + DSF Ba–Rh–O
// model from a handful of frames, its uncertainty ranks its errors, and the
// mapped potential MD runs on reproduces the sparse GP it came from.

#include <Eigen/Dense>
#include <catch2/catch.hpp>
#include <limits>
#include <random>

#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/gp/b2_descriptor.hpp"
#include "otfgp/gp/gp_potential.hpp"
#include "otfgp/gp/model_file.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/gp/sparse_gp.hpp"
#include "otfgp/gp/sparse_gp_potential.hpp"
#include "otfgp/gp/training.hpp"
#include "otfgp/gp/validation.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "otfgp/potentials/zbl.hpp"
#include "support/checks.hpp"
#include "support/repeatability.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::testing;

namespace {

// Rattled (Gaussian, per component) and strained copies of `base`, labelled by `reference`.
std::vector<Structure> frames_of(const Structure& base, const std::string& reference, int count,
                                 const std::vector<double>& amplitudes, std::uint64_t seed) {
  auto potential = make_potential(reference);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> strain(-0.01, 0.01);
  std::vector<Structure> frames;
  for (int f = 0; f < count; ++f) {
    std::normal_distribution<double> normal(0.0, amplitudes[f % amplitudes.size()]);
    Structure s = base;
    Eigen::Matrix3d deformation = Eigen::Matrix3d::Identity();
    for (int a = 0; a < 3; ++a)
      for (int b = a; b < 3; ++b) deformation(a, b) = deformation(b, a) = (a == b) + strain(rng);
    s.cell = s.cell * deformation;
    s.positions = s.positions * deformation;
    for (int i = 0; i < s.size(); ++i)
      for (int d = 0; d < 3; ++d) s.positions(i, d) += normal(rng);
    attach_labels(s, evaluate(*potential, s));
    frames.push_back(std::move(s));
  }
  return frames;
}

Structure perovskite(int n) {
  const double a = 4.093;  // buck:BaRhO.buck's minimum
  const double basis[5][3] = {
      {0, 0, 0}, {0.5, 0.5, 0.5}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
  const int numbers[5] = {56, 45, 8, 8, 8};
  Structure s;
  s.cell = Eigen::Matrix3d::Identity() * a * n;
  s.positions.resize(5 * n * n * n, 3);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (int k = 0; k < n; ++k)
        for (int b = 0; b < 5; ++b) {
          s.positions.row(s.size()) =
              Eigen::RowVector3d(i + basis[b][0], j + basis[b][1], k + basis[b][2]) * a;
          s.numbers.push_back(numbers[b]);
        }
  return s;
}

Structure rocksalt_bao(int n) {
  const double a = 5.514;
  Structure s;
  s.cell = Eigen::Matrix3d::Identity() * a * n;
  const double fcc[4][3] = {{0, 0, 0}, {0, 0.5, 0.5}, {0.5, 0, 0.5}, {0.5, 0.5, 0}};
  s.positions.resize(8 * n * n * n, 3);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (int k = 0; k < n; ++k)
        for (const auto& f : fcc) {
          s.positions.row(s.size()) = Eigen::RowVector3d(i + f[0], j + f[1], k + f[2]) * a;
          s.numbers.push_back(56);
          s.positions.row(s.size()) = Eigen::RowVector3d(i + f[0] + 0.5, j + f[1], k + f[2]) * a;
          s.numbers.push_back(8);
        }
  return s;
}

// The mapped potential (what MD runs) against the sparse GP it was mapped from.
void check_mapped_matches(const SparseGp& gp, const B2Settings& settings,
                          const std::vector<Structure>& frames) {
  MappedGp mapped = gp.mapped();
  mapped.descriptor = settings;
  auto fast = make_gp_potential(mapped, "gp:test");
  auto direct = make_sparse_gp_potential(std::make_shared<const SparseGp>(gp), "gp:test,mapped=no");
  ComputeRequest request;
  request.uncertainty = true;
  request.per_atom_energy = true;
  for (const auto& frame : frames) {
    const Evaluation a = evaluate(*fast, frame, request), b = evaluate(*direct, frame, request);
    CHECK(std::abs(a.energy - b.energy) <= 1e-10 * std::abs(b.energy));
    // Per atom, relative to the size of the kernel sum's terms Σ_u |α_u k(x_i, u)|
    // (that sum cancels heavily, so this is the scale of its own rounding).
    const DescriptorValues values = gp.describe(frame, false);
    const double variance = std::pow(gp.hyperparameters().signal_std, 2);
    double worst = 0;
    for (int i = 0; i < frame.size(); ++i) {
      double terms = 0;
      const Eigen::VectorXd unit = values.values.row(i).transpose().normalized();
      for (int u = 0; u < gp.num_sparse(); ++u)
        if (gp.sparse_species()[u] == values.species[i])
          terms += std::abs(gp.alpha()[u]) * variance *
                   std::pow(gp.sparse_descriptors().row(u).normalized().dot(unit), 2);
      worst = std::max(worst, std::abs((*a.per_atom_energy)[i] - (*b.per_atom_energy)[i]) / terms);
    }
    INFO("largest |ε_mapped − ε_sum| / Σ_u |α_u k(x, u)|: " << worst);
    CHECK(worst <= 1e-10);
    CHECK((a.forces - b.forces).cwiseAbs().maxCoeff() <= 1e-8 * b.forces.cwiseAbs().maxCoeff());
    CHECK((*a.stress - *b.stress).cwiseAbs().maxCoeff() <=
          1e-8 * b.stress->cwiseAbs().maxCoeff() + 1e-12);
    CHECK((*a.uncertainty_normalised - *b.uncertainty_normalised).cwiseAbs().maxCoeff() <= 1e-7);
    CHECK(*a.novel == *b.novel);
    CHECK((*a.uncertainty - *b.uncertainty).cwiseAbs().maxCoeff() <=
          1e-7 * gp.hyperparameters().signal_std);
    CHECK((*a.uncertainty - gp.hyperparameters().signal_std * *a.uncertainty_normalised)
              .cwiseAbs()
              .maxCoeff() <= 1e-12 * gp.hyperparameters().signal_std);
  }
}

// The calibrated force std of the mapped and the direct potential on `frame`:
// equal to 1e-6 (checked); returns the direct one.
Eigen::VectorXd same_force_std(Potential& mapped, Potential& direct, const Structure& frame) {
  ComputeRequest request;
  request.uncertainty = true;
  const Evaluation a = evaluate(mapped, frame, request), b = evaluate(direct, frame, request);
  REQUIRE(a.force_uncertainty.has_value());
  REQUIRE(b.force_uncertainty.has_value());
  CHECK((*a.force_uncertainty - *b.force_uncertainty).cwiseAbs().maxCoeff() <=
        1e-6 * b.force_uncertainty->maxCoeff());
  return *b.force_uncertainty;
}

}  // namespace

TEST_CASE("the B2 sparse GP learns Stillinger-Weber silicon", "[gp_learning]") {
  const Structure crystal = diamond(14, 5.431, 2);  // 64 atoms
  const auto train = frames_of(crystal, "sw:Si.sw", 12, {0.04, 0.08, 0.12, 0.16}, 1);
  const auto test = frames_of(crystal, "sw:Si.sw", 8, {0.04, 0.08, 0.12, 0.16}, 2);
  B2Settings settings;
  settings.species = {14};
  settings.n_max = 6;
  settings.l_max = 4;
  settings.cutoff = 4.0;
  GpTrainingSettings training;
  training.sparse = {SparseSelectionMethod::uncertain, 12};
  training.hyperparameters = {2.0, 0.001, 0.03, 0.0005};
  GpTrainingReport report;
  const SparseGp gp =
      train_sparse_gp(std::make_shared<B2Descriptor>(settings),
                      std::make_shared<NormalizedDotProductKernel>(2), train, training, &report);
  auto potential = make_sparse_gp_potential(std::make_shared<const SparseGp>(gp), "gp");
  const ValidationReport validation = validate_potential(*potential, test);
  INFO("sparse " << report.sparse << ", force MAE " << *validation.total.force_mae
                 << " eV/Å, energy MAE " << *validation.total.energy_mae * 1e3
                 << " meV/atom, Spearman " << *validation.total.uncertainty_spearman);
  CHECK(*validation.total.force_mae < 0.05);
  CHECK(*validation.total.energy_mae < 0.002);
  CHECK(*validation.total.stress_mae < 0.003);  // eV/Å³ (0.5 GPa)
  CHECK(*validation.total.uncertainty_spearman > 0.3);
  check_mapped_matches(gp, settings, {test[0], test[3]});

  // Novelty: the shortest Si–Si distance of the training frames, brute force.
  double shortest = 1e9;
  for (const Structure& frame : train) {
    const Structure big = frame;  // 64 atoms in a 10.9 Å cell: the nearest image suffices
    for (int i = 0; i < big.size(); ++i)
      for (int j = 0; j < big.size(); ++j) {
        Eigen::Vector3d r = (big.positions.row(j) - big.positions.row(i)).transpose();
        Eigen::Vector3d f = big.cell.transpose().inverse() * r;
        for (int d = 0; d < 3; ++d) f[d] -= std::round(f[d]);
        r = big.cell.transpose() * f;
        if (i != j) shortest = std::min(shortest, r.norm());
      }
  }
  REQUIRE(gp.shortest_pair_distance().size() == 1);
  CHECK(gp.shortest_pair_distance()(0, 0) == Approx(shortest).epsilon(1e-12));
  MappedGp mapped = gp.mapped();
  mapped.descriptor = settings;
  CHECK(mapped.shortest_pair_distance(0, 0) == gp.shortest_pair_distance()(0, 0));
  GpPotential fast(mapped);
  // The crystal compressed until its bonds (5.431·√3/4 Å) are 0.9 × the shortest seen: every
  // atom is novel and carries the prior std; the uncompressed crystal is not.
  const double scale = 0.9 * shortest / (5.431 * std::sqrt(3.0) / 4);
  Structure compressed = crystal;
  compressed.cell *= scale;
  compressed.positions *= scale;
  ComputeRequest request;
  request.uncertainty = true;
  const double sigma = gp.hyperparameters().signal_std;
  for (Potential* p : {static_cast<Potential*>(&fast), potential.get()}) {
    const Evaluation squeezed = evaluate(*p, compressed, request);
    CHECK(squeezed.novel->minCoeff() == 1.0);
    CHECK(squeezed.uncertainty->minCoeff() == Approx(sigma).epsilon(1e-12));
    CHECK(squeezed.uncertainty_normalised->minCoeff() == 1.0);
    const Evaluation usual = evaluate(*p, crystal, request);
    CHECK(usual.novel->maxCoeff() == 0.0);
    CHECK(usual.uncertainty->maxCoeff() < sigma);
  }

  // Novelty by density: the range of ρ_i = Σ_j (4 Å − r_ij)² over the training
  // atoms, brute force (nearest images suffice: 10.9 Å cells, 4 Å cutoff); a
  // crystal expanded by 12 % has no pair closer than the training data but
  // fewer, farther neighbours than any training atom: novel in both forms.
  auto densities = [](const Structure& s) {
    Eigen::VectorXd rho = Eigen::VectorXd::Zero(s.size());
    const Eigen::Matrix3d to_fractional = s.cell.transpose().inverse();
    for (int i = 0; i < s.size(); ++i)
      for (int j = 0; j < s.size(); ++j) {
        Eigen::Vector3d f = to_fractional * (s.positions.row(j) - s.positions.row(i)).transpose();
        for (int d = 0; d < 3; ++d) f[d] -= std::round(f[d]);
        const double r = (s.cell.transpose() * f).norm();
        if (i != j && r < 4.0) rho[i] += (4.0 - r) * (4.0 - r);
      }
    return rho;
  };
  Eigen::Vector2d range(std::numeric_limits<double>::infinity(), 0.0);
  for (const Structure& frame : train) {
    const Eigen::VectorXd rho = densities(frame);
    range[0] = std::min(range[0], rho.minCoeff());
    range[1] = std::max(range[1], rho.maxCoeff());
  }
  REQUIRE(gp.density_range().rows() == 1);
  CHECK(gp.density_range()(0, 0) == Approx(range[0]).epsilon(1e-10));
  CHECK(gp.density_range()(0, 1) == Approx(range[1]).epsilon(1e-10));
  CHECK(mapped.density_range == gp.density_range());
  Structure expanded = crystal;
  expanded.cell *= 1.12;
  expanded.positions *= 1.12;
  for (Potential* p : {static_cast<Potential*>(&fast), potential.get()}) {
    const Evaluation e = evaluate(*p, expanded, request);
    CHECK(e.novel->minCoeff() == 1.0);
    CHECK(e.uncertainty->minCoeff() == Approx(sigma).epsilon(1e-12));
  }
  // The reason is the density, not the distances.
  CHECK(densities(expanded).maxCoeff() < 0.95 * range[0]);
  CHECK(5.431 * std::sqrt(3.0) / 4 * 1.12 > shortest);

  // Novelty of an isolated atom: the model saw none (its energy would be the
  // fitted reference energy, uncertainty 0), so one is novel in both forms
  // and in the saved model; a model that saw one isolated Si atom does not
  // flag it (and still flags the compressed crystal).
  REQUIRE(gp.isolated_atoms().size() == 1);
  CHECK(gp.isolated_atoms()(0) == 0.0);
  CHECK(mapped.isolated_atoms == gp.isolated_atoms());
  Structure alone = crystal;
  alone.cell = Eigen::Matrix3d::Identity() * 12.0;
  alone.positions = Positions::Zero(2, 3);
  alone.positions(1, 0) = 6.0;  // 6 Å apart: beyond the 4 Å cutoff
  alone.numbers = {14, 14};
  TemporaryDirectory saved("otfgp-isolated");
  save_gp_model(saved / "model.h5", gp);
  const MappedGp loaded = load_mapped_gp(saved / "model.h5");
  // The file a model was read from is its parameter file (what a potential
  // oracle's resumed run compares), also from a config folder whose name
  // holds a comma; a model made in memory has none.
  std::filesystem::create_directories(saved / "a,b");
  std::filesystem::copy_file(saved / "model.h5", saved / "a,b" / "model.h5");
  for (const char* spec : {"gp:model.h5", "gp:model.h5,mapped=no"})
    CHECK(make_potential(spec, saved / "a,b")->parameter_files() ==
          std::vector<std::filesystem::path>{saved / "a,b" / "model.h5"});
  CHECK(GpPotential(loaded).parameter_files().empty());
  CHECK(loaded.isolated_atoms == gp.isolated_atoms());
  GpPotential from_file(loaded);
  for (Potential* p :
       {static_cast<Potential*>(&fast), potential.get(), static_cast<Potential*>(&from_file)}) {
    const Evaluation e = evaluate(*p, alone, request);
    CHECK(e.novel->minCoeff() == 1.0);
    CHECK(e.uncertainty->minCoeff() == Approx(sigma).epsilon(1e-12));
  }
  NoveltyReference counted(1);
  {
    AtomState state = AtomState::from_structure(alone);
    NeighborList list(settings.cutoff, 0.0);
    list.build(state);
    const B2Descriptor descriptor(settings);
    counted.add(descriptor.compute(state, list, false), descriptor);
  }
  CHECK(counted.isolated_atoms(0) == 2.0);
  MappedGp seen = mapped;
  seen.isolated_atoms = counted.isolated_atoms;
  GpPotential seen_alone(seen);
  CHECK(evaluate(seen_alone, alone, request).novel->maxCoeff() == 0.0);
  CHECK(evaluate(seen_alone, compressed, request).novel->minCoeff() == 1.0);

  // Short-range repulsion (gp/novelty_repulsion.hpp): nothing where the training data are, ZBL
  // switched on at 0.95 × the shortest distance (full from 0.8 × that) on the compressed crystal.
  MappedGp bare_model = mapped;
  bare_model.repulsion = false;
  GpPotential bare(bare_model);
  auto direct_bare =
      make_sparse_gp_potential(std::make_shared<const SparseGp>(gp), "gp", 0.05, false);
  auto zbl = make_zbl_repulsion({14}, Eigen::MatrixXd::Constant(1, 1, 0.95 * shortest), 0.8);
  const Evaluation wall = evaluate(*zbl, compressed);
  REQUIRE(wall.energy > 0.0);
  const std::pair<Potential*, Potential*> pairs[] = {{&fast, &bare},
                                                     {potential.get(), direct_bare.get()}};
  for (const auto& [with, without] : pairs) {
    const Evaluation inside = evaluate(*with, train[0]), inside_bare = evaluate(*without, train[0]);
    CHECK(repeats(inside.energy, inside_bare.energy));
    CHECK(repeats(inside.forces, inside_bare.forces));
    const Evaluation a = evaluate(*with, compressed), b = evaluate(*without, compressed);
    CHECK(a.energy - b.energy == Approx(wall.energy).epsilon(1e-9));
    CHECK((a.forces - b.forces - wall.forces).cwiseAbs().maxCoeff() <= 1e-9);
    CHECK((*a.stress - *b.stress - *wall.stress).cwiseAbs().maxCoeff() <=
          1e-9 * b.stress->cwiseAbs().maxCoeff());
  }
  // Squeezed further, the repulsion wins and the energy rises; forces stay −dE/dx.
  Structure squeezed = compressed;
  squeezed.cell *= 0.85;
  squeezed.positions *= 0.85;
  CHECK(evaluate(fast, squeezed).energy > evaluate(fast, compressed).energy);
  rattle(squeezed, 0.05, 3);
  check_derivatives(fast, squeezed, 1e-6, 1e-7);
}

TEST_CASE("a calibrated force std covers held-out force errors", "[gp_learning]") {
  const Structure crystal = diamond(14, 5.431, 2);  // 64 atoms
  const auto train = frames_of(crystal, "sw:Si.sw", 16, {0.04, 0.08, 0.12, 0.16}, 11);
  const auto test = frames_of(crystal, "sw:Si.sw", 8, {0.04, 0.08, 0.12, 0.16}, 12);
  B2Settings settings;
  settings.species = {14};
  settings.n_max = 6;
  settings.l_max = 4;
  settings.cutoff = 4.0;
  GpTrainingSettings training;
  training.sparse = {SparseSelectionMethod::uncertain, 12};
  training.hyperparameters = {2.0, 0.001, 0.03, 0.0005};
  training.calibration_holdout = 0.25;  // frames 3, 7, 11, 15
  GpTrainingReport report;
  const SparseGp gp =
      train_sparse_gp(std::make_shared<B2Descriptor>(settings),
                      std::make_shared<NormalizedDotProductKernel>(2), train, training, &report);
  CHECK(report.frames == 16);  // the held-out frames joined after the calibration
  const ForceUncertaintyCalibration& c = gp.force_calibration();
  REQUIRE(c.valid());
  CHECK(c.frames == 4);
  CHECK(c.atoms == 4 * 64);
  CHECK(c.coverage_2 > 0.85);
  auto direct = make_sparse_gp_potential(std::make_shared<const SparseGp>(gp), "gp");
  const ValidationReport validation = validate_potential(*direct, test);
  INFO("calibration a " << c.pooled.energy_scale << " b " << c.pooled.floor << " c "
                        << c.pooled.relative << "; held-out coverage "
                        << *validation.total.force_std_coverage_1 << " / "
                        << *validation.total.force_std_coverage_2 << ", Spearman "
                        << *validation.total.force_std_spearman);
  CHECK(*validation.total.force_std_coverage_2 > 0.85);
  CHECK(*validation.total.force_std_coverage_2 < 0.995);
  CHECK(*validation.total.force_std_coverage_1 > 0.5);
  // The mapped potential gives the same force std.
  MappedGp mapped = gp.mapped();
  mapped.descriptor = settings;
  GpPotential fast(mapped);
  CHECK(same_force_std(fast, *direct, test[1]).minCoeff() >= c.pooled.floor);
}

TEST_CASE("a two-species model calibrates each species' force std on its own", "[gp_learning]") {
  // Zincblende SiC (Tersoff): per conventional cell, atoms 0-3 Si and 4-7 C.
  Structure crystal = diamond(14, 4.36, 2);
  for (int i = 0; i < crystal.size(); ++i)
    if (i % 8 >= 4) crystal.numbers[i] = 6;
  const auto train = frames_of(crystal, "tersoff:SiC.tersoff", 16, {0.04, 0.08, 0.12}, 21);
  const auto test = frames_of(crystal, "tersoff:SiC.tersoff", 4, {0.04, 0.08, 0.12}, 22);
  B2Settings settings;
  settings.species = {6, 14};
  settings.n_max = 4;
  settings.l_max = 3;
  settings.cutoff = 3.5;
  // A shorter C–C cutoff (near the 3.08 Å C–C distance): the neighbours' term
  // of the force std takes each pair at its own cutoff, alike in both forms.
  settings.pair_cutoffs[{6, 6}] = 3.1;
  GpTrainingSettings training;
  training.sparse = {SparseSelectionMethod::uncertain, 10};
  training.hyperparameters = {2.0, 0.002, 0.1, 0.001};
  training.calibration_holdout = 0.25;  // 4 frames: 128 atoms of each species
  const SparseGp gp =
      train_sparse_gp(std::make_shared<B2Descriptor>(settings),
                      std::make_shared<NormalizedDotProductKernel>(2), train, training);
  const ForceUncertaintyCalibration& c = gp.force_calibration();
  REQUIRE(c.valid());
  REQUIRE(c.species.size() == 2);
  INFO("C: a " << c.species[0].energy_scale << " b " << c.species[0].floor << " c "
               << c.species[0].relative << "; Si: a " << c.species[1].energy_scale << " b "
               << c.species[1].floor << " c " << c.species[1].relative);
  // Tersoff SiC: the Si atoms err several times more than the C atoms.
  CHECK(c.species[1].floor > 2.0 * c.species[0].floor);
  // The direct and mapped potentials apply each atom's own species terms alike,
  // and a saved model keeps them.
  TemporaryDirectory folder;
  save_gp_model(folder / "sic.h5", gp);
  const SparseGp loaded = load_gp_model(folder / "sic.h5");
  REQUIRE(loaded.force_calibration().species.size() == 2);
  for (int s = 0; s < 2; ++s) {
    CHECK(loaded.force_calibration().species[s].energy_scale == c.species[s].energy_scale);
    CHECK(loaded.force_calibration().species[s].floor == c.species[s].floor);
    CHECK(loaded.force_calibration().species[s].relative == c.species[s].relative);
    CHECK(loaded.force_calibration().species[s].neighbour_scale == c.species[s].neighbour_scale);
  }
  auto direct = make_sparse_gp_potential(std::make_shared<const SparseGp>(gp), "gp");
  GpPotential fast(load_mapped_gp(folder / "sic.h5"));
  const Eigen::VectorXd force_std = same_force_std(fast, *direct, test[1]);
  for (int i = 0; i < test[1].size(); ++i) {
    const int s = test[1].numbers[i] == 6 ? 0 : 1;
    CHECK(force_std[i] >= c.species[s].floor * (1 - 1e-12));
  }
}

TEST_CASE("the B2 sparse GP learns a Ba-Rh-O rigid-ion model across compositions",
          "[gp_learning]") {
  std::vector<Structure> train =
      frames_of(perovskite(2), "buck:BaRhO.buck", 8, {0.03, 0.06, 0.09}, 3);
  std::vector<Structure> test =
      frames_of(perovskite(2), "buck:BaRhO.buck", 4, {0.03, 0.06, 0.09}, 4);
  for (auto& f : frames_of(rocksalt_bao(1), "buck:BaRhO.buck", 8, {0.03, 0.06, 0.09}, 5))
    train.push_back(f);
  for (auto& f : frames_of(rocksalt_bao(1), "buck:BaRhO.buck", 4, {0.03, 0.06, 0.09}, 6))
    test.push_back(f);
  B2Settings settings;
  settings.species = {8, 45, 56};
  settings.n_max = 5;
  settings.l_max = 3;
  settings.cutoff = 5.5;
  GpTrainingSettings training;
  training.sparse = {SparseSelectionMethod::uncertain, 10};
  training.hyperparameters = {2.0, 0.002, 0.05, 0.001};
  GpTrainingReport report;
  const SparseGp gp =
      train_sparse_gp(std::make_shared<B2Descriptor>(settings),
                      std::make_shared<NormalizedDotProductKernel>(2), train, training, &report);
  auto potential = make_sparse_gp_potential(std::make_shared<const SparseGp>(gp), "gp");
  const ValidationReport validation = validate_potential(*potential, test);
  for (const auto& [formula, errors] : validation.by_composition) {
    INFO(formula << ": force MAE " << *errors.force_mae
                 << " eV/Å (mean |F| scale ~0.3-0.6), energy MAE " << *errors.energy_mae * 1e3
                 << " meV/atom");
    CHECK(*errors.force_mae < 0.1);
    CHECK(*errors.energy_mae < 0.005);
  }
  INFO("Spearman " << *validation.total.uncertainty_spearman);
  CHECK(*validation.total.uncertainty_spearman > 0.2);
  check_mapped_matches(gp, settings, {test[0], test[5]});
}
