// The `command` oracle with an external Python program (ASE's EMT) that reads
// and writes extended XYZ: labels arrive unchanged and with ASE's sign
// conventions (forces and stress equal differences of the program's own
// energies), and each way the program can fail is told apart.
#include <catch2/catch.hpp>

#include <fstream>

#include "otfgp/oracle/oracle.hpp"
#include "support/oracle_finite_difference.hpp"
#include "support/python.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using Catch::Matchers::Contains;
using otfgp::testing::TemporaryDirectory;

namespace {

const char* const emt_script = R"(import sys
from ase.io import read, write
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
atoms = read(sys.argv[1])
atoms.calc = EMT()
energy, forces, stress = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces, stress=stress)
write(sys.argv[2], atoms, format='extxyz')
)";

std::filesystem::path write_script(const TemporaryDirectory& directory, const std::string& name,
                                   const std::string& text) {
  std::ofstream(directory / name) << text;
  return directory / name;
}

std::unique_ptr<oracle::Oracle> command_oracle(const std::string& yaml,
                                               const std::filesystem::path& base) {
  return oracle::make_oracle(ConfigSection::parse(yaml, "oracle.yaml"), base);
}

Structure copper() {
  Structure cu = testing::fcc(29, 3.65, 2);
  testing::rattle(cu, 0.1, 7);
  cu.cell(2, 0) += 0.3;  // a sheared cell, so the stress has off-diagonal parts
  return cu;
}

oracle::FailureKind failure_of(oracle::Oracle& oracle, const std::filesystem::path& workdir) {
  try {
    oracle.label(copper(), workdir, 0);
  } catch (const oracle::OracleFailure& failure) {
    return failure.kind();
  }
  FAIL("the oracle did not fail");
  return oracle::FailureKind::timeout;
}

}  // namespace

TEST_CASE("command oracle labels through an external ASE EMT program", "[oracle][command]") {
  TemporaryDirectory directory("otfgp-command");
  write_script(directory, "emt.py", emt_script);
  // A relative script path is taken relative to the config's folder.
  for (const std::string& command :
       {std::string(testing::python_interpreter) + " -I emt.py {input} {output}",
        std::string(testing::python_interpreter) + " -I " + (directory / "emt.py").string()}) {
    INFO(command);
    auto oracle =
        command_oracle("kind: command\ncommand: " + command + "\ntimeout: 60\n", directory.path());
    REQUIRE(oracle->kind() == "command");
    oracle->check({29});
    const Structure cu = copper();
    const Structure labelled = oracle->label(cu, directory / "run", 0);
    REQUIRE(labelled.energy);
    REQUIRE(labelled.forces);
    REQUIRE(labelled.stress);
    CHECK(labelled.positions == cu.positions);
    CHECK(labelled.forces->norm() > 0.1);
    if (command.find("{input}") == std::string::npos) continue;  // one variant is enough below

    const double force =
        testing::oracle_force_difference(*oracle, cu, 3, 1, 1e-4, directory.path());
    CHECK((*labelled.forces)(3, 1) == Approx(force).margin(1e-5));
    const double xx = testing::oracle_stress_difference(*oracle, cu, 0, 0, 1e-5, directory.path());
    const double xz = testing::oracle_stress_difference(*oracle, cu, 0, 2, 1e-5, directory.path());
    CHECK((*labelled.stress)[0] == Approx(xx).margin(1e-5));
    CHECK((*labelled.stress)[4] == Approx(xz).margin(1e-5));
    CHECK(std::abs((*labelled.stress)[4]) > 1e-4);
  }
}

TEST_CASE("command oracle tells the ways an external program fails apart", "[oracle][command]") {
  TemporaryDirectory directory("otfgp-command");
  const std::string python = std::string(testing::python_interpreter) + " -I ";
  const auto make = [&](const std::string& name, const std::string& script,
                        const std::string& extra = "") {
    write_script(directory, name, script);
    return command_oracle("kind: command\ncommand: " + python + name + "\n" + extra,
                          directory.path());
  };
  CHECK(failure_of(*make("exit.py", "import sys\nsys.exit(2)\n"), directory / "a") ==
        oracle::FailureKind::nonzero_exit);
  CHECK(failure_of(*make("silent.py", "pass\n"), directory / "b") ==
        oracle::FailureKind::unparsable_output);
  CHECK(failure_of(*make("garbage.py", "import sys\nopen(sys.argv[2], 'w').write('3\\nx\\n')\n"),
                   directory / "c") == oracle::FailureKind::unparsable_output);
  // One atom dropped.
  CHECK(failure_of(*make("drop.py", std::string(emt_script) + "write(sys.argv[2], atoms[1:])\n"),
                   directory / "d") == oracle::FailureKind::unparsable_output);
  // An atom moved (not by a lattice vector) is another frame; atoms wrapped
  // into the cell are the same periodic frame, labelled at the input's positions.
  const auto edited = [](const std::string& line) {
    std::string script = emt_script;
    const std::string read = "atoms = read(sys.argv[1])\n";
    return script.replace(script.find(read), read.size(), read + line + "\n");
  };
  CHECK(failure_of(*make("move.py", edited("atoms.positions[2, 0] += 0.01")), directory / "d2") ==
        oracle::FailureKind::unparsable_output);
  // Labels of another cell (5 % larger, the Cartesian positions kept), or of
  // another periodicity, are another structure's.
  CHECK(failure_of(*make("cell.py", edited("atoms.set_cell(atoms.cell * 1.05)")),
                   directory / "d5") == oracle::FailureKind::unparsable_output);
  CHECK(failure_of(*make("pbc.py", edited("atoms.pbc = [True, True, False]")), directory / "d6") ==
        oracle::FailureKind::unparsable_output);
  Structure outside = copper();
  outside.positions.row(1) -= outside.cell.row(2);
  outside.positions.row(4) += outside.cell.row(0) + outside.cell.row(1);
  const Structure wrapped =
      make("wrap.py", edited("atoms.wrap()"))->label(outside, directory / "d3", 0);
  const Structure unwrapped = make("emt.py", emt_script)->label(outside, directory / "d4", 0);
  CHECK(wrapped.positions == outside.positions);
  CHECK(*wrapped.energy == Approx(*unwrapped.energy).epsilon(1e-10));
  CHECK((*wrapped.forces - *unwrapped.forces).cwiseAbs().maxCoeff() < 1e-8);
  // No stress for a periodic frame: unparsable unless `stress: false`.
  const std::string no_stress = R"(import sys
from ase.io import read, write
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
atoms = read(sys.argv[1])
atoms.calc = EMT()
energy, forces = atoms.get_potential_energy(), atoms.get_forces()
atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
write(sys.argv[2], atoms, format='extxyz')
)";
  CHECK(failure_of(*make("nostress.py", no_stress), directory / "e") ==
        oracle::FailureKind::unparsable_output);
  const Structure labelled =
      make("nostress.py", no_stress, "stress: false\n")->label(copper(), directory / "f", 0);
  CHECK(labelled.energy);
  CHECK_FALSE(labelled.stress);
  // The retry is announced to the program: this one works only on the retry.
  const auto retry_only =
      make("retry_only.py",
           "import os, sys\nif os.environ['OTFGP_ORACLE_ATTEMPT'] != '1': sys.exit(5)\n" +
               std::string(emt_script));
  CHECK(failure_of(*retry_only, directory / "h0") == oracle::FailureKind::nonzero_exit);
  CHECK(retry_only->label(copper(), directory / "h1", 1).energy);
  const auto hang = make("hang.py", "import time\ntime.sleep(60)\n", "timeout: 0.5\n");
  CHECK(failure_of(*hang, directory / "g") == oracle::FailureKind::timeout);
  CHECK_THROWS_WITH(hang->label(copper(), directory / "g2", 0), Contains("timed out after 0.5 s"));

  CHECK_THROWS_WITH(
      command_oracle("kind: command\ncommand: otfgp-no-such-code {input}\n", ".")->check({29}),
      Contains("otfgp-no-such-code"));
  CHECK_THROWS_WITH(command_oracle("kind: command\n", "."), Contains("command"));
  CHECK_THROWS_WITH(command_oracle("kind: command\ncommand: x\ninput_file: a/b.xyz\n", "."),
                    Contains("input_file"));
  CHECK_THROWS_WITH(command_oracle("kind: command\ncommand: x\ntimeot: 3\n", "."),
                    Contains("timeout"));
}
