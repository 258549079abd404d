// Hyperparameter optimisation, reference energies, sparse selection and the
// training driver.

#include <spdlog/sinks/base_sink.h>
#include <Eigen/Dense>
#include <catch2/catch.hpp>
#include <cmath>
#include <csignal>
#include <mutex>
#include <random>
#include <string_view>

#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/gp/hyperparameter_optimizer.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/gp/reference_energies.hpp"
#include "otfgp/gp/training.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "support/radial_descriptor.hpp"
#include "support/repeatability.hpp"
#include "support/structures.hpp"

using namespace otfgp;
using namespace otfgp::testing;

namespace {

const std::string reference_spec =
    "lj:eps=0.0104,sigma=3.4,rc=7.0,eps.Ar-Kr=0.0125,sigma.Ar-Kr=3.55,eps.Kr-Kr=0.0141,sigma.Kr-Kr="
    "3.65";

// Rattled and strained fcc Ar with a quarter of the atoms Kr, labelled by
// Lennard-Jones, with Gaussian noise of known size on the forces.
std::vector<Structure> lj_frames(int count, std::uint64_t seed, double force_noise = 0.0) {
  auto potential = make_potential(reference_spec);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> strain(-0.02, 0.02);
  const double basis[4][3] = {{0, 0, 0}, {0, 0.5, 0.5}, {0.5, 0, 0.5}, {0.5, 0.5, 0}};
  std::vector<Structure> frames;
  for (int f = 0; f < count; ++f) {
    Structure s;
    const double a = 5.4;
    Eigen::Matrix3d deformation = Eigen::Matrix3d::Identity();
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) deformation(i, j) += strain(rng);
    s.cell = 2 * a * deformation;
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j)
        for (int k = 0; k < 2; ++k)
          for (const auto& b : basis) {
            s.positions.conservativeResize(s.size() + 1, 3);
            s.positions.row(s.size()) =
                Eigen::RowVector3d(i + b[0], j + b[1], k + b[2]) * a * deformation;
            s.numbers.push_back(s.size() % 4 == 1 ? 36 : 18);
          }
    rattle(s, 0.2, seed * 1000 + f);
    attach_labels(s, evaluate(*potential, s));
    for (int i = 0; i < s.size(); ++i)
      for (int c = 0; c < 3; ++c) (*s.forces)(i, c) += force_noise * normal(rng);
    frames.push_back(s);
  }
  return frames;
}

std::shared_ptr<const Descriptor> descriptor() {
  return std::make_shared<RadialDescriptor>(std::vector<int>{18, 36}, 10, 6.0);
}

// Counts the optimiser's likelihood evaluations (its debug lines) and sends
// SIGINT to the process during evaluation `at`.
class SignalAtEvaluation final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit SignalAtEvaluation(int at) : at_(at) {}
  int evaluations = 0;

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    const std::string_view text(message.payload.data(), message.payload.size());
    if (text.find("hyperparameters σ=") == std::string_view::npos) return;
    if (++evaluations == at_) std::raise(SIGINT);
  }
  void flush_() override {}

 private:
  int at_;
};

}  // namespace

TEST_CASE("hyperparameter optimisation raises the likelihood and stops at a stationary point",
          "[gp_training]") {
  const auto frames = lj_frames(8, 3, 0.005);
  GpTrainingSettings settings;
  settings.optimize_hyperparameters = false;
  settings.sparse.count = 4;
  settings.hyperparameters = {1.0, 0.01, 0.1, 0.01};
  SparseGp gp = train_sparse_gp(descriptor(), std::make_shared<NormalizedDotProductKernel>(2),
                                frames, settings);
  const HyperparameterReport report = optimize_hyperparameters(gp);
  CHECK(report.success);
  CHECK(report.end_likelihood > report.start_likelihood);
  CHECK(report.evaluations > 1);
  CHECK(gp.log_marginal_likelihood().value == Approx(report.end_likelihood).epsilon(1e-12));
  const LikelihoodTerms terms = gp.log_marginal_likelihood();
  // Every parameter inside its bounds has a vanishing gradient (relative to the size of the terms).
  for (int k = 0; k < 4; ++k) CHECK(std::abs(terms.gradient[k]) < 1e-3 * gp.num_labels());
  // The force noise it finds is of the order of the noise that was added (and the model error).
  CHECK(gp.hyperparameters().force_noise > 0.003);
  CHECK(gp.hyperparameters().force_noise < 0.02);

  // Bounds hold: a force noise forced below what the data say ends at its upper bound.
  HyperparameterOptimization tight;
  tight.upper.force_noise = 0.001;
  tight.lower.force_noise = 0.0005;
  const HyperparameterReport bounded = optimize_hyperparameters(gp, tight);
  CHECK(gp.hyperparameters().force_noise == Approx(0.001).epsilon(1e-6));
  CHECK(bounded.end.force_noise <= 0.001 * (1 + 1e-12));

  HyperparameterOptimization nothing;
  nothing.optimize_signal = false;
  nothing.optimize_noises = false;
  CHECK(optimize_hyperparameters(gp, nothing).result == "nothing to optimise");
  CHECK_THROWS(optimize_hyperparameters(gp, [] {
    HyperparameterOptimization bad;
    bad.lower.signal_std = -1;
    return bad;
  }()));
}

TEST_CASE("a signal ends the hyperparameter search in otfgp train only", "[gp_training]") {
  const auto frames = lj_frames(8, 3, 0.005);
  GpTrainingSettings settings;
  settings.optimize_hyperparameters = false;
  settings.sparse.count = 4;
  settings.hyperparameters = {1.0, 0.01, 0.1, 0.01};
  auto trained = [&] {
    return train_sparse_gp(descriptor(), std::make_shared<NormalizedDotProductKernel>(2), frames,
                           settings);
  };
  SparseGp plain = trained(), signalled = trained(), stopped = trained();
  const HyperparameterReport reference = optimize_hyperparameters(plain);
  REQUIRE(reference.evaluations > 1);
  {
    const InterruptGuard guard;
    std::raise(SIGINT);
    REQUIRE(interrupt_requested());
    // otf and search (no InterruptibleSection) finish the search as if no
    // signal had come: their checkpoints hold the model an uninterrupted run has.
    const HyperparameterReport finished = optimize_hyperparameters(signalled);
    CHECK(finished.evaluations == reference.evaluations);
    // Bit for bit on Serial; on OpenMP the descriptors' sums run in any
    // order, and the likelihood differs in its last digits (CI, 2026-12-03).
    CHECK(testing::repeats(finished.end_likelihood, reference.end_likelihood));
    CHECK(finished.result == reference.result);
  }
  CHECK_FALSE(interrupt_requested());
  // otfgp train (an InterruptibleSection) ends the search at the signal,
  // here sent during the third likelihood evaluation: no fourth one follows.
  auto signaller = std::make_shared<SignalAtEvaluation>(3);
  logger().sinks().push_back(signaller);
  const auto level = logger().level();
  logger().set_level(spdlog::level::debug);
  {
    const InterruptGuard guard;
    const InterruptibleSection interruptible;
    try {
      const HyperparameterReport report = optimize_hyperparameters(stopped);
      CHECK(report.result == "stopped by a signal, at the best point so far");
      CHECK(report.evaluations == 3);
    } catch (const InterruptedError&) {
      // Stopped after the search, where the model takes its values.
    }
  }
  logger().set_level(level);
  logger().sinks().pop_back();
  CHECK(signaller->evaluations == 3);
}

TEST_CASE("two-start hyperparameter search keeps the better basin and leaves the model there",
          "[gp_training]") {
  // Eight LJ frames have (at least) two optima: σ_e ≈ 2.7e-4 (log likelihood
  // 3207.7) and σ_e at its 1e-6 bound (3195.2). A search started with σ_e at
  // the bound, as after fitting a handful of energies, stays there.
  const auto frames = lj_frames(8, 3, 0.005);
  GpTrainingSettings settings;
  settings.optimize_hyperparameters = false;
  settings.sparse.count = 4;
  const GpHyperparameters configured{1.0, 0.01, 0.1, 0.01};
  const GpHyperparameters stuck{1.0, 1e-6, 0.1, 0.01};
  settings.hyperparameters = configured;
  const SparseGp trained = train_sparse_gp(
      descriptor(), std::make_shared<NormalizedDotProductKernel>(2), frames, settings);
  // One search from each start, on copies.
  SparseGp from_stuck = trained, from_configured = trained;
  from_stuck.set_hyperparameters(stuck);
  const double stuck_optimum = optimize_hyperparameters(from_stuck).end_likelihood;
  const HyperparameterReport single = optimize_hyperparameters(from_configured);
  const double configured_optimum = single.end_likelihood;
  INFO("optimum from σ_e at its bound " << stuck_optimum << ", from the configured start "
                                        << configured_optimum);
  REQUIRE(configured_optimum > stuck_optimum + 5.0);  // two basins: the premise of the test
  CHECK(from_stuck.hyperparameters().energy_noise < 1.1e-6);
  CHECK(from_configured.hyperparameters().energy_noise > 1e-4);

  auto same = [](const GpHyperparameters& a, const GpHyperparameters& b) {
    return a.signal_std == Approx(b.signal_std).epsilon(1e-10) &&
           a.energy_noise == Approx(b.energy_noise).epsilon(1e-10) &&
           a.force_noise == Approx(b.force_noise).epsilon(1e-10) &&
           a.stress_noise == Approx(b.stress_noise).epsilon(1e-10);
  };

  // Current values in the worse basin: the configured start wins.
  SparseGp gp = trained;
  gp.set_hyperparameters(stuck);
  const TwoStartHyperparameterReport up = optimize_hyperparameters_two_starts(gp, configured);
  REQUIRE(up.from_configured.has_value());
  CHECK(up.configured_won);
  CHECK(up.from_current.end_likelihood == Approx(stuck_optimum).epsilon(1e-10));
  CHECK(up.from_configured->end_likelihood == Approx(configured_optimum).epsilon(1e-10));
  CHECK(up.kept().end_likelihood == up.from_configured->end_likelihood);
  CHECK(same(gp.hyperparameters(), from_configured.hyperparameters()));
  CHECK(gp.log_marginal_likelihood().value == Approx(configured_optimum).epsilon(1e-10));

  // The other way round (the configured start is the worse one): the current
  // values' optimum is kept, and the model goes back to it after the second search.
  gp = trained;
  const TwoStartHyperparameterReport down = optimize_hyperparameters_two_starts(gp, stuck);
  REQUIRE(down.from_configured.has_value());
  CHECK_FALSE(down.configured_won);
  CHECK(down.from_current.end_likelihood == Approx(configured_optimum).epsilon(1e-10));
  CHECK(down.from_configured->end_likelihood == Approx(stuck_optimum).epsilon(1e-10));
  CHECK(down.kept().end_likelihood == down.from_current.end_likelihood);
  CHECK(same(gp.hyperparameters(), from_configured.hyperparameters()));
  CHECK(gp.log_marginal_likelihood().value == Approx(configured_optimum).epsilon(1e-10));

  // Current values equal to the configured start: one search only.
  gp = trained;
  const TwoStartHyperparameterReport one = optimize_hyperparameters_two_starts(gp, configured);
  CHECK_FALSE(one.from_configured.has_value());
  CHECK_FALSE(one.configured_won);
  CHECK(one.from_current.start.energy_noise == configured.energy_noise);
  CHECK(one.from_current.evaluations == single.evaluations);
  CHECK(one.from_current.end_likelihood == Approx(configured_optimum).epsilon(1e-10));
  CHECK(same(gp.hyperparameters(), from_configured.hyperparameters()));
}

TEST_CASE("reference energies: least squares, minimum norm when compositions do not span",
          "[gp_training]") {
  // Ba–Rh–O compositions lie in the plane of BaO and RhO₂.
  const std::vector<std::vector<int>> formulas = {
      {56, 8}, {45, 8, 8}, {56, 45, 8, 8, 8}, {56, 56, 45, 8, 8, 8, 8}};
  const Eigen::Vector3d truth(-2.0, -5.0, -4.0);  // Ba, Rh, O ordered by Z: O, Rh, Ba
  std::vector<Structure> frames;
  for (const auto& numbers : formulas) {
    Structure s;
    s.numbers = numbers;
    s.positions = Positions::Zero(static_cast<int>(numbers.size()), 3);
    double e = 0;
    for (int z : numbers) e += z == 8 ? truth[0] : (z == 45 ? truth[1] : truth[2]);
    s.energy = e;
    frames.push_back(s);
  }
  const Eigen::VectorXd fitted = fit_reference_energies(frames, {8, 45, 56});
  for (const auto& s : frames) {
    double e = 0;
    for (int z : s.numbers) e += z == 8 ? fitted[0] : (z == 45 ? fitted[1] : fitted[2]);
    CHECK(e == Approx(*s.energy).epsilon(1e-12));
  }
  // Minimum norm: orthogonal to the null direction (O +1, Rh −2, Ba −1).
  CHECK(std::abs(fitted[0] - 2 * fitted[1] - fitted[2]) < 1e-10);
  // One species: the mean energy per atom.
  std::vector<Structure> silicon(2);
  silicon[0].numbers = {14, 14};
  silicon[0].energy = -10.0;
  silicon[1].numbers = {14, 14, 14};
  silicon[1].energy = -15.3;
  CHECK(fit_reference_energies(silicon, {14})[0] ==
        Approx((2 * -10.0 + 3 * -15.3) / 13.0).epsilon(1e-12));
  CHECK_THROWS_WITH(fit_reference_energies(silicon, {8}), Catch::Contains("Si"));
}

TEST_CASE("sparse selection methods", "[gp_training]") {
  std::mt19937_64 rng(5);
  const Eigen::VectorXd uncertainty =
      (Eigen::VectorXd(6) << 0.05, 0.4, 0.2, 0.01, 0.3, 0.15).finished();
  SparseSelection all{SparseSelectionMethod::all};
  CHECK(select_sparse_atoms(all, 6, uncertainty, rng) == std::vector<int>{0, 1, 2, 3, 4, 5});
  SparseSelection random{SparseSelectionMethod::random, 3};
  const auto picked = select_sparse_atoms(random, 6, Eigen::VectorXd(), rng);
  CHECK(picked.size() == 3);
  SparseSelection uncertain{SparseSelectionMethod::uncertain, 2};
  CHECK(select_sparse_atoms(uncertain, 6, uncertainty, rng) == std::vector<int>{1, 4});
  SparseSelection threshold{SparseSelectionMethod::threshold, 0, 0, 0.12};
  CHECK(select_sparse_atoms(threshold, 6, uncertainty, rng) == std::vector<int>{1, 4, 2, 5});
  threshold.count = 3;
  CHECK(select_sparse_atoms(threshold, 6, uncertainty, rng) == std::vector<int>{1, 4, 2});
  CHECK_THROWS_WITH(parse_sparse_selection_method("uncertian"), Catch::Contains("uncertian"));
}

TEST_CASE("training by uncertainty replays frames on the fly and learns Lennard-Jones",
          "[gp_training]") {
  const auto train = lj_frames(12, 7);
  const auto test = lj_frames(4, 8);
  GpTrainingSettings settings;
  settings.sparse = {SparseSelectionMethod::uncertain, 4};
  settings.replay = true;
  settings.hyperparameters = {0.1, 0.001, 0.01, 0.001};
  GpTrainingReport report;
  SparseGp gp = train_sparse_gp(descriptor(), std::make_shared<NormalizedDotProductKernel>(2),
                                train, settings, &report);
  CHECK(report.frames == 12);
  CHECK(report.labels[0] == 12);
  CHECK(report.labels[1] == 12 * 96);
  CHECK(report.labels[2] == 12 * 6);
  CHECK(report.sparse > 12);
  REQUIRE(report.hyperparameters.has_value());
  // Held-out force error well below the force scale of the data.
  double error = 0, scale = 0;
  for (const auto& s : test) {
    const GpPrediction p = gp.predict(s, false);
    error += (p.forces - *s.forces).cwiseAbs().sum();
    scale += s.forces->cwiseAbs().sum();
  }
  INFO("force MAE / mean |F| = " << error / scale);
  CHECK(error / scale < 0.15);
  // Sparse sources point at the training frames.
  for (const auto& source : gp.sparse_sources()) {
    CHECK(source.frame >= 0);
    CHECK(source.frame < 12);
  }
}

TEST_CASE("the greedy choice within a frame equals adding the least represented atom one at a time",
          "[gp_training]") {
  const auto frames = lj_frames(2, 11);
  GpTrainingSettings settings;
  settings.sparse.count = 3;
  settings.optimize_hyperparameters = false;
  SparseGp gp = train_sparse_gp(descriptor(), std::make_shared<NormalizedDotProductKernel>(2),
                                {frames[0]}, settings);
  const DescriptorValues values = gp.describe(frames[1], false);
  const std::vector<int> chosen = gp.least_represented_atoms(values, 6, 0.0);
  REQUIRE(chosen.size() == 6);
  SparseGp one_by_one = gp;
  for (int atom : chosen) {
    CHECK(one_by_one.least_represented_atoms(values, 1, 0.0) == std::vector<int>{atom});
    CHECK(one_by_one.add_sparse_environments(values.values.row(atom), {values.species[atom]}) == 1);
  }
  // A threshold stops the choice: nothing is left above a residual std of 1.
  CHECK(gp.least_represented_atoms(values, 0, 1.0).empty());
}

TEST_CASE("offline training with the greedy sparse choice", "[gp_training]") {
  const auto train = lj_frames(10, 17);
  GpTrainingSettings settings;
  settings.sparse = {SparseSelectionMethod::threshold, 5, 0, 0.01};
  settings.hyperparameters = {0.5, 0.001, 0.01, 0.001};
  GpTrainingReport report;
  SparseGp gp = train_sparse_gp(descriptor(), std::make_shared<NormalizedDotProductKernel>(2),
                                train, settings, &report);
  CHECK(report.sparse > 5);
  CHECK(report.sparse <= 50);
  for (const auto& source : gp.sparse_sources()) CHECK(source.frame >= 0);
  // Every stored environment is now represented: a second pass would add nothing above the
  // threshold.
  for (const auto& frame : train)
    CHECK(gp.least_represented_atoms(gp.describe(frame, false), 0, 0.01).empty());
}

TEST_CASE("the force-uncertainty fit recovers the scales errors were drawn with", "[gp_training]") {
  // σ_F² = (a u)² + b² + (c |F|)² with a = 3/Å, b = 0.02 eV/Å, c = 0.05.
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> energy_std(0.0, 0.05), force(0.0, 3.0);
  std::normal_distribution<double> normal;
  ForceErrorSample sample;
  ForceUncertaintyCalibration truth;
  truth.pooled = {3.0, 0.02, 0.05, 0.0};
  for (int i = 0; i < 20000; ++i) {
    sample.energy_std.push_back(energy_std(rng));
    sample.force_norm.push_back(force(rng));
    const double sigma = truth.force_std(sample.energy_std.back(), 0.0, sample.force_norm.back());
    sample.error.emplace_back(sigma * normal(rng), sigma * normal(rng), sigma * normal(rng));
  }
  const ForceUncertaintyCalibration fit = fit_force_uncertainty(sample, 7);
  CHECK(fit.pooled.energy_scale == Approx(3.0).epsilon(0.05));
  CHECK(fit.pooled.floor == Approx(0.02).epsilon(0.1));
  CHECK(fit.pooled.relative == Approx(0.05).epsilon(0.05));
  CHECK(fit.frames == 7);
  CHECK(fit.atoms == 20000);
  CHECK(fit.coverage_1 == Approx(0.6827).margin(0.01));
  CHECK(fit.coverage_2 == Approx(0.9545).margin(0.005));
  CHECK(fit.spearman > 0.3);
  // Errors unrelated to u and |F| leave only the floor.
  ForceErrorSample flat = sample;
  for (auto& e : flat.error) e = 0.1 * Eigen::Vector3d(normal(rng), normal(rng), normal(rng));
  const ForceUncertaintyCalibration constant = fit_force_uncertainty(flat, 7);
  CHECK(constant.pooled.floor == Approx(0.1).epsilon(0.02));
  CHECK(constant.pooled.energy_scale * 0.05 < 0.01);
  CHECK(constant.pooled.relative * 3.0 < 0.01);
  sample.energy_std.resize(5);
  sample.force_norm.resize(5);
  sample.error.resize(5);
  CHECK_THROWS_WITH(fit_force_uncertainty(sample, 1), Catch::Contains("at least 10 atoms"));
}

TEST_CASE("the force-uncertainty fit recovers the neighbours' term", "[gp_training]") {
  // σ_F² = (a u)² + (g v)² + b² + (c |F|)² with g = 4/Å: errors driven by the
  // neighbours' stds v as much as by the atom's own u.
  std::mt19937_64 rng(29);
  std::uniform_real_distribution<double> energy_std(0.0, 0.05), force(0.0, 3.0);
  std::normal_distribution<double> normal;
  const ForceStdTerms truth{2.0, 0.02, 0.03, 4.0};
  ForceErrorSample sample;
  for (int i = 0; i < 20000; ++i) {
    sample.energy_std.push_back(energy_std(rng));
    sample.neighbour_std.push_back(energy_std(rng));
    sample.force_norm.push_back(force(rng));
    const double sigma = truth.force_std(sample.energy_std.back(), sample.neighbour_std.back(),
                                         sample.force_norm.back());
    sample.error.emplace_back(sigma * normal(rng), sigma * normal(rng), sigma * normal(rng));
  }
  const ForceUncertaintyCalibration fit = fit_force_uncertainty(sample, 5);
  CHECK(fit.pooled.neighbour_scale == Approx(4.0).epsilon(0.05));
  CHECK(fit.pooled.energy_scale == Approx(2.0).epsilon(0.1));
  CHECK(fit.pooled.relative == Approx(0.03).epsilon(0.1));
  CHECK(fit.coverage_2 == Approx(0.9545).margin(0.005));
  // Without the neighbour stds the same errors are worse ranked.
  ForceErrorSample without = sample;
  without.neighbour_std.clear();
  const ForceUncertaintyCalibration own = fit_force_uncertainty(without, 5);
  CHECK(own.pooled.neighbour_scale == 0.0);
  CHECK(fit.spearman > own.spearman + 0.05);
  // The trigger's fit has neither |F| nor the neighbours.
  CHECK(fit_force_uncertainty(sample, 5, false).pooled.neighbour_scale == 0.0);
}

TEST_CASE("the force-uncertainty fit gives each species with enough atoms its own terms",
          "[gp_training]") {
  // SiC-like: species 0 errs 7x less than species 1 at the same u and |F|;
  // species 2 has too few atoms for a fit of its own and keeps the pooled terms.
  std::mt19937_64 rng(23);
  std::uniform_real_distribution<double> energy_std(0.0, 0.05), force(0.0, 3.0);
  std::normal_distribution<double> normal;
  const std::vector<ForceStdTerms> truth = {
      {0.5, 0.01, 0.02}, {3.5, 0.07, 0.14}, {1.0, 0.05, 0.05}};
  ForceErrorSample sample;
  for (int i = 0; i < 12000; ++i) {
    const int s = i < 20 ? 2 : i % 2;
    sample.energy_std.push_back(energy_std(rng));
    sample.force_norm.push_back(force(rng));
    sample.species.push_back(s);
    const double sigma =
        truth[s].force_std(sample.energy_std.back(), 0.0, sample.force_norm.back());
    sample.error.emplace_back(sigma * normal(rng), sigma * normal(rng), sigma * normal(rng));
  }
  const ForceUncertaintyCalibration fit = fit_force_uncertainty(sample, 3);
  REQUIRE(fit.species.size() == 3);
  for (int s = 0; s < 2; ++s) {
    CHECK(fit.species[s].energy_scale == Approx(truth[s].energy_scale).epsilon(0.1));
    CHECK(fit.species[s].floor == Approx(truth[s].floor).epsilon(0.15));
    CHECK(fit.species[s].relative == Approx(truth[s].relative).epsilon(0.05));
  }
  CHECK(fit.species[2].relative == fit.pooled.relative);
  CHECK(fit.terms(2).floor == fit.pooled.floor);
  CHECK(fit.terms(-1).energy_scale == fit.pooled.energy_scale);
  // Pooled terms alone rank the errors across species worse than per-species ones.
  ForceErrorSample pooled_only = sample;
  pooled_only.species.clear();
  const ForceUncertaintyCalibration pooled = fit_force_uncertainty(pooled_only, 3);
  CHECK(pooled.species.empty());
  CHECK(fit.spearman > pooled.spearman + 0.05);
  CHECK(fit.coverage_2 == Approx(0.9545).margin(0.006));
  // The trigger's fit (no |F| term) stays pooled.
  CHECK(fit_force_uncertainty(sample, 3, false).species.empty());
}
