// Relaxation: FIRE and L-BFGS on positions and cell, fixed cell or at a target
// pressure, with the Lennard-Jones potential (and Stillinger–Weber Si when that
// potential is registered).

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "otfgp/analysis/relax.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "otfgp/potentials/potential.hpp"
#include "support/structures.hpp"

using namespace otfgp;

namespace {

const char* argon = "lj:eps=0.0104,sigma=3.4,rc=8.5";

// The lattice constant a in [low, high] minimising H(a) = E(a) + P·a³ of one
// conventional cubic cell, by golden section: an independent reference for
// what a free-cell relaxation must reach.
template <class Crystal>
double cubic_lattice_constant(Potential& potential, Crystal crystal, double pressure_gpa,
                              double low, double high) {
  const double pressure = pressure_gpa * units::gpa_in_ev_per_a3;
  auto enthalpy = [&](double a) {
    return evaluate(potential, crystal(a)).energy + pressure * a * a * a;
  };
  const double ratio = (std::sqrt(5.0) - 1) / 2;
  while (high - low > 1e-9) {
    const double left = high - ratio * (high - low), right = low + ratio * (high - low);
    if (enthalpy(left) < enthalpy(right))
      high = right;
    else
      low = left;
  }
  return 0.5 * (low + high);
}

double argon_lattice_constant(Potential& potential, double pressure_gpa) {
  return cubic_lattice_constant(
      potential, [](double a) { return testing::fcc(18, a, 1); }, pressure_gpa, 4.5, 6.0);
}

}  // namespace

TEST_CASE("fixed-cell relaxation brings rattled fcc argon back to the perfect lattice", "[relax]") {
  auto potential = make_potential(argon);
  const Structure perfect = testing::fcc(18, 5.3, 2);
  const double perfect_energy = evaluate(*potential, perfect).energy;
  for (const auto algorithm : {RelaxAlgorithm::fire, RelaxAlgorithm::lbfgs}) {
    INFO(relax_algorithm_name(algorithm));
    Structure rattled = perfect;
    testing::rattle(rattled, 0.15, 11);
    RelaxOptions options;
    options.algorithm = algorithm;
    options.force_tolerance = 1e-4;
    int observed = 0;
    options.observer = [&](const RelaxStep& step) {
      CHECK(step.step == observed);
      ++observed;
    };
    const RelaxResult result = relax(*potential, rattled, options);
    CHECK(result.converged);
    CHECK(result.max_force < 1e-4);
    CHECK(observed == result.steps + 1);
    CHECK(result.energy == Approx(perfect_energy).epsilon(1e-6));
    CHECK(result.structure.cell.isApprox(perfect.cell));
    CHECK(result.structure.energy == Approx(result.energy));
  }
}

TEST_CASE("free-cell relaxation reaches the target pressure and the enthalpy minimum", "[relax]") {
  auto potential = make_potential(argon);
  for (const double pressure : {0.0, 1.0}) {
    const double reference = argon_lattice_constant(*potential, pressure);
    for (const auto algorithm : {RelaxAlgorithm::fire, RelaxAlgorithm::lbfgs}) {
      INFO(relax_algorithm_name(algorithm) << " at " << pressure << " GPa");
      // A sheared, stretched, rattled start: the cell has to change shape.
      Structure start = testing::fcc(18, 5.5, 1);
      Eigen::Matrix3d strain = Eigen::Matrix3d::Identity();
      strain(0, 1) = 0.04;
      strain(2, 2) = 1.03;
      start.cell = start.cell * strain;
      start.positions = start.positions * strain;
      testing::rattle(start, 0.05, 3);
      RelaxOptions options;
      options.algorithm = algorithm;
      options.relax_cell = true;
      options.pressure_gpa = pressure;
      options.force_tolerance = 1e-4;
      options.stress_tolerance = 1e-5;
      const RelaxResult result = relax(*potential, start, options);
      CHECK(result.converged);
      CHECK(result.pressure == Approx(pressure).margin(1e-4));
      CHECK(result.max_stress_deviation < 1e-5);
      // Cubic again, up to a rotation: the metric h·hᵀ is a²·I.
      const Eigen::Matrix3d metric = result.structure.cell * result.structure.cell.transpose();
      INFO(metric);
      CHECK(metric.isApprox(reference * reference * Eigen::Matrix3d::Identity(), 1e-4));
      CHECK(std::cbrt(result.structure.volume()) == Approx(reference).epsilon(1e-5));
      const double volume = result.structure.volume();
      CHECK(result.enthalpy == Approx(result.energy + pressure * units::gpa_in_ev_per_a3 * volume));
    }
  }
}

TEST_CASE("relaxation stops at the step limit and rejects impossible requests", "[relax]") {
  auto potential = make_potential(argon);
  Structure rattled = testing::fcc(18, 5.3, 2);
  testing::rattle(rattled, 0.2, 5);
  RelaxOptions options;
  options.max_steps = 3;
  options.force_tolerance = 1e-6;
  const RelaxResult limited = relax(*potential, rattled, options);
  CHECK_FALSE(limited.converged);
  CHECK(limited.steps == 3);

  Structure molecule = testing::fcc(18, 5.3, 1);
  molecule.pbc = {false, false, false};
  options.relax_cell = true;
  CHECK_THROWS_AS(relax(*potential, molecule, options), Error);
  CHECK_THROWS_AS(parse_relax_algorithm("bfgs"), Error);
  // hull --relax-with, otf relax stages and search relax through here too.
  options.pressure_gpa = 1e5;
  CHECK_THROWS_WITH(
      relax(*potential, rattled, options),
      Catch::Contains("relax: the target pressure 100000 GPa is not below ±10000 GPa"));
}

TEST_CASE("Stillinger-Weber Si diamond relaxed at 10 GPa ends at the target pressure", "[relax]") {
  auto potential = make_potential("sw:/usr/share/lammps/potentials/Si.sw");
  const double reference = cubic_lattice_constant(
      *potential, [](double a) { return testing::diamond(14, a, 1); }, 10.0, 5.0, 5.6);
  for (const auto algorithm : {RelaxAlgorithm::fire, RelaxAlgorithm::lbfgs}) {
    INFO(relax_algorithm_name(algorithm));
    Structure start = testing::diamond(14, 5.431, 1);
    testing::rattle(start, 0.05, 1);
    RelaxOptions options;
    options.algorithm = algorithm;
    options.relax_cell = true;
    options.pressure_gpa = 10.0;
    const RelaxResult result = relax(*potential, start, options);
    CHECK(result.converged);
    CHECK(result.pressure == Approx(10.0).margin(0.01));
    CHECK(result.max_force < options.force_tolerance);
    CHECK(std::cbrt(result.structure.volume()) == Approx(reference).epsilon(1e-4));
  }
}
