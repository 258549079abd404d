#include <catch2/catch.hpp>
#include <filesystem>

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

const std::string lammps_potentials = "/usr/share/lammps/potentials/";

LammpsSetup alloy_setup(const std::string& style, const std::string& file) {
  return {{"pair_style " + style, "pair_coeff * * " + lammps_potentials + file + " {elements}"},
          {}};
}

}  // namespace

TEST_CASE("EAM forces and stress are derivatives of the energy", "[eam]") {
  SECTION("funcfl Cu, rattled fcc in a cubic cell") {
    auto potential = make_potential("eam:Cu_u3.eam");
    Structure s = fcc(29, 3.615, 2);
    rattle(s, 0.15, 11);
    check_derivatives(*potential, s);
  }
  SECTION("funcfl Cu + Ni in a strongly skewed cell") {
    auto potential = make_potential("eam:Cu_u3.eam,Ni_u3.eam");
    check_derivatives(*potential, random_structure(triclinic_cell(7.5, 7.2, 7.8, 0.5, -0.45, 0.4),
                                                   alternating(24, 28, 29), 2.1, 12));
  }
  SECTION("setfl Cu-Ta in a strongly skewed cell") {
    auto potential = make_potential("eam/alloy:CuTa.eam.alloy");
    check_derivatives(*potential, random_structure(triclinic_cell(7.6, 7.4, 7.9, -0.5, 0.4, 0.45),
                                                   alternating(22, 29, 73), 2.2, 13));
  }
  SECTION("densities beyond the table's rho_max (linear continuation of F)") {
    auto potential = make_potential("eam/alloy:Cu_zhou.eam.alloy");
    Structure s = fcc(29, 2.5, 2);  // far compressed: ρ ≈ 1.17 ρ_max
    rattle(s, 0.05, 14);
    check_derivatives(*potential, s);
  }
}

TEST_CASE("eam (funcfl) matches LAMMPS pair_style eam", "[eam][lammps]") {
  SECTION("Cu_u3.eam, random atoms, triclinic") {
    auto potential = make_potential("eam:/usr/share/lammps/potentials/Cu_u3.eam");
    const LammpsSetup setup{{"pair_style eam", "pair_coeff 1 1 " + lammps_potentials + "Cu_u3.eam"},
                            {}};
    check_lammps_parity(*potential,
                        random_structure(triclinic_cell(10.5, 10, 11, 0.3, -0.2, 0.25),
                                         std::vector<int>(64, 29), 2.1, 21),
                        setup);
    // Cell shorter than twice the cutoff (4.95 Å): atoms meet several images of each partner.
    check_lammps_parity(*potential,
                        random_structure(triclinic_cell(5.6, 5.9, 6.2, 0.35, 0.2, -0.3),
                                         std::vector<int>(14, 29), 2.2, 22),
                        setup);
  }
  SECTION("Cu_u3.eam + Ni_u3.eam: resampling onto one grid and Z_i Z_j cross pairs") {
    auto potential = make_potential("eam:Ni_u3.eam,Cu=Cu_u3.eam");
    const LammpsSetup setup{{"pair_style eam", "pair_coeff 1 1 " + lammps_potentials + "Ni_u3.eam",
                             "pair_coeff 2 2 " + lammps_potentials + "Cu_u3.eam"},
                            {}};
    check_lammps_parity(*potential,
                        random_structure(triclinic_cell(9.5, 9, 10, -0.3, 0.25, 0.2),
                                         alternating(56, 28, 29), 2.1, 23),
                        setup);
  }
  SECTION("densities beyond rho_max") {
    auto potential = make_potential("eam:Cu_u3.eam");
    const LammpsSetup setup{{"pair_style eam", "pair_coeff 1 1 " + lammps_potentials + "Cu_u3.eam"},
                            {}};
    Structure s = fcc(29, 2.4, 2);
    rattle(s, 0.05, 24);
    check_lammps_parity(*potential, s, setup);
  }
}

TEST_CASE("eam/alloy and eam/fs match LAMMPS", "[eam][lammps]") {
  SECTION("single element Cu_zhou.eam.alloy") {
    auto potential = make_potential("eam/alloy:Cu_zhou.eam.alloy");
    const auto setup = alloy_setup("eam/alloy", "Cu_zhou.eam.alloy");
    check_lammps_parity(*potential,
                        random_structure(triclinic_cell(11, 10.5, 10, 0.2, 0.3, -0.25),
                                         std::vector<int>(64, 29), 2.1, 31),
                        setup);
    check_lammps_parity(*potential,
                        random_structure(triclinic_cell(6.1, 5.8, 6.4, -0.3, 0.35, 0.2),
                                         std::vector<int>(14, 29), 2.2, 32),
                        setup);
  }
  SECTION("CuNi.eam.alloy (file lists Ni before Cu)") {
    auto potential = make_potential("eam/alloy:/usr/share/lammps/potentials/CuNi.eam.alloy");
    check_lammps_parity(*potential,
                        random_structure(triclinic_cell(10, 9.5, 10.5, 0.25, -0.3, 0.2),
                                         alternating(60, 28, 29), 2.1, 33),
                        alloy_setup("eam/alloy", "CuNi.eam.alloy"));
  }
  SECTION("CuTa.eam.alloy, one of its two elements bound") {
    auto potential = make_potential("eam/alloy:CuTa.eam.alloy");
    check_lammps_parity(*potential,
                        random_structure(triclinic_cell(9, 9.5, 9.2, 0.2, 0.1, -0.3),
                                         std::vector<int>(40, 73), 2.4, 34),
                        alloy_setup("eam/alloy", "CuTa.eam.alloy"));
  }
  SECTION("CuTa.eam.alloy, both elements, small skewed cell") {
    auto potential = make_potential("eam/alloy:CuTa.eam.alloy");
    check_lammps_parity(*potential,
                        random_structure(triclinic_cell(6.6, 6.9, 6.4, 0.4, -0.35, 0.3),
                                         alternating(20, 29, 73), 2.2, 35),
                        alloy_setup("eam/alloy", "CuTa.eam.alloy"));
  }
  SECTION("Finnis-Sinclair AlFe_mm.eam.fs") {
    auto potential = make_potential("eam/fs:AlFe_mm.eam.fs");
    const Structure s = random_structure(triclinic_cell(9.5, 9.8, 9.2, -0.25, 0.2, 0.3),
                                         alternating(50, 13, 26), 2.1, 36);
    check_lammps_parity(*potential, s, alloy_setup("eam/fs", "AlFe_mm.eam.fs"));
    check_derivatives(*potential, s);
  }
}

TEST_CASE("EAM specs find bare names and write them back", "[eam]") {
  CHECK(make_potential("eam:Ni_u3.eam,Cu=Cu_u3.eam")->spec() == "eam:Ni_u3.eam,Cu=Cu_u3.eam");
  CHECK(make_potential("eam/alloy:CuNi.eam.alloy")->spec() == "eam/alloy:CuNi.eam.alloy");
  const std::string absolute = lammps_potentials + "CuTa.eam.alloy";
  CHECK(make_potential("eam/alloy:" + absolute)->spec() == "eam/alloy:" + absolute);
}

TEST_CASE("EAM specs from a config take every file from the config's folder", "[eam]") {
  TemporaryDirectory dir;
  std::filesystem::copy_file(lammps_potentials + "Cu_u3.eam", dir / "myCu.eam");
  std::filesystem::copy_file(lammps_potentials + "Ni_u3.eam", dir / "myNi.eam");
  const std::string folder = std::filesystem::absolute(dir.path()).lexically_normal().string();
  Structure s = fcc(29, 3.6, 2);
  for (int i = 0; i < s.size(); i += 2) s.numbers[i] = 28;
  rattle(s, 0.05, 3);
  const double reference = evaluate(*make_potential("eam:Cu_u3.eam,Ni_u3.eam"), s).energy;
  // The second file, and one given as Symbol=FILE, are found beside the config too.
  for (const std::string arguments : {"myCu.eam,myNi.eam", "myCu.eam,Ni=myNi.eam",
                                      "Cu_u3.eam,./myNi.eam", "Ni=myNi.eam,Cu=./myCu.eam"}) {
    INFO(arguments);
    auto potential = make_potential("eam:" + arguments, dir.path());
    CHECK(evaluate(*potential, s).energy == Approx(reference).epsilon(1e-12));
    CHECK_THAT(potential->spec(), Catch::Contains(folder + "/myNi.eam"));
  }
  CHECK(make_potential("eam:myCu.eam,Ni=myNi.eam", dir.path())->spec() ==
        "eam:" + folder + "/myCu.eam,Ni=" + folder + "/myNi.eam");
  // A second file that is nowhere: every place looked at, the config's folder first.
  CHECK_THROWS_WITH(
      make_potential("eam:myCu.eam,none.eam", dir.path()),
      Catch::Contains("cannot find the parameter file 'none.eam'") &&
          Catch::Contains(lammps_potentials + "none.eam") &&
          Catch::Contains("looked at " + folder + "/none.eam (the config's folder), "));
  CHECK_THROWS_WITH(make_potential("eam:myCu.eam,Ni=./none.eam", dir.path()),
                    Catch::Contains("looked at " + folder + "/none.eam"));
}

TEST_CASE("EAM per-atom energies add up to the total", "[eam]") {
  auto potential = make_potential("eam/alloy:CuNi.eam.alloy");
  const Structure s = random_structure(triclinic_cell(8, 8.5, 7.5, 0.2, -0.1, 0.3),
                                       alternating(36, 28, 29), 2.1, 37);
  const Evaluation evaluation = evaluate(*potential, s, ComputeRequest{true, false});
  REQUIRE(evaluation.per_atom_energy.has_value());
  CHECK(evaluation.per_atom_energy->sum() == Approx(evaluation.energy).epsilon(1e-12));
}

TEST_CASE("every EAM file LAMMPS ships is read", "[eam]") {
  int read = 0;
  for (const auto& entry : std::filesystem::directory_iterator(lammps_potentials)) {
    const std::string name = entry.path().filename().string();
    const auto ends_with = [&](const std::string& suffix) {
      return name.size() > suffix.size() &&
             name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    std::string style;
    if (ends_with(".eam"))
      style = "eam";
    else if (ends_with(".eam.alloy"))
      style = "eam/alloy";
    else if (ends_with(".eam.fs"))
      style = "eam/fs";
    else
      continue;
    INFO(name);
    auto potential = make_potential(style + ":" + entry.path().string());
    CHECK(potential->cutoff() > 0);
    CHECK(!potential->elements().empty());
    ++read;
  }
  CHECK(read >= 20);
}

TEST_CASE("EAM user errors name the element, file or line", "[eam]") {
  auto potential = make_potential("eam/alloy:CuNi.eam.alloy");
  Structure iron = fcc(26, 3.6, 1);
  REQUIRE_THROWS_WITH(evaluate(*potential, iron),
                      Catch::Contains("Fe") && Catch::Contains("CuNi.eam.alloy"));
  REQUIRE_THROWS_WITH(evaluate(*make_potential("eam:Cu_u3.eam"), iron), Catch::Contains("Fe"));
  REQUIRE_THROWS_WITH(make_potential("eam/alloy:NoSuchFile.eam.alloy"),
                      Catch::Contains("NoSuchFile.eam.alloy"));
  REQUIRE_THROWS_WITH(make_potential("eam/alloy:CuNi.eam.alloy,Cu_zhou.eam.alloy"),
                      Catch::Contains("one file"));
  REQUIRE_THROWS_WITH(make_potential("eam:Cu_u3.eam,Cu_smf7.eam"),
                      Catch::Contains("two files for Cu"));
  REQUIRE_THROWS_WITH(make_potential("eam:Xx=Cu_u3.eam"), Catch::Contains("Xx"));
  const TemporaryFile real_units("real.eam", "DATE: 2024 UNITS: real\n29 63.5 3.6 fcc\n");
  REQUIRE_THROWS_WITH(make_potential("eam:" + real_units.path.string()), Catch::Contains("metal"));

  const TemporaryFile truncated(
      "truncated.eam.alloy",
      "c1\nc2\nc3\n1 Cu\n10 0.1 10 0.5 4.5\n29 63.5 3.6 fcc\n1 2 3 4 5\n6 7 8 9 10\n1 2 3\n");
  REQUIRE_THROWS_WITH(make_potential("eam/alloy:" + truncated.path.string()),
                      Catch::Contains("rho(r) of Cu"));
  const TemporaryFile garbage("garbage.eam", "c1\n29 63.5 3.6 fcc\n10 0.1 10 0.5 4.5\n1 2 x 4 5\n");
  REQUIRE_THROWS_WITH(make_potential("eam:" + garbage.path.string()),
                      Catch::Contains("line 4") && Catch::Contains("'x'"));
}
