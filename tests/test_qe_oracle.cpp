// The `qe` oracle: real pw.x forces and stress against central differences of
// pw.x's own energies (units and signs), and fake pw.x programs that fail in
// each way the on-the-fly loop must tell apart.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <sstream>

#include "otfgp/oracle/oracle.hpp"
#include "otfgp/oracle/qe_oracle.hpp"
#include "support/oracle_finite_difference.hpp"
#include "support/oracle_setup.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using Catch::Matchers::Contains;
using otfgp::testing::TemporaryDirectory;

namespace {

using testing::fake_program;
using testing::read_text;
using testing::silicon_pair;

std::unique_ptr<oracle::Oracle> qe_oracle(const std::string& yaml,
                                          const std::filesystem::path& base = ".") {
  return testing::oracle_from_yaml(yaml, base);
}

const char* const silicon_qe =
    "kind: qe\n"
    "pseudopotentials: {Si: Si.pbe-rrkj.UPF}\n"
    "ecutwfc: 20\n"
    "kspacing: 1.05\n"
    "timeout: 120\n"
    "environment: {OMP_NUM_THREADS: '1'}\n";

}  // namespace

TEST_CASE("qe oracle forces and stress are finite differences of pw.x's energies", "[oracle][qe]") {
  TemporaryDirectory directory("otfgp-qe");
  // Tight SCF: the differences divide energy errors by 2h.
  auto oracle = qe_oracle(std::string(silicon_qe) + "conv_thr: 1e-12\n");
  REQUIRE(oracle->kind() == "qe");
  const Structure si = silicon_pair();
  oracle->check(si.species());
  const auto start = std::chrono::steady_clock::now();
  const Structure labelled = oracle->label(si, directory / "base", 0);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WARN("pw.x single point, Si2, 20 Ry, 2x2x2 k: " << seconds << " s");
  // The kspacing gave the 2×2×2 mesh that was asked for.
  CHECK_THAT(read_text(directory / "base" / "pw.in"), Contains("K_POINTS automatic\n2 2 2 0 0 0"));
  REQUIRE(labelled.energy);
  REQUIRE(labelled.forces);
  REQUIRE(labelled.stress);
  // PBE silicon with this pseudopotential: −7.92 Ry per atom at equilibrium,
  // −7.77 Ry (−105.7 eV) in this compressed cell.
  CHECK(*labelled.energy / 2 == Approx(-105.7).margin(0.3));
  // Forces sum to zero (translation invariance, exact in pw.x up to its
  // symmetrisation) and are not trivially zero.
  CHECK(labelled.forces->colwise().sum().norm() < 1e-3);
  CHECK(labelled.forces->norm() > 0.1);

  // The compressed, rattled cell is strongly anharmonic: the O(h²) error of
  // the difference was 5.5e-3 eV/Å at h = 0.01 Å and 1.4e-3 at 0.005 Å, so
  // h = 0.003 Å keeps it near 5e-4.
  const double force_step = 0.003;
  for (int direction : {0, 2}) {
    const double numeric =
        testing::oracle_force_difference(*oracle, si, 1, direction, force_step, directory.path());
    INFO("direction " << direction << ": analytic " << (*labelled.forces)(1, direction)
                      << " numeric " << numeric);
    CHECK((*labelled.forces)(1, direction) == Approx(numeric).margin(1e-3));
  }
  // Strain derivative: pw.x's stress is at a fixed number of plane waves,
  // the energies at a fixed cutoff; the Pulay difference at 20 Ry is a few
  // tenths of a GPa, far below the stress itself (tens of GPa here).
  const double strain_step = 0.002;
  const Voigt& stress = *labelled.stress;
  const double xx =
      testing::oracle_stress_difference(*oracle, si, 0, 0, strain_step, directory.path());
  const double xy =
      testing::oracle_stress_difference(*oracle, si, 0, 1, strain_step, directory.path());
  INFO("stress xx " << stress[0] << " numeric " << xx << "; xy " << stress[5] << " numeric " << xy);
  CHECK(std::abs(stress[0]) > 0.02);  // compressed: |σ| ≳ 3 GPa
  CHECK(stress[0] == Approx(xx).margin(0.004));
  CHECK(stress[5] == Approx(xy).margin(0.004));
}

TEST_CASE("qe oracle parses pw.x output units and signs", "[oracle][qe]") {
  const std::string output =
      "     End of self-consistent calculation\n"
      "!    total energy              =     -15.84000000 Ry\n"
      "     Forces acting on atoms (cartesian axes, Ry/au):\n\n"
      "     atom    1 type  1   force =     0.01000000   -0.02000000    0.00000000\n"
      "     atom    2 type  1   force =    -0.01000000    0.02000000    0.00000000\n"
      "     The non-local contrib.  to forces\n"
      "     total   stress  (Ry/bohr**3)                   (kbar)     P=      147.10\n"
      "   0.00100000   0.00020000   0.00030000          147.10       29.42       44.13\n"
      "   0.00020000   0.00100000   0.00000000           29.42      147.10        0.00\n"
      "   0.00030000   0.00000000   0.00100000           44.13        0.00      147.10\n"
      "     JOB DONE.\n";
  const auto result = oracle::parse_pw_output(output, 2, "pw.out");
  CHECK(result.energy == Approx(-15.84 * 13.605693122994));
  CHECK(result.forces(0, 0) == Approx(0.01 * 13.605693122994 / 0.529177210903));
  CHECK(result.forces(1, 1) == Approx(0.02 * 13.605693122994 / 0.529177210903));
  const double unit = 13.605693122994 / std::pow(0.529177210903, 3);
  CHECK(result.stress[0] == Approx(-0.001 * unit));   // compression: negative ASE stress
  CHECK(result.stress[4] == Approx(-0.0003 * unit));  // xz
  CHECK(result.stress[5] == Approx(-0.0002 * unit));  // xy
  CHECK(result.stress[3] == Approx(0.0).margin(1e-12));
  // Missing pieces are unparsable output, named.
  const auto kind_of = [](const std::string& text) {
    try {
      oracle::parse_pw_output(text, 2, "pw.out");
    } catch (const oracle::OracleFailure& failure) {
      return failure.kind();
    }
    FAIL("no failure");
    return oracle::FailureKind::timeout;
  };
  CHECK(kind_of(output.substr(0, output.find("     JOB DONE"))) ==
        oracle::FailureKind::unparsable_output);
  CHECK(kind_of(output.substr(0, output.find("     total   stress"))) ==
        oracle::FailureKind::unparsable_output);
  CHECK(kind_of("     convergence NOT achieved after 100 iterations: stopping\n") ==
        oracle::FailureKind::not_converged);
}

TEST_CASE("qe oracle reports a pw.x that exits non-zero", "[oracle][qe]") {
  TemporaryDirectory directory("otfgp-qe-fake");
  const auto program = fake_program(directory.path(), "pw.x",
                                    "echo 'Error in routine cdiaghg (1): S matrix' >&2\nexit 3\n");
  auto oracle = qe_oracle(std::string(silicon_qe) + "command: " + program.string() + "\n");
  oracle->check({14});
  try {
    oracle->label(silicon_pair(), directory / "run", 0);
    FAIL("no failure");
  } catch (const oracle::OracleFailure& failure) {
    CHECK(failure.kind() == oracle::FailureKind::nonzero_exit);
    CHECK_THAT(failure.what(), Contains("status 3") && Contains("cdiaghg"));
  }
}

TEST_CASE("qe oracle reports an SCF that never converges, and retries with safer settings",
          "[oracle][qe]") {
  TemporaryDirectory directory("otfgp-qe-fake");
  const auto received = directory / "received.txt";
  const auto program = fake_program(
      directory.path(), "pw.x",
      "cat \"$2\" >> " + received.string() + "\necho '=====' >> " + received.string() +
          "\necho '     convergence NOT achieved after 100 iterations: stopping'\nexit 0\n");
  auto oracle = qe_oracle(std::string(silicon_qe) + "command: " + program.string() +
                          "\nmixing_beta: 0.6\nelectron_maxstep: 80\n");
  for (int attempt : {0, 1}) {
    try {
      oracle->label(silicon_pair(), directory / ("run" + std::to_string(attempt)), attempt);
      FAIL("no failure");
    } catch (const oracle::OracleFailure& failure) {
      CHECK(failure.kind() == oracle::FailureKind::not_converged);
    }
  }
  const std::string inputs = read_text(received);
  const auto split = inputs.find("=====");
  const std::string first = inputs.substr(0, split), second = inputs.substr(split);
  CHECK_THAT(first, Contains("mixing_beta = 0.6\n") && Contains("electron_maxstep = 80\n"));
  CHECK_THAT(second, Contains("mixing_beta = 0.3\n") && Contains("electron_maxstep = 200\n") &&
                         Contains("mixing_mode = 'local-TF'"));
}

TEST_CASE("qe oracle kills a pw.x that hangs past the timeout", "[oracle][qe]") {
  TemporaryDirectory directory("otfgp-qe-fake");
  const auto program = fake_program(directory.path(), "pw.x", "sleep 60\n");
  auto oracle = qe_oracle(
      "kind: qe\npseudopotentials: {Si: Si.pbe-rrkj.UPF}\necutwfc: 20\ntimeout: 1\ncommand: " +
      program.string() + "\n");
  const auto start = std::chrono::steady_clock::now();
  try {
    oracle->label(silicon_pair(), directory / "run", 0);
    FAIL("no failure");
  } catch (const oracle::OracleFailure& failure) {
    CHECK(failure.kind() == oracle::FailureKind::timeout);
    CHECK_THAT(failure.what(), Contains("timed out after 1 s"));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(seconds >= 1.0);
  CHECK(seconds < 4.0);
}

TEST_CASE("qe oracle check names what is missing before any run", "[oracle][qe]") {
  CHECK_THROWS_WITH(
      qe_oracle(std::string(silicon_qe) + "command: mpirun -np 2 otfgp-no-pw.x\n")->check({14}),
      Contains("otfgp-no-pw.x") && Contains("after 'mpirun'"));
  CHECK_THROWS_WITH(qe_oracle(std::string(silicon_qe) + "command: otfgp-no-pw.x\n")->check({14}),
                    Contains("otfgp-no-pw.x") && Contains("not found"));
  CHECK_THROWS_WITH(
      qe_oracle("kind: qe\npseudopotentials: {Si: Si.missing.UPF}\necutwfc: 20\n")->check({14}),
      Contains("Si.missing.UPF") && Contains("Si.pbe-rrkj.UPF"));
  // The structure holds oxygen too; no pseudopotential was given for it.
  CHECK_THROWS_WITH(qe_oracle(silicon_qe)->check({8, 14}),
                    Contains("no pseudopotential for O") && Contains("O.pbe-rrkjus.UPF"));
  CHECK_THROWS_WITH(qe_oracle("kind: qe\npseudopotentials: {Xx: X.UPF}\necutwfc: 20\n"),
                    Contains("unknown element 'Xx'"));
  CHECK_THROWS_WITH(
      qe_oracle("kind: qe\npseudopotentials: {Si: Si.pbe-rrkj.UPF}\necutwfc: 20\necutrhoo: 80\n"),
      Contains("ecutrho"));
  CHECK_THROWS_WITH(qe_oracle("kind: qe\npseudopotentials: {Si: Si.pbe-rrkj.UPF}\necutwfc: 20\n"
                              "input: {system: {nat: 3}}\n"),
                    Contains("'nat' is set by otfgp"));
  CHECK_THROWS_WITH(qe_oracle("kind: qe\npseudopotentials: {Si: Si.pbe-rrkj.UPF}\necutwfc: 20\n"
                              "pseudo_dir: /nonexistent\n")
                        ->check({14}),
                    Contains("/nonexistent"));
}
