// The relaxation stepper: rounds of advance() walk the same path as one call,
// a state saved to a file resumes exactly, and every step reports forces,
// stress and enthalpy consistently.

#include <catch2/catch.hpp>

#include <cmath>

#include <Kokkos_Core.hpp>

#include "otfgp/analysis/relax.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/potentials/potential.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;

namespace {

Structure strained_silicon() {
  Structure start = testing::diamond(14, 5.3, 1);
  Eigen::Matrix3d strain = Eigen::Matrix3d::Identity();
  strain(0, 1) = 0.05;
  strain(2, 2) = 1.04;
  start.cell = start.cell * strain;
  start.positions = start.positions * strain;
  testing::rattle(start, 0.1, 7);
  return start;
}

}  // namespace

TEST_CASE("advancing in rounds or resuming from a file follows the uninterrupted path", "[relax]") {
  auto potential = make_potential("sw:/usr/share/lammps/potentials/Si.sw");
  testing::TemporaryDirectory directory;
  for (const auto algorithm : {RelaxAlgorithm::fire, RelaxAlgorithm::lbfgs}) {
    INFO(relax_algorithm_name(algorithm));
    RelaxOptions options;
    options.algorithm = algorithm;
    options.relax_cell = true;
    options.pressure_gpa = 5.0;
    options.max_steps = 400;
    const RelaxResult whole = relax(*potential, strained_silicon(), options);
    REQUIRE(whole.converged);
    REQUIRE(whole.steps > 12);

    Relaxer rounds(*potential, strained_silicon(), options);
    int taken = 0;
    while (!rounds.finished()) taken += rounds.advance(3);
    CHECK(taken == whole.steps);
    CHECK(rounds.steps() == whole.steps);
    CHECK(rounds.result().enthalpy == whole.enthalpy);
    CHECK(rounds.result().structure.positions == whole.structure.positions);

    // Stop after 10 steps, save, resume from the file in a new object.
    const auto file = directory.path() / ("state_" + relax_algorithm_name(algorithm) + ".json");
    {
      Relaxer first(*potential, strained_silicon(), options);
      CHECK(first.advance(10) == 10);
      first.save(file);
    }
    Relaxer resumed = Relaxer::load(*potential, file, options);
    CHECK(resumed.steps() == 10);
    resumed.advance(1000);
    CHECK(resumed.steps() == whole.steps);
    CHECK(resumed.evaluations() == whole.evaluations);
    CHECK(resumed.result().enthalpy == whole.enthalpy);
    CHECK(resumed.result().structure.cell == whole.structure.cell);

    RelaxOptions other = options;
    other.algorithm =
        algorithm == RelaxAlgorithm::fire ? RelaxAlgorithm::lbfgs : RelaxAlgorithm::fire;
    CHECK_THROWS_AS(Relaxer::load(*potential, file, other), Error);
  }
}

TEST_CASE("each step reports energy, enthalpy, mean and max force and stress", "[relax]") {
  auto potential = make_potential("sw:/usr/share/lammps/potentials/Si.sw");
  RelaxOptions options;
  options.relax_cell = true;
  options.pressure_gpa = 10.0;
  int reports = 0;
  options.observer = [&](const RelaxStep& step) {
    ++reports;
    const Structure& s = *step.structure;
    REQUIRE(s.forces);
    REQUIRE(s.stress);
    double largest = 0, sum = 0;
    for (int i = 0; i < s.size(); ++i) {
      largest = std::max(largest, s.forces->row(i).norm());
      sum += s.forces->row(i).norm();
    }
    CHECK(step.max_force == Approx(largest));
    CHECK(step.mean_force == Approx(sum / s.size()));
    CHECK(step.volume == Approx(s.volume()));
    CHECK(step.enthalpy == Approx(step.energy + 10.0 * units::gpa_in_ev_per_a3 * s.volume()));
    const Voigt& sigma = *s.stress;
    double raw = 0, deviation = 0;
    for (int k = 0; k < 6; ++k) {
      raw += std::abs(sigma[k]) * units::ev_per_a3_in_gpa;
      deviation += std::abs(sigma[k] * units::ev_per_a3_in_gpa + (k < 3 ? 10.0 : 0.0));
    }
    CHECK(step.mean_stress == Approx(raw / 6));
    CHECK(step.mean_stress_deviation == Approx(deviation / 6));
    CHECK(step.pressure == Approx(-(sigma[0] + sigma[1] + sigma[2]) / 3 * units::ev_per_a3_in_gpa));
    CHECK_FALSE(step.extrapolation);  // Stillinger–Weber has none
  };
  const RelaxResult result = relax(*potential, strained_silicon(), options);
  CHECK(result.converged);
  CHECK(reports == result.steps + 1);
  CHECK(result.pressure == Approx(10.0).margin(0.01));
}

namespace {

// Lennard-Jones argon that also reports a per-atom "uncertainty" (0.1 × the
// atom's index; normalised 0.25 × it; the last atom novel; a force std of
// 0.02 × it against a force noise of 0.01) and counts how often it is bound.
class CountingPotential final : public Potential {
 public:
  CountingPotential() : inner_(make_potential("lj:eps=0.0104,sigma=3.4,rc=8.5")) {}
  std::string spec() const override { return "counting"; }
  double cutoff() const override { return inner_->cutoff(); }
  std::vector<int> elements() const override { return {}; }
  void bind(const std::vector<int>& species) override {
    ++binds;
    inner_->bind(species);
  }
  ComputeResult compute(AtomState& state, const NeighborList& list,
                        const ComputeRequest& request) override {
    ++computes;
    ComputeResult result = inner_->compute(state, list, request);
    if (request.uncertainty) {
      result.uncertainty = ScalarView("CountingPotential::uncertainty", state.natoms);
      auto host = Kokkos::create_mirror_view(result.uncertainty);
      for (int i = 0; i < state.natoms; ++i) host(i) = 0.1 * i;
      Kokkos::deep_copy(result.uncertainty, host);
      result.uncertainty_normalised = ScalarView("CountingPotential::normalised", state.natoms);
      result.novel = ScalarView("CountingPotential::novel", state.natoms);
      auto normalised = Kokkos::create_mirror_view(result.uncertainty_normalised);
      auto novel = Kokkos::create_mirror_view(result.novel);
      for (int i = 0; i < state.natoms; ++i) {
        normalised(i) = 0.25 * i;
        novel(i) = i == state.natoms - 1 ? 1.0 : 0.0;
      }
      Kokkos::deep_copy(result.uncertainty_normalised, normalised);
      Kokkos::deep_copy(result.novel, novel);
      result.force_uncertainty = ScalarView("CountingPotential::force_std", state.natoms);
      auto force_std = Kokkos::create_mirror_view(result.force_uncertainty);
      for (int i = 0; i < state.natoms; ++i) force_std(i) = 0.02 * i;
      Kokkos::deep_copy(result.force_uncertainty, force_std);
    }
    return result;
  }
  bool provides_uncertainty() const override { return true; }
  std::optional<double> force_noise() const override { return 0.01; }
  int binds = 0, computes = 0;

 private:
  std::unique_ptr<Potential> inner_;
};

}  // namespace

TEST_CASE("the stepper binds once per round and reports the uncertainty", "[relax]") {
  CountingPotential potential;
  Structure start = testing::fcc(18, 5.4, 1);
  testing::rattle(start, 0.1, 3);
  RelaxOptions options;
  options.force_tolerance = 1e-6;
  options.max_steps = 30;
  Relaxer relaxer(potential, start, options);
  CHECK(potential.binds == 1);
  CHECK(relaxer.advance(10) == 10);
  CHECK(relaxer.advance(10) == 10);
  CHECK(potential.binds == 3);  // construction + two rounds, not one per step
  CHECK(potential.computes == relaxer.evaluations());
  const RelaxStep& step = relaxer.current();
  REQUIRE(step.extrapolation);
  CHECK(step.extrapolation->max_uncertainty == Approx(0.3));  // 4 atoms: 0, 0.1, 0.2, 0.3
  CHECK(step.extrapolation->max_uncertainty_normalised == Approx(0.75));
  CHECK(step.extrapolation->novel_atoms == 1);
  CHECK(*step.mean_uncertainty == Approx(0.15));
  const RelaxResult result = relaxer.result();
  REQUIRE(result.extrapolation);
  CHECK(result.extrapolation->novel_atoms == 1);
  CHECK(result.extrapolation->max_force_std == Approx(0.06));
  CHECK(result.extrapolation->force_noise == 0.01);
  CHECK(describe(*result.extrapolation, 4) ==
        "max std 0.3 eV (0.75 σ), 1 of 4 atoms novel, max force std 0.06 eV/Å (6 σ_f)");
  CHECK(label_marker(result.extrapolation) == "[1 novel atom, force std 6 σ_f]");
}

TEST_CASE("a force std above twice the force noise is what the model would label", "[relax]") {
  // The on-the-fly loop's default rule (otf.std_threshold_relative 2): 2 σ_f
  // itself is not above it, a hair more is; without σ_f or a force std the
  // rule has nothing to judge.
  const auto with = [](std::optional<double> force_std, std::optional<double> noise) {
    return std::optional<Extrapolation>(Extrapolation{0.1, 0.05, 0, force_std, noise});
  };
  CHECK_FALSE(needs_label(with(0.02, 0.01)));
  CHECK(needs_label(with(0.0201, 0.01)));
  CHECK(has_uncertain_forces(with(0.0201, 0.01)));
  CHECK_FALSE(has_novel_atoms(with(0.0201, 0.01)));
  CHECK(label_marker(with(0.5, 0.01)) == "[force std 50 σ_f]");
  CHECK(label_marker(with(0.020001, 0.01)) == "[force std 2.0001 σ_f]");  // not "2"
  CHECK_FALSE(needs_label(with(0.5, std::nullopt)));
  CHECK_FALSE(needs_label(with(std::nullopt, 0.01)));
  CHECK_FALSE(needs_label(std::nullopt));
  CHECK(label_marker(with(0.02, 0.01)).empty());
  CHECK(describe(*with(0.5, std::nullopt), 8) ==
        "max std 0.1 eV (0.05 σ), 0 of 8 atoms novel, max force std 0.5 eV/Å");
}
