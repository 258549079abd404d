#include <catch2/catch.hpp>

#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "otfgp/potentials/zbl.hpp"
#include "support/checks.hpp"
#include "support/structures.hpp"

using namespace otfgp;
using namespace otfgp::testing;

namespace {

// O and Si at random, no two closer than 0.9 Å: many pairs inside and across the switch.
Structure oxide(std::uint64_t seed) {
  return random_structure(triclinic_cell(7.5, 7.0, 7.2, 0.2, -0.1, 0.15), alternating(40, 8, 14),
                          0.9, seed);
}

}  // namespace

TEST_CASE("ZBL matches LAMMPS pair_style zbl", "[zbl][lammps]") {
  auto potential = make_potential("zbl:inner=1.2,outer=2.4");
  const LammpsSetup setup{{"pair_style zbl 1.2 2.4", "pair_coeff 1 1 8 8", "pair_coeff 1 2 8 14",
                           "pair_coeff 2 2 14 14"},
                          {}};
  check_lammps_parity(*potential, oxide(1), setup);
  check_lammps_parity(*potential, oxide(2), setup);
}

TEST_CASE("ZBL forces and stress are derivatives of the energy, inside and across the switch",
          "[zbl]") {
  auto potential = make_potential("zbl:inner=1.2,outer=2.4");
  check_derivatives(*potential, oxide(3));
  // One outer distance per pair of elements, as the GP potentials use it.
  Eigen::MatrixXd outer(2, 2);
  outer << 2.0, 2.4, 2.4, 2.8;
  auto per_pair = make_zbl_repulsion({8, 14}, outer, 0.8);
  check_derivatives(*per_pair, oxide(4));
}

TEST_CASE("ZBL per pair: each pair switched on its own range; equal ranges give the spec's",
          "[zbl]") {
  const Structure s = oxide(5);
  auto global = make_potential("zbl:inner=1.6,outer=2.0");
  auto same = make_zbl_repulsion({8, 14}, Eigen::MatrixXd::Constant(2, 2, 2.0), 0.8);
  const Evaluation a = evaluate(*global, s), b = evaluate(*same, s);
  CHECK(a.energy > 0.0);
  CHECK(b.energy == Approx(a.energy).epsilon(1e-14));
  CHECK((a.forces - b.forces).cwiseAbs().maxCoeff() <= 1e-12 * a.forces.cwiseAbs().maxCoeff());

  // Only O–O switched on (1.9 Å): the energy is the O–O pairs' alone, by hand.
  Eigen::MatrixXd outer = Eigen::MatrixXd::Constant(2, 2, 0.1);
  outer(0, 0) = 1.9;
  auto oxygen = make_zbl_repulsion({8, 14}, outer, 0.8);
  auto oxygen_only = make_potential("zbl:inner=1.52,outer=1.9");
  Structure only_o = s;
  only_o.numbers.clear();
  only_o.positions.resize(0, 3);
  for (int i = 0; i < s.size(); ++i)
    if (s.numbers[i] == 8) {
      only_o.positions.conservativeResize(only_o.positions.rows() + 1, 3);
      only_o.positions.row(only_o.positions.rows() - 1) = s.positions.row(i);
      only_o.numbers.push_back(8);
    }
  const double expected = evaluate(*oxygen_only, only_o).energy;
  REQUIRE(expected > 0.0);
  CHECK(evaluate(*oxygen, s).energy == Approx(expected).epsilon(1e-12));
}

TEST_CASE("ZBL: energy zero from the outer distance on, repulsive and rising inside", "[zbl]") {
  auto potential = make_potential("zbl:inner=1.0,outer=2.0");
  auto dimer = [&](double r) {
    Structure s;
    s.cell = Eigen::Matrix3d::Identity() * 20.0;
    s.positions = Eigen::MatrixXd::Zero(2, 3);
    s.positions(1, 0) = r;
    s.numbers = {8, 45};
    return evaluate(*potential, s);
  };
  CHECK(dimer(2.0).energy == 0.0);
  CHECK(dimer(2.5).energy == 0.0);
  double previous = 0.0;
  for (double r : {1.9, 1.5, 1.0, 0.7, 0.5}) {
    const Evaluation e = dimer(r);
    INFO("r = " << r);
    CHECK(e.energy > previous);
    CHECK(e.forces(1, 0) > 0.0);  // the second atom is pushed away
    previous = e.energy;
  }
}

TEST_CASE("ZBL spec errors name the problem", "[zbl]") {
  REQUIRE_THROWS_WITH(make_potential("zbl:inner=1.2"), Catch::Contains("outer"));
  REQUIRE_THROWS_WITH(make_potential("zbl:inner=2,outer=1"), Catch::Contains("inner < outer"));
  REQUIRE_THROWS_WITH(make_potential("zbl:inner=1,outer=2,cut=3"), Catch::Contains("cut"));
  REQUIRE_THROWS_WITH(make_zbl_repulsion({8}, Eigen::MatrixXd::Constant(2, 2, 1.0), 0.8),
                      Catch::Contains("one outer distance per pair"));
  REQUIRE_THROWS_WITH(make_zbl_repulsion({8}, Eigen::MatrixXd::Constant(1, 1, 1.0), 1.0),
                      Catch::Contains("inner fraction"));
}
