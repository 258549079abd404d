#include <catch2/catch.hpp>

#include "otfgp/core/error.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "otfgp/potentials/potential.hpp"
#include "support/checks.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::testing;

namespace {

const std::string si_file = "/usr/share/lammps/potentials/Si.sw";
const std::string gan_file = "/usr/share/lammps/potentials/GaN.sw";
const std::string cdte_file = "/usr/share/lammps/potentials/CdTe.sw";

LammpsSetup sw_setup(const std::string& file) {
  return {{"pair_style sw", "pair_coeff * * " + file + " {elements}"}, {}};
}

}  // namespace

TEST_CASE("Stillinger-Weber forces and stress are derivatives of the energy", "[sw]") {
  auto potential = make_potential("sw:" + si_file);
  SECTION("cubic cell shorter than twice the cutoff") {
    check_derivatives(*potential, random_structure(Eigen::Matrix3d::Identity() * 6.9,
                                                   std::vector<int>(16, 14), 2.0, 11));
  }
  SECTION("strongly skewed triclinic cell") {
    check_derivatives(*potential, random_structure(triclinic_cell(7.6, 7.1, 7.4, 0.5, -0.45, 0.4),
                                                   std::vector<int>(18, 14), 2.0, 12));
  }
  SECTION("rattled diamond") {
    Structure crystal = diamond(14, 5.431, 2);
    rattle(crystal, 0.15, 13);
    check_derivatives(*potential, crystal);
  }
  SECTION("two elements") {
    auto gan = make_potential("sw:" + gan_file);
    check_derivatives(*gan, random_structure(triclinic_cell(7.2, 7.0, 7.5, 0.3, -0.35, 0.25),
                                             alternating(18, 31, 7), 1.8, 14));
  }
}

TEST_CASE("Stillinger-Weber matches LAMMPS pair_style sw", "[sw][lammps]") {
  SECTION("Si.sw") {
    auto potential = make_potential("sw:" + si_file);
    const LammpsSetup setup = sw_setup(si_file);
    check_lammps_parity(*potential,
                        random_structure(triclinic_cell(10.5, 10, 11, 0.25, -0.3, 0.2),
                                         std::vector<int>(48, 14), 2.0, 21),
                        setup);
    // Cell shorter than twice the cutoff: many images of the same partner.
    check_lammps_parity(*potential,
                        random_structure(triclinic_cell(6.2, 6.8, 6.5, 0.45, 0.3, -0.4),
                                         std::vector<int>(12, 14), 2.0, 22),
                        setup);
    Structure crystal = diamond(14, 5.431, 2);
    rattle(crystal, 0.2, 23);
    check_lammps_parity(*potential, crystal, setup);
  }
  SECTION("GaN.sw") {
    auto potential = make_potential("sw:" + gan_file);
    const LammpsSetup setup = sw_setup(gan_file);
    check_lammps_parity(*potential,
                        random_structure(triclinic_cell(9, 8.5, 9.5, 0.3, -0.2, 0.35),
                                         alternating(40, 31, 7), 1.8, 24),
                        setup);
    check_lammps_parity(*potential,
                        random_structure(triclinic_cell(6.4, 6.0, 6.3, -0.4, 0.25, 0.3),
                                         alternating(12, 31, 7), 1.8, 25),
                        setup);
  }
  SECTION("CdTe.sw, uneven composition") {
    auto potential = make_potential("sw:" + cdte_file);
    std::vector<int> numbers(30, 52);
    for (int i = 0; i < 30; i += 3) numbers[i] = 48;
    check_lammps_parity(
        *potential,
        random_structure(triclinic_cell(10, 9.5, 10.5, 0.2, 0.3, -0.25), numbers, 2.4, 26),
        sw_setup(cdte_file));
  }
}

TEST_CASE("Stillinger-Weber tol shortens the range as LAMMPS does", "[sw][lammps]") {
  TemporaryFile file(
      "test.sw",
      "Si Si Si 2.1683 2.0951 1.80 21.0 1.20 -0.333333333333 7.049556277 0.6022245584 4.0 0.0 "
      "0.005\n");
  auto potential = make_potential("sw:" + file.path.string());
  CHECK(potential->cutoff() < 2.0951 * 1.80 - 0.1);
  check_lammps_parity(*potential,
                      random_structure(triclinic_cell(9, 9.5, 8.8, 0.2, -0.3, 0.25),
                                       std::vector<int>(30, 14), 2.0, 27),
                      sw_setup(file.path.string()));
}

TEST_CASE("Stillinger-Weber per-atom energies sum to the total", "[sw]") {
  auto potential = make_potential("sw:" + gan_file);
  const Structure s = random_structure(triclinic_cell(8, 7.5, 8.2, 0.2, -0.3, 0.1),
                                       alternating(24, 31, 7), 1.8, 31);
  ComputeRequest request;
  request.per_atom_energy = true;
  const Evaluation evaluation = evaluate(*potential, s, request);
  REQUIRE(evaluation.per_atom_energy.has_value());
  CHECK(evaluation.per_atom_energy->sum() == Approx(evaluation.energy).epsilon(1e-12));
  CHECK(evaluate(*potential, s).energy == Approx(evaluation.energy).epsilon(1e-14));
}

TEST_CASE("Stillinger-Weber spec, look-up and file errors", "[sw]") {
  SECTION("a bare file name is found in LAMMPS's potentials folder and stays bare") {
    auto potential = make_potential("sw:Si.sw");
    CHECK(potential->spec() == "sw:Si.sw");
    CHECK(potential->elements() == std::vector<int>{14});
    CHECK(potential->cutoff() == Approx(2.0951 * 1.80).epsilon(1e-14));
    CHECK(make_potential("sw:" + si_file)->spec() == "sw:" + si_file);
  }
  SECTION("a species the file lacks names the element and the file") {
    auto potential = make_potential("sw:" + si_file);
    REQUIRE_THROWS_AS(potential->bind({6, 14}), Error);
    REQUIRE_THROWS_WITH(potential->bind({6, 14}),
                        Catch::Contains("element C") && Catch::Contains("Si.sw"));
    REQUIRE_THROWS_WITH(
        evaluate(*potential, random_structure(Eigen::Matrix3d::Identity() * 8, {14, 8}, 2.0, 1)),
        Catch::Contains("element O"));
  }
  SECTION("missing files and malformed entries name the file and line") {
    REQUIRE_THROWS_WITH(make_potential("sw:no-such-file.sw"), Catch::Contains("no-such-file.sw"));
    REQUIRE_THROWS_WITH(make_potential("sw:"), Catch::Contains("parameter file"));
    {
      TemporaryFile file(
          "test.sw",
          "# comment\n\nSi Si Si 2.1683 2.0951 1.80 21.0 1.20 -0.333333333333\n  7.049556277 "
          "0.6022245584 4.0 0.0 x.0\n");
      REQUIRE_THROWS_WITH(make_potential("sw:" + file.path.string()),
                          Catch::Contains(file.path.string()) && Catch::Contains("line 3") &&
                              Catch::Contains("tol"));
    }
    {
      TemporaryFile file(
          "test.sw",
          "Si Si Si 2.1683 2.0951 1.80 21.0 1.20 -0.333333333333\n 7.049556277 0.6022245584 4.0 "
          "0.0\n");
      REQUIRE_THROWS_WITH(make_potential("sw:" + file.path.string()),
                          Catch::Contains("line 1") && Catch::Contains("ends inside"));
    }
    {
      TemporaryFile file(
          "test.sw",
          "Si Si Si 2.1683 2.0951 1.80 21.0 1.20 -0.333333333333 7.049556277 0.6022245584 4.0 0.0 "
          "0.0 1.0\n");
      REQUIRE_THROWS_WITH(make_potential("sw:" + file.path.string()),
                          Catch::Contains("line 1") && Catch::Contains("15 words"));
    }
    {
      TemporaryFile file(
          "test.sw",
          "Si Si Si 2.1683 -2.0951 1.80 21.0 1.20 -0.333333333333 7.049556277 0.6022245584 4.0 0.0 "
          "0.0\n");
      REQUIRE_THROWS_WITH(make_potential("sw:" + file.path.string()),
                          Catch::Contains("line 1") && Catch::Contains("sigma"));
    }
    {
      // Ge is described on its own but the Si–Ge triplets are missing.
      TemporaryFile file(
          "test.sw",
          "Si Si Si 2.1683 2.0951 1.80 21.0 1.20 -0.333333333333 7.049556277 0.6022245584 4.0 0.0 "
          "0.0\n"
          "Ge Ge Ge 1.93 2.181 1.80 31.0 1.20 -0.333333333333 7.049556277 0.6022245584 4.0 0.0 "
          "0.0\n");
      auto potential = make_potential("sw:" + file.path.string());
      CHECK(potential->elements() == std::vector<int>{14, 32});
      CHECK_NOTHROW(potential->bind({32}));
      REQUIRE_THROWS_WITH(potential->bind({14, 32}), Catch::Contains("no entry for Si Si Ge"));
    }
    {
      TemporaryFile file(
          "test.sw",
          "# UNITS: real\nSi Si Si 2.1683 2.0951 1.80 21.0 1.20 -0.333333333333 7.049556277 "
          "0.6022245584 4.0 0.0 0.0\n");
      REQUIRE_THROWS_WITH(make_potential("sw:" + file.path.string()), Catch::Contains("metal"));
    }
  }
}

TEST_CASE("Stillinger-Weber with an element alias reads labelled entries", "[sw]") {
  TemporaryFile file(
      "test.sw",
      "Si(a) Si(a) Si(a) 2.1683 2.0951 1.80 21.0 1.20 -0.333333333333 7.049556277 0.6022245584 4.0 "
      "0.0 0.0\n");
  auto aliased = make_potential("sw:" + file.path.string() + ",Si=Si(a)");
  auto plain = make_potential("sw:" + si_file);
  CHECK(aliased->elements() == std::vector<int>{14});
  Structure crystal = diamond(14, 5.431, 1);
  rattle(crystal, 0.1, 3);
  CHECK(evaluate(*aliased, crystal).energy ==
        Approx(evaluate(*plain, crystal).energy).epsilon(1e-14));
  REQUIRE_THROWS_WITH(make_potential("sw:" + file.path.string() + ",Si=Si(b)"),
                      Catch::Contains("Si(b)"));
  REQUIRE_THROWS_WITH(make_potential("sw:" + file.path.string() + ",Xx=Si(a)"),
                      Catch::Contains("Xx"));
}
