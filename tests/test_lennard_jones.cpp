#include <catch2/catch.hpp>

#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/potentials/potential.hpp"
#include "support/checks.hpp"
#include "support/structures.hpp"

using namespace otfgp;
using namespace otfgp::testing;

namespace {
const std::string spec = "lj:eps=0.0104,sigma=3.4,rc=8.5";
const std::string mixed =
    "lj:eps=0.0104,sigma=3.4,rc=7.0,eps.Ar-Kr=0.0125,sigma.Ar-Kr=3.55,eps.Kr-Kr=0.0141,sigma.Kr-Kr="
    "3.65";
}  // namespace

TEST_CASE("Lennard-Jones forces and stress are derivatives of the energy", "[lj]") {
  auto potential = make_potential(spec);
  check_derivatives(*potential, random_structure(Eigen::Matrix3d::Identity() * 11,
                                                 std::vector<int>(24, 18), 2.8, 1));
  check_derivatives(*potential, random_structure(triclinic_cell(10, 9, 9.5, 0.45, -0.4, 0.35),
                                                 std::vector<int>(20, 18), 2.8, 2));
}

TEST_CASE("Lennard-Jones matches LAMMPS lj/cut with shift", "[lj][lammps]") {
  auto potential = make_potential(spec);
  LammpsSetup setup{{"pair_style lj/cut 8.5", "pair_coeff * * 0.0104 3.4", "pair_modify shift yes"},
                    {}};
  check_lammps_parity(*potential,
                      random_structure(triclinic_cell(12, 11, 13, 0.2, -0.3, 0.25),
                                       std::vector<int>(40, 18), 3.0, 3),
                      setup);
  // Cell shorter than twice the cutoff: many images.
  check_lammps_parity(*potential,
                      random_structure(triclinic_cell(6.5, 7, 6.8, 0.3, 0.1, -0.2),
                                       std::vector<int>(6, 18), 3.0, 4),
                      setup);
}

TEST_CASE("multi-species Lennard-Jones with per-pair parameters matches LAMMPS", "[lj][lammps]") {
  auto potential = make_potential(mixed);
  std::vector<int> numbers(24, 18);
  for (int i = 0; i < 24; i += 2) numbers[i] = 36;
  const Structure s =
      random_structure(triclinic_cell(11, 10, 10.5, -0.3, 0.2, 0.4), numbers, 2.8, 5);
  LammpsSetup setup{
      {"pair_style lj/cut 7.0", "pair_coeff 1 1 0.0104 3.4", "pair_coeff 1 2 0.0125 3.55",
       "pair_coeff 2 2 0.0141 3.65", "pair_modify shift yes"},
      {}};
  check_lammps_parity(*potential, s, setup);
  check_derivatives(*potential, s);
}

TEST_CASE("Lennard-Jones spec errors name the key", "[lj]") {
  REQUIRE_THROWS_WITH(make_potential("lj:eps=0.01,sigma=3.4"), Catch::Contains("rc"));
  REQUIRE_THROWS_WITH(make_potential("lj:eps=0.01,sigma=3.4,rc=8,sgima=3"),
                      Catch::Contains("sgima"));
  REQUIRE_THROWS_WITH(make_potential("lj:eps=abc,sigma=3.4,rc=8"), Catch::Contains("eps"));
  REQUIRE_THROWS_WITH(make_potential("ljx:eps=1"), Catch::Contains("unknown potential"));
}
