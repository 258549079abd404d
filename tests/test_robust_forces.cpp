// Robust force weights: Huber noise scales from a frame's per-atom force errors.

#include <catch2/catch.hpp>
#include <cmath>

#include "otfgp/core/structure.hpp"
#include "otfgp/gp/robust_forces.hpp"

using namespace otfgp;

TEST_CASE("robust force weights: only atoms missed far beyond the frame's median get a scale",
          "[robust_forces]") {
  Positions labels = Positions::Zero(11, 3);
  Positions predicted = Positions::Zero(11, 3);
  for (int i = 0; i < 11; ++i) predicted(i, 0) = 0.1 + 0.001 * i;  // errors 0.100 … 0.110
  predicted(4, 1) = 5.0;                                           // atom 4: |error| ≈ 5.001
  const auto atom_error = [&] { return Eigen::VectorXd((labels - predicted).rowwise().norm()); };
  const double median = 0.106;  // the 6th of the 11 sorted errors
  std::vector<double> scales = robust_force_noise_scales(atom_error(), 10.0, 0.01);
  REQUIRE(scales.size() == 11);
  const double error = std::hypot(0.104, 5.0);
  CHECK(scales[4] == Approx(std::sqrt(error / (10.0 * median))));
  for (int i = 0; i < 11; ++i)
    if (i != 4) CHECK(scales[i] == 1.0);
  // The Huber weight: the atom pulls as an error of the threshold would.
  CHECK(error / (scales[4] * scales[4]) == Approx(10.0 * median));

  // A force noise above the median sets the threshold (√3 σ_f per atom): here
  // 10 × √3 × 0.3 = 5.2 > 5.001, so no atom is scaled.
  CHECK(robust_force_noise_scales(atom_error(), 10.0, 0.3).empty());
  // A lower factor scales it again; no outlier, no scales.
  CHECK(robust_force_noise_scales(atom_error(), 3.0, 0.3).size() == 11);
  predicted(4, 1) = 0.0;
  CHECK(robust_force_noise_scales(atom_error(), 10.0, 0.01).empty());
  CHECK(robust_force_noise_scales(Eigen::VectorXd(), 10.0, 0.01).empty());

  CHECK_THROWS(robust_force_noise_scales(atom_error(), 1.0, 0.01));
  CHECK_THROWS(robust_force_noise_scales(atom_error(), 10.0, 0.0));
}
