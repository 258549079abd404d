#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "otfgp/core/io.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "support/cli.hpp"
#include "support/python.hpp"
#include "support/repeatability.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::testing;

namespace {
const std::string spec = "lj:eps=0.0104,sigma=3.4,rc=8.5";
}

TEST_CASE("otfgp eval labels every frame and ASE reads the result", "[cli][eval]") {
  TemporaryDirectory dir;
  std::vector<Structure> frames;
  for (int k = 0; k < 3; ++k)
    frames.push_back(random_structure(triclinic_cell(10, 10.5, 11, 0.1 * k, 0.2, -0.1),
                                      std::vector<int>(12, 18), 3.0, 20 + k));
  write_structures(dir / "in.xyz", frames);

  const CommandResult run = run_otfgp("eval -p " + spec + " " + (dir / "in.xyz").string() + " -o " +
                                      (dir / "out.xyz").string() + " --per-atom-energy");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);

  auto potential = make_potential(spec);
  const std::vector<Structure> labelled = read_structures(dir / "out.xyz");
  REQUIRE(labelled.size() == 3);
  for (std::size_t k = 0; k < 3; ++k) {
    const Evaluation expected = evaluate(*potential, frames[k]);
    // Bit for bit on Serial; to rounding where threads change the sum order.
    CHECK(testing::repeats(*labelled[k].energy, expected.energy));
    CHECK(testing::repeats(*labelled[k].forces, expected.forces));
    CHECK(testing::repeats(*labelled[k].stress, *expected.stress));
  }
  // ASE sees the same energies and the per-atom energies sum to the total.
  const std::string check = python_output(R"(
import sys, ase.io
for atoms in ase.io.read(sys.argv[1], ':'):
    print(repr(atoms.get_potential_energy()), repr(atoms.arrays['energies'].sum()))
)",
                                          {(dir / "out.xyz").string()});
  std::istringstream lines(check);
  for (std::size_t k = 0; k < 3; ++k) {
    double energy, sum;
    lines >> energy >> sum;
    CHECK(energy == *labelled[k].energy);
    CHECK(sum == Approx(energy).epsilon(1e-12));
  }
}

TEST_CASE("otfgp eval rejects bad input with one clear message", "[cli][eval]") {
  TemporaryDirectory dir;
  write_structures(dir / "in.xyz", {random_structure(Eigen::Matrix3d::Identity() * 9,
                                                     std::vector<int>(4, 18), 3.0, 1)});
  const std::string input = (dir / "in.xyz").string();

  CommandResult run =
      run_otfgp("eval -p lj:eps=0.01 " + input + " -o " + (dir / "out.xyz").string());
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.output, Catch::Contains("missing required key 'sigma'"));

  run =
      run_otfgp("eval -p " + spec + " " + input + " -o " + (dir / "missing" / "out.xyz").string());
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.output, Catch::Contains("does not exist"));

  run = run_otfgp("eval -p " + spec + " " + (dir / "nothere.xyz").string() + " -o out.xyz");
  CHECK(run.exit_code != 0);
  CHECK_THAT(run.output, Catch::Contains("nothere.xyz"));
  CHECK_FALSE(std::filesystem::exists(dir / "out.xyz"));

  std::ofstream(dir / "empty.xyz") << "\n";
  run = run_otfgp("eval -p " + spec + " " + (dir / "empty.xyz").string() + " -o " +
                  (dir / "out.xyz").string());
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.output, Catch::Contains("has no structures"));
  CHECK_FALSE(std::filesystem::exists(dir / "out.xyz"));
}

TEST_CASE("otfgp eval writes its own results only, and only as extended XYZ", "[cli][eval]") {
  TemporaryDirectory dir;
  Structure frame =
      random_structure(Eigen::Matrix3d::Identity() * 9, std::vector<int>(4, 18), 3.0, 5);
  // An earlier calculation's results (a DFT run's free energy, another
  // potential's per-atom energies, a GP's columns) beside inputs that stay.
  frame.energy = -1.0;
  frame.set_info_value("free_energy", "-2.0");
  frame.set_info_value("virial", "1 0 0 0 1 0 0 0 1");
  frame.set_info_value("source", "md-run-7");
  for (const char* column : {"energies", "force_std", "uncertainty", "novel", "charges"})
    set_real_property(frame, column, std::vector<double>(4, 0.5));
  set_real_property(frame, "initial_magmoms", std::vector<double>(4, 1.0));
  write_structures(dir / "in.xyz", {frame});

  const CommandResult run = run_otfgp("eval -p " + spec + " " + (dir / "in.xyz").string() + " -o " +
                                      (dir / "out.xyz").string());
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const Structure out = read_structure(dir / "out.xyz");
  CHECK(testing::repeats(*out.energy, evaluate(*make_potential(spec), frame).energy));
  for (const char* key : {"free_energy", "virial"}) CHECK_FALSE(out.info_value(key));
  CHECK(out.info_value("source") == "md-run-7");
  for (const char* column : {"energies", "force_std", "uncertainty", "novel", "charges"})
    CHECK(find_extra_property(out, column) == nullptr);
  CHECK(real_property(out, "initial_magmoms") == Eigen::MatrixXd::Ones(4, 1));

  // A name that would read back as a POSCAR, or as nothing, is refused
  // before any frame is evaluated.
  for (const char* name : {"out.vasp", "POSCAR", "out.txt"}) {
    const CommandResult refused = run_otfgp("eval -p " + spec + " " + (dir / "in.xyz").string() +
                                            " -o " + (dir / name).string());
    CHECK(refused.exit_code != 0);
    CHECK_THAT(refused.output, Catch::Contains("name it *.xyz or *.extxyz"));
    CHECK_THAT(refused.output, !Catch::Contains("evaluating"));
    CHECK_FALSE(std::filesystem::exists(dir / name));
  }
  for (const char* name : {"out.XYZ", "out.extxyz"}) {
    const CommandResult accepted = run_otfgp("eval -p " + spec + " " + (dir / "in.xyz").string() +
                                             " -o " + (dir / name).string());
    CHECK(accepted.exit_code == 0);
    CHECK(read_structure(dir / name, "extxyz").energy);
  }
}
