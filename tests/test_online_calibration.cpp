// The on-the-fly force-std calibration: it recovers the scale of errors drawn
// with a known law, keeps only its window (per stage), waits for its minimum of frames and
// survives a checkpoint round trip exactly.

#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "otfgp/core/error.hpp"
#include "otfgp/gp/b2_descriptor.hpp"
#include "otfgp/gp/kernel.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/otf/online_calibration.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "support/structures.hpp"

using namespace otfgp;
using namespace otfgp::otf;

namespace {

// One frame of `atoms` atoms whose force errors are N(0, (a u)² + b²) per
// component, u drawn uniformly from [u_low, u_high].
ForceErrorSample frame(std::mt19937_64& rng, int atoms, double a, double b, double u_low = 0.01,
                       double u_high = 0.2) {
  std::uniform_real_distribution<double> u_draw(u_low, u_high);
  std::normal_distribution<double> normal(0.0, 1.0);
  ForceErrorSample sample;
  for (int i = 0; i < atoms; ++i) {
    const double u = u_draw(rng);
    const double sigma = std::sqrt(a * a * u * u + b * b);
    sample.energy_std.push_back(u);
    sample.force_norm.push_back(1.0);
    sample.error.emplace_back(sigma * normal(rng), sigma * normal(rng), sigma * normal(rng));
  }
  return sample;
}

TEST_CASE("online calibration: recovers the error law, windowed, exact round trip",
          "[otf][calibration]") {
  std::mt19937_64 rng(7);
  OnlineCalibration calibration(2, 3);
  calibration.add(frame(rng, 200, 2.0, 0.01));
  CHECK_FALSE(calibration.ready());  // one frame is below the minimum
  calibration.add(ForceErrorSample{});
  CHECK(calibration.frames() == 1);  // an empty frame (no forces) is no sample
  calibration.add(frame(rng, 200, 2.0, 0.01));
  REQUIRE(calibration.ready());
  for (int k = 0; k < 3; ++k) calibration.add(frame(rng, 200, 2.0, 0.01));
  CHECK(calibration.frames() == 3);
  const ForceUncertaintyCalibration& c = calibration.calibration();
  CHECK(c.frames == 3);
  CHECK(c.atoms == 600);
  CHECK(c.pooled.energy_scale == Approx(2.0).epsilon(0.1));
  CHECK(calibration.trigger_scale() == Approx(2.0).epsilon(0.1));
  CHECK(c.coverage_2 == Approx(0.954).margin(0.03));
  // The window forgets: after frames drawn with a = 6 the fit follows them.
  for (int k = 0; k < 3; ++k) calibration.add(frame(rng, 200, 6.0, 0.01));
  CHECK(calibration.calibration().pooled.energy_scale == Approx(6.0).epsilon(0.1));
  CHECK(calibration.trigger_scale() == Approx(6.0).epsilon(0.1));

  OnlineCalibration restored(2, 3);
  restored.restore(nlohmann::json::parse(calibration.to_json().dump()));
  CHECK(restored.frames() == 3);
  CHECK(restored.calibration().pooled.energy_scale ==
        calibration.calibration().pooled.energy_scale);
  CHECK(restored.calibration().pooled.floor == calibration.calibration().pooled.floor);
  CHECK(restored.calibration().pooled.relative == calibration.calibration().pooled.relative);
  CHECK(restored.trigger_scale() == calibration.trigger_scale());
  CHECK_THROWS_AS(restored.restore(nlohmann::json::parse(R"([{"energy_std": [1]}])")), Error);
  CHECK_THROWS_AS(restored.restore(nlohmann::json::parse(
                      R"([{"energy_std": [1], "force_norm": [1, 2], "error": [[0, 0, 0]]}])")),
                  Error);
}

TEST_CASE("online calibration: a window that ties no error to the std keeps the trigger alive",
          "[otf][calibration]") {
  // Errors independent of u (a = 0), as in the warm-up of a small cluster: the
  // fit gives a′ → 0, and the trigger falls back to the force scale, the error
  // an environment unlike any seen (n = 1) may have.
  std::mt19937_64 rng(11);
  OnlineCalibration calibration(2, 3);
  for (int k = 0; k < 2; ++k) {
    ForceErrorSample sample = frame(rng, 64, 0.0, 0.1);
    for (double& f : sample.force_norm) f = 0.9;
    calibration.add(std::move(sample));
  }
  REQUIRE(calibration.ready());
  CHECK(calibration.fitted_trigger_scale() < 0.05);
  CHECK(calibration.trigger_scale_at_floor());
  CHECK(calibration.trigger_scale() == Approx(0.9 / std::sqrt(3.0)).epsilon(1e-12));
  OnlineCalibration restored(2, 3);
  restored.restore(calibration.to_json());
  CHECK(restored.trigger_scale() == calibration.trigger_scale());
}

TEST_CASE("online calibration: the window is kept per stage", "[otf][calibration]") {
  // Stage 0: a system the model learnt (small stds, errors a u); stage 1, the
  // latest: one it fits poorly, the stds all alike (0.08-0.12) and the errors
  // large whatever the std (b = 4), as in a B-C-N campaign whose last stages
  // the model could not follow. A window of the latest frames alone gives the
  // floor b to every atom; with stage 0's frames kept, small stds keep small
  // force stds σ_F.
  std::mt19937_64 rng(5);
  OnlineCalibration calibration(2, 3);
  for (int k = 0; k < 3; ++k) calibration.add(frame(rng, 100, 30.0, 0.01, 0.01, 0.03), 0);
  OnlineCalibration latest_only(2, 3);
  for (int k = 0; k < 5; ++k) {
    const ForceErrorSample sample = frame(rng, 100, 0.0, 4.0, 0.08, 0.12);
    calibration.add(sample, 1);
    latest_only.add(sample, 1);
  }
  CHECK(calibration.frames() == 6);
  CHECK(latest_only.frames() == 3);
  const auto force_std = [](const OnlineCalibration& c, double u) {
    return c.calibration().force_std(u, 0.0, 1.0, -1);
  };
  CHECK(force_std(latest_only, 0.02) > 3.0);
  CHECK(force_std(calibration, 0.02) < 1.5);
  CHECK(force_std(calibration, 0.1) > 3.0);
  // The trigger asks about the MD in hand: its scale comes from the latest
  // frames (here stage 1's three) alone.
  CHECK(calibration.trigger_scale() == latest_only.trigger_scale());
  CHECK(calibration.fitted_trigger_scale() == latest_only.fitted_trigger_scale());
  // The groups survive a checkpoint: stage 0's frames stay after more of stage 1.
  OnlineCalibration restored(2, 3);
  restored.restore(nlohmann::json::parse(calibration.to_json().dump()));
  restored.add(frame(rng, 100, 0.0, 4.0, 0.08, 0.12), 1);
  CHECK(restored.frames() == 6);
  // A checkpoint without groups (written before them): its frames are one
  // group that later frames do not push out.
  nlohmann::json old = calibration.to_json();
  for (auto& f : old) f.erase("group");
  restored.restore(old);
  restored.add(frame(rng, 100, 0.0, 4.0, 0.08, 0.12), 1);
  CHECK(restored.frames() == 7);
}

}  // namespace

TEST_CASE("online calibration: the neighbours' stds come from the stds the sample holds",
          "[otf][calibration]") {
  // A small Si model (SW labels) and a frame it has not seen.
  auto sw = make_potential("sw:/usr/share/lammps/potentials/Si.sw");
  std::vector<Structure> frames;
  for (int k = 0; k < 2; ++k) {
    Structure s = testing::diamond(14, 5.431, 1);
    testing::rattle(s, 0.1, 20 + static_cast<std::uint64_t>(k));
    attach_labels(s, evaluate(*sw, s));
    frames.push_back(s);
  }
  B2Settings settings;
  settings.species = {14};
  settings.n_max = 4;
  settings.l_max = 2;
  settings.cutoff = 4.0;
  GpTrainingSettings training;
  training.sparse = {SparseSelectionMethod::uncertain, 4};
  training.hyperparameters = {2.0, 0.001, 0.03, 0.0005};
  training.optimize_hyperparameters = false;
  const SparseGp gp =
      train_sparse_gp(std::make_shared<B2Descriptor>(settings),
                      std::make_shared<NormalizedDotProductKernel>(2), {frames[0]}, training);
  const Structure& frame = frames[1];
  const DescriptorValues values = gp.describe(frame, true);
  const auto stored = [](const OnlineCalibration& c, const char* key) {
    return c.to_json().at(0).at(key).get<std::vector<double>>();
  };
  const auto neighbours = [&](const std::vector<double>& n) {
    const Eigen::VectorXd v = neighbour_energy_std(
        values, Eigen::Map<const Eigen::VectorXd>(n.data(), Eigen::Index(n.size())),
        gp.descriptor());
    return std::vector<double>(v.data(), v.data() + v.size());
  };
  // The model's own normalised stds (the prior's, 1, at least for a novel atom).
  OnlineCalibration exact(5, 5);
  exact.test(gp, frame, values);
  const std::vector<double> n = stored(exact, "energy_std");
  const Eigen::VectorXd model_std = gp.atom_std(values), novel = gp.novel_atoms(values, 0.05);
  REQUIRE(n.size() == std::size_t(frame.size()));
  for (int i = 0; i < frame.size(); ++i)
    CHECK(n[i] == Approx(novel[i] > 0 ? std::max(model_std[i], 1.0) : model_std[i]).epsilon(1e-12));
  const std::vector<double> v = stored(exact, "neighbour_std"), expected = neighbours(n);
  for (int i = 0; i < frame.size(); ++i) CHECK(v[i] == Approx(expected[i]).epsilon(1e-12));
  // A trigger's stds (here: halved, and one atom raised) replace them, and the
  // neighbours' stds are those of the trigger's.
  Eigen::VectorXd trigger = 0.5 * model_std;
  trigger[3] = 1.0;
  OnlineCalibration truncated(5, 5);
  truncated.test(gp, frame, values, 0, &trigger);
  const std::vector<double> nt = stored(truncated, "energy_std");
  CHECK(nt == std::vector<double>(trigger.data(), trigger.data() + trigger.size()));
  CHECK(stored(truncated, "neighbour_std") == neighbours(nt));
  CHECK(stored(truncated, "neighbour_std") != neighbours(n));
  // The force errors do not depend on which stds were used.
  CHECK(stored(truncated, "force_norm") == stored(exact, "force_norm"));
  Eigen::VectorXd short_trigger = trigger.head(3);
  CHECK_THROWS_WITH(truncated.test(gp, frame, values, 0, &short_trigger),
                    Catch::Contains("3 trigger stds for a frame of 8 atoms"));
}
