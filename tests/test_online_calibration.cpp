// The on-the-fly force-std calibration: it recovers the scale of errors drawn
// with a known law, keeps only its window, waits for its minimum of frames and
// survives a checkpoint round trip exactly.

#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "otfgp/core/error.hpp"
#include "otfgp/otf/online_calibration.hpp"

using namespace otfgp;
using namespace otfgp::otf;

namespace {

// One frame of `atoms` atoms whose force errors are N(0, (a u)² + b²) per component.
ForceErrorSample frame(std::mt19937_64& rng, int atoms, double a, double b) {
  std::uniform_real_distribution<double> u_draw(0.01, 0.2);
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
  CHECK(c.energy_scale == Approx(2.0).epsilon(0.1));
  CHECK(calibration.trigger_scale() == Approx(2.0).epsilon(0.1));
  CHECK(c.coverage_2 == Approx(0.954).margin(0.03));
  // The window forgets: after frames drawn with a = 6 the fit follows them.
  for (int k = 0; k < 3; ++k) calibration.add(frame(rng, 200, 6.0, 0.01));
  CHECK(calibration.calibration().energy_scale == Approx(6.0).epsilon(0.1));
  CHECK(calibration.trigger_scale() == Approx(6.0).epsilon(0.1));

  OnlineCalibration restored(2, 3);
  restored.restore(nlohmann::json::parse(calibration.to_json().dump()));
  CHECK(restored.frames() == 3);
  CHECK(restored.calibration().energy_scale == calibration.calibration().energy_scale);
  CHECK(restored.calibration().floor == calibration.calibration().floor);
  CHECK(restored.calibration().relative == calibration.calibration().relative);
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

}  // namespace
