#include <catch2/catch.hpp>

#include "otfgp/core/units.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "otfgp/potentials/potential.hpp"
#include "support/checks.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::testing;

namespace {

constexpr int sodium = 11, chlorine = 17, oxygen = 8, rhodium = 45, barium = 56;

// The shipped files' parameters written as LAMMPS commands (types in ascending Z).
LammpsSetup nacl_lammps(double alpha = 0.25, double cutoff = 12.0) {
  const std::string style = "pair_style hybrid/overlay buck " + std::to_string(cutoff) +
                            " coul/dsf " + std::to_string(alpha) + " " + std::to_string(cutoff);
  return {
      {style, "pair_coeff * * coul/dsf", "pair_coeff 1 1 buck 423.5936 0.317 1.0486",
       "pair_coeff 1 2 buck 1254.8599 0.317 6.9905", "pair_coeff 2 2 buck 3485.0771 0.317 72.4015"},
      {{sodium, 1.0}, {chlorine, -1.0}}};
}

LammpsSetup barho_lammps() {
  return {{"pair_style hybrid/overlay buck 12.0 coul/dsf 0.25 12.0", "pair_coeff * * coul/dsf",
           "pair_coeff 1 1 buck 22764.0 0.149 27.88", "pair_coeff 1 2 buck 754.2 0.3879 0.0",
           "pair_coeff 1 3 buck 931.7 0.3949 0.0"},
          {{oxygen, -2.0}, {rhodium, 4.0}, {barium, 2.0}}};
}

Structure rocksalt(int cation, int anion, double a) {
  Structure s;
  s.cell = Eigen::Matrix3d::Identity() * a;
  const double sites[8][3] = {{0, 0, 0},    {0, .5, .5}, {.5, 0, .5}, {.5, .5, 0},
                              {.5, .5, .5}, {.5, 0, 0},  {0, .5, 0},  {0, 0, .5}};
  s.positions.resize(8, 3);
  for (int i = 0; i < 8; ++i) {
    s.positions.row(i) = Eigen::RowVector3d(sites[i][0], sites[i][1], sites[i][2]) * a;
    s.numbers.push_back(i < 4 ? cation : anion);
  }
  return s;
}

Structure perovskite(double a) {
  Structure s;
  s.cell = Eigen::Matrix3d::Identity() * a;
  s.positions.resize(5, 3);
  s.positions << 0, 0, 0, .5, .5, .5, .5, .5, 0, .5, 0, .5, 0, .5, .5;
  s.positions *= a;
  s.numbers = {barium, rhodium, oxygen, oxygen, oxygen};
  return s;
}

// Ba_n Rh_n O_3n, charge neutral, at random in a skewed cell.
Structure random_barho(const Eigen::Matrix3d& cell, int formula_units, std::uint64_t seed) {
  std::vector<int> numbers;
  for (int k = 0; k < formula_units; ++k)
    numbers.insert(numbers.end(), {barium, rhodium, oxygen, oxygen, oxygen});
  return random_structure(cell, numbers, 1.8, seed);
}

Structure random_nacl(const Eigen::Matrix3d& cell, int pairs, std::uint64_t seed) {
  std::vector<int> numbers;
  for (int k = 0; k < pairs; ++k) numbers.insert(numbers.end(), {sodium, chlorine});
  return random_structure(cell, numbers, 2.2, seed);
}

double max_abs_stress_gpa(const Evaluation& evaluation) {
  return evaluation.stress->cwiseAbs().maxCoeff() * units::ev_per_a3_in_gpa;
}

}  // namespace

TEST_CASE("Buckingham + DSF Coulomb forces and stress are derivatives of the energy", "[buck]") {
  SECTION("rattled rocksalt NaCl, cubic cell") {
    auto potential = make_potential("buck:NaCl.buck");
    Structure s = rocksalt(sodium, chlorine, 5.64);
    rattle(s, 0.2, 41);
    check_derivatives(*potential, s);
  }
  SECTION("Ba-Rh-O in a strongly skewed cell, shorter cutoff") {
    auto potential = make_potential("buck:" + std::string(OTFGP_SOURCE_DIR) +
                                    "/potentials/params/BaRhO.buck,alpha=0.3,cutoff=8");
    check_derivatives(*potential,
                      random_barho(triclinic_cell(7.2, 6.9, 7.5, 0.5, -0.4, 0.45), 4, 42));
  }
  SECTION("separate Coulomb and Buckingham cutoffs") {
    auto potential = make_potential("buck:BaRhO.buck,coulomb_cutoff=9,buckingham_cutoff=6");
    check_derivatives(*potential,
                      random_barho(triclinic_cell(6.8, 7.1, 7.0, -0.45, 0.3, -0.4), 4, 43));
  }
}

TEST_CASE("buck matches LAMMPS hybrid/overlay buck + coul/dsf", "[buck][lammps]") {
  SECTION("NaCl, random ions, cell smaller than twice the cutoff") {
    auto potential = make_potential("buck:NaCl.buck,erfc=lammps");
    check_lammps_parity(*potential,
                        random_nacl(triclinic_cell(9.5, 9, 10, 0.3, -0.25, 0.2), 12, 51),
                        nacl_lammps());
  }
  SECTION("NaCl with alpha and cutoff from the spec") {
    auto potential = make_potential("buck:NaCl.buck,alpha=0.2,cutoff=9,erfc=lammps");
    check_lammps_parity(*potential, random_nacl(triclinic_cell(8.5, 9, 8, -0.3, 0.2, 0.3), 10, 52),
                        nacl_lammps(0.2, 9.0));
  }
  SECTION("Ba-Rh-O, random ions in a skewed cell") {
    auto potential = make_potential("buck:BaRhO.buck,erfc=lammps");
    check_lammps_parity(*potential,
                        random_barho(triclinic_cell(7.6, 7.2, 7.9, 0.35, -0.3, 0.25), 4, 53),
                        barho_lammps());
  }
  SECTION("Ba-Rh-O, perovskite cell of 5 atoms (every pair meets hundreds of images)") {
    auto potential = make_potential("buck:BaRhO.buck,erfc=lammps");
    Structure s = perovskite(4.09);
    rattle(s, 0.1, 54);
    check_lammps_parity(*potential, s, barho_lammps());
  }
}

TEST_CASE("exact erfc and LAMMPS's polynomial erfc differ by little", "[buck]") {
  auto exact = make_potential("buck:BaRhO.buck");
  auto lammps = make_potential("buck:BaRhO.buck,erfc=lammps");
  const Structure s = random_barho(triclinic_cell(7.6, 7.2, 7.9, 0.35, -0.3, 0.25), 4, 53);
  const Evaluation a = evaluate(*exact, s), b = evaluate(*lammps, s);
  const double energy_per_atom = std::abs(a.energy - b.energy) / s.size();
  const double force = (a.forces - b.forces).cwiseAbs().maxCoeff();
  const double stress = (*a.stress - *b.stress).cwiseAbs().maxCoeff();
  INFO("|dE|/atom " << energy_per_atom << " eV, max |dF| " << force << " eV/A, max |dsigma| "
                    << stress << " eV/A^3");
  CHECK(energy_per_atom > 0);
  CHECK(energy_per_atom < 1e-5);
  CHECK(force < 5e-5);
  CHECK(stress < 1e-6);
}

TEST_CASE("buck specs find bare names and write them back", "[buck]") {
  CHECK(make_potential("buck:BaRhO.buck,alpha=0.3")->spec() == "buck:BaRhO.buck,alpha=0.3");
  const std::string absolute = std::string(OTFGP_SOURCE_DIR) + "/potentials/params/NaCl.buck";
  CHECK(make_potential("buck:" + absolute)->spec() == "buck:" + absolute);
}

TEST_CASE("buck per-atom energies add up to the total", "[buck]") {
  auto potential = make_potential("buck:BaRhO.buck");
  const Structure s = random_barho(triclinic_cell(7.2, 6.9, 7.5, 0.3, -0.2, 0.25), 4, 61);
  const Evaluation evaluation = evaluate(*potential, s, ComputeRequest{true, false});
  REQUIRE(evaluation.per_atom_energy.has_value());
  CHECK(evaluation.per_atom_energy->sum() == Approx(evaluation.energy).epsilon(1e-12));
}

TEST_CASE("the shipped parameter files give the documented crystals", "[buck]") {
  // Lattice constants from scripts/check_buck_params.py (ASE relaxation of an
  // independent numpy implementation); here the stress there must vanish.
  CHECK(max_abs_stress_gpa(evaluate(*make_potential("buck:NaCl.buck"),
                                    rocksalt(sodium, chlorine, 5.6377))) < 0.01);
  auto barho = make_potential("buck:BaRhO.buck");
  CHECK(max_abs_stress_gpa(evaluate(*barho, rocksalt(barium, oxygen, 5.5135))) < 0.01);
  const Evaluation cubic = evaluate(*barho, perovskite(4.0929));
  CHECK(max_abs_stress_gpa(cubic) < 0.01);
  CHECK(cubic.forces.cwiseAbs().maxCoeff() < 1e-10);
  // 1 % smaller cells are under compression (positive pressure, negative ASE stress).
  CHECK((*evaluate(*barho, rocksalt(barium, oxygen, 5.46)).stress)[0] <
        -0.5 * units::gpa_in_ev_per_a3);
  CHECK((*evaluate(*barho, perovskite(4.05)).stress)[0] < -0.5 * units::gpa_in_ev_per_a3);
}

TEST_CASE("buck user errors name the element, key or line", "[buck]") {
  Structure silica = rocksalt(14, oxygen, 5.0);
  REQUIRE_THROWS_WITH(
      evaluate(*make_potential("buck:BaRhO.buck"), silica),
      Catch::Contains("Si") && Catch::Contains("no charge") && Catch::Contains("BaRhO.buck"));
  REQUIRE_THROWS_WITH(make_potential("buck:BaRhO.buck,alpah=0.3"), Catch::Contains("alpah"));
  REQUIRE_THROWS_WITH(make_potential("buck:BaRhO.buck,erfc=fast"), Catch::Contains("erfc"));
  REQUIRE_THROWS_WITH(make_potential("buck:BaRhO.buck,cutoff=8,coulomb_cutoff=9"),
                      Catch::Contains("cutoff"));
  REQUIRE_THROWS_WITH(make_potential("buck:alpha=0.3"), Catch::Contains("buck:FILE"));
  REQUIRE_THROWS_WITH(make_potential("buck:Missing.buck"), Catch::Contains("Missing.buck"));

  const TemporaryFile unknown(
      "unknown.buck", "charge Na 1\ncharge Cl -1\nalpha 0.2\ncoulomb_cutoff 9\nsigma Na Cl 3\n");
  REQUIRE_THROWS_WITH(make_potential("buck:" + unknown.path.string()),
                      Catch::Contains("line 5") && Catch::Contains("sigma"));
  const TemporaryFile uncharged(
      "uncharged.buck", "charge Na 1\nalpha 0.2\ncoulomb_cutoff 9\npair Na Cl 1000 0.3 0\n");
  REQUIRE_THROWS_WITH(make_potential("buck:" + uncharged.path.string()),
                      Catch::Contains("Cl") && Catch::Contains("no 'charge'"));
  const TemporaryFile no_alpha("no-alpha.buck", "charge Na 1\ncharge Cl -1\ncoulomb_cutoff 9\n");
  REQUIRE_THROWS_WITH(make_potential("buck:" + no_alpha.path.string()), Catch::Contains("alpha"));
  const TemporaryFile bad_rho(
      "bad-rho.buck",
      "charge Na 1\ncharge Cl -1\nalpha 0.2\ncoulomb_cutoff 9\npair Na Cl 1000 0 0\n");
  REQUIRE_THROWS_WITH(make_potential("buck:" + bad_rho.path.string()),
                      Catch::Contains("rho of Na-Cl"));
}
