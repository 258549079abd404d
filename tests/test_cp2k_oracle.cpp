// The `cp2k` oracle: real CP2K forces and stress against central differences
// of CP2K's own energies (units and signs), the basis/pseudopotential lookup
// in cp2k-data, and fake cp2k programs that fail.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <sstream>

#include "otfgp/oracle/cp2k_oracle.hpp"
#include "otfgp/oracle/oracle.hpp"
#include "support/oracle_finite_difference.hpp"
#include "support/oracle_setup.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using Catch::Matchers::Contains;
using otfgp::testing::TemporaryDirectory;

namespace {

using testing::read_text;
using testing::silicon_pair;

std::unique_ptr<oracle::Oracle> cp2k_oracle(const std::string& yaml) {
  return testing::oracle_from_yaml(yaml);
}

// Cheap settings: the differences test consistency, not accuracy.
const char* const silicon_cp2k =
    "kind: cp2k\n"
    "basis_set: SZV-MOLOPT-SR-GTH\n"
    "cutoff: 120\n"
    "rel_cutoff: 30\n"
    "eps_scf: 1.0e-9\n"
    "timeout: 300\n"
    "environment: {OMP_NUM_THREADS: '1'}\n";

}  // namespace

TEST_CASE("cp2k oracle forces and stress are finite differences of CP2K's energies",
          "[oracle][cp2k]") {
  TemporaryDirectory directory("otfgp-cp2k");
  auto oracle = cp2k_oracle(silicon_cp2k);
  REQUIRE(oracle->kind() == "cp2k");
  const Structure si = silicon_pair();
  oracle->check(si.species());
  const auto start = std::chrono::steady_clock::now();
  const Structure labelled = oracle->label(si, directory / "base", 0);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WARN("cp2k single point, Si2, SZV, 120 Ry, gamma: " << seconds << " s");
  // The pseudopotential was looked up to match the basis set's valence.
  CHECK_THAT(read_text(directory / "base" / "cp2k.inp"),
             Contains("BASIS_SET SZV-MOLOPT-SR-GTH") && Contains("POTENTIAL GTH-PBE-q4"));
  REQUIRE(labelled.energy);
  REQUIRE(labelled.forces);
  REQUIRE(labelled.stress);
  CHECK(labelled.forces->norm() > 0.1);
  CHECK(labelled.forces->colwise().sum().norm() < 1e-3);

  const double numeric =
      testing::oracle_force_difference(*oracle, si, 1, 0, 0.003, directory.path());
  INFO("force: analytic " << (*labelled.forces)(1, 0) << " numeric " << numeric);
  CHECK((*labelled.forces)(1, 0) == Approx(numeric).margin(1e-3));
  const double xx = testing::oracle_stress_difference(*oracle, si, 0, 0, 0.002, directory.path());
  INFO("stress xx: analytic " << (*labelled.stress)[0] << " numeric " << xx);
  CHECK(std::abs((*labelled.stress)[0]) > 0.02);
  CHECK((*labelled.stress)[0] == Approx(xx).margin(5e-4));
}

TEST_CASE("cp2k oracle parses CP2K output units and signs", "[oracle][cp2k]") {
  const std::string output =
      " ENERGY| Total FORCE_EVAL ( QS ) energy [a.u.]:               -7.857850348440538\n"
      "\n ATOMIC FORCES in [a.u.]\n\n"
      " # Atom   Kind   Element          X              Y              Z\n"
      "      1      1      Si         -0.03211958     0.02065296     0.00858843\n"
      "      2      1      Si          0.03211955    -0.02065290    -0.00858847\n"
      " SUM OF ATOMIC FORCES          -0.00000003     0.00000006    -0.00000004     0.00000008\n"
      "\n STRESS| Analytical stress tensor [GPa]\n"
      " STRESS|                        x                   y                   z\n"
      " STRESS|      x        8.57200468636E+00  -1.01376744479E+01  -1.16172250410E+01\n"
      " STRESS|      y       -1.01376744479E+01   1.08661206486E+01  -3.29105164525E+00\n"
      " STRESS|      z       -1.16172250410E+01  -3.29105164525E+00   1.15089571660E+01\n"
      "  **** **** ******  **  PROGRAM ENDED AT                 2026-11-28 07:40:00.000\n";
  const auto result = oracle::parse_cp2k_output(output, 2, "cp2k.out");
  CHECK(result.energy == Approx(-7.857850348440538 * 27.211386245988));
  CHECK(result.forces(0, 0) == Approx(-0.03211958 * 27.211386245988 / 0.529177210903));
  CHECK(result.forces(1, 2) == Approx(-0.00858847 * 27.211386245988 / 0.529177210903));
  CHECK(result.stress[0] == Approx(-8.57200468636 / 160.21766208));
  CHECK(result.stress[3] == Approx(3.29105164525 / 160.21766208));  // yz
  CHECK(result.stress[4] == Approx(11.6172250410 / 160.21766208));  // xz
  CHECK(result.stress[5] == Approx(10.1376744479 / 160.21766208));  // xy
  const auto kind_of = [](const std::string& text) {
    try {
      oracle::parse_cp2k_output(text, 2, "cp2k.out");
    } catch (const oracle::OracleFailure& failure) {
      return failure.kind();
    }
    FAIL("no failure");
    return oracle::FailureKind::timeout;
  };
  CHECK(kind_of(output.substr(0, output.find("  ****"))) == oracle::FailureKind::unparsable_output);
  CHECK(kind_of(output.substr(output.find("\n ATOMIC"))) == oracle::FailureKind::unparsable_output);
  CHECK(kind_of("  *** SCF run NOT converged ***\n") == oracle::FailureKind::not_converged);
}

TEST_CASE("cp2k oracle reports an SCF that never converges and retries gentler", "[oracle][cp2k]") {
  TemporaryDirectory directory("otfgp-cp2k-fake");
  const auto received = directory / "received.txt";
  const auto program = testing::fake_program(
      directory.path(), "cp2k",
      "cat \"$2\" >> " + received.string() + "\necho ===== >> " + received.string() +
          "\necho ' *** SCF run NOT converged ***'\nexit 0\n");
  auto oracle = cp2k_oracle(std::string(silicon_cp2k) + "command: " + program.string() +
                            "\nmixing_alpha: 0.4\nmax_scf: 60\n");
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
  CHECK_THAT(inputs.substr(0, split), Contains("ALPHA 0.4\n") && Contains("MAX_SCF 60\n"));
  CHECK_THAT(inputs.substr(split), Contains("ALPHA 0.2\n") && Contains("MAX_SCF 200\n"));

  std::ofstream(program) << "#!/bin/sh\necho 'ABORT: out of memory' >&2\nexit 1\n";
  try {
    oracle->label(silicon_pair(), directory / "crash", 0);
    FAIL("no failure");
  } catch (const oracle::OracleFailure& failure) {
    CHECK(failure.kind() == oracle::FailureKind::nonzero_exit);
    CHECK_THAT(failure.what(), Contains("out of memory"));
  }
}

TEST_CASE("cp2k oracle: the retry gets twice the timeout; non-periodic structures are refused",
          "[oracle][cp2k]") {
  TemporaryDirectory directory("otfgp-cp2k-fake");
  // 1.5 s of SCF that does not converge: past a 1 s timeout, within the retry's 2 s.
  const auto program = testing::fake_program(
      directory.path(), "cp2k", "sleep 1.5\necho ' *** SCF run NOT converged ***'\nexit 0\n");
  auto oracle =
      cp2k_oracle(std::string(silicon_cp2k) + "command: " + program.string() + "\ntimeout: 1\n");
  const oracle::FailureKind expected[2] = {oracle::FailureKind::timeout,
                                           oracle::FailureKind::not_converged};
  for (int attempt : {0, 1}) {
    INFO("attempt " << attempt);
    try {
      oracle->label(silicon_pair(), directory / ("run" + std::to_string(attempt)), attempt);
      FAIL("no failure");
    } catch (const oracle::OracleFailure& failure) {
      CHECK(failure.kind() == expected[attempt]);
    }
  }
  Structure slab = silicon_pair();
  slab.pbc = {true, true, false};
  CHECK_THROWS_WITH(oracle->check_structure(slab), Contains("periodic structures only"));
  CHECK_NOTHROW(oracle->check_structure(silicon_pair()));
}

TEST_CASE("cp2k oracle looks basis sets and pseudopotentials up per element", "[oracle][cp2k]") {
  TemporaryDirectory directory("otfgp-cp2k-fake");
  // Ba, Rh and O all have DZVP-MOLOPT-SR-GTH; the pseudopotentials follow its valence.
  const auto program = testing::fake_program(directory.path(), "cp2k", "exit 0\n");
  auto oracle = cp2k_oracle("kind: cp2k\ncommand: " + program.string() + "\n");
  oracle->check({8, 45, 56});
  Structure barho;
  barho.cell = Eigen::Matrix3d::Identity() * 4.0;
  barho.positions.resize(3, 3);
  barho.positions << 0, 0, 0, 2, 2, 2, 2, 2, 0;
  barho.numbers = {56, 45, 8};
  CHECK_THROWS(oracle->label(barho, directory / "run", 0));  // the fake writes no output
  const std::string input = read_text(directory / "run" / "cp2k.inp");
  CHECK_THAT(input, Contains("&KIND Ba\n      BASIS_SET DZVP-MOLOPT-SR-GTH\n      POTENTIAL "
                             "GTH-PBE-q10") &&
                        Contains("&KIND Rh\n      BASIS_SET DZVP-MOLOPT-SR-GTH\n      POTENTIAL "
                                 "GTH-PBE-q17") &&
                        Contains("&KIND O\n      BASIS_SET DZVP-MOLOPT-SR-GTH\n      POTENTIAL "
                                 "GTH-PBE-q6"));

  CHECK_THROWS_WITH(cp2k_oracle("kind: cp2k\nbasis_set: NO-SUCH-BASIS\n")->check({14}),
                    Contains("NO-SUCH-BASIS") && Contains("Si") && Contains("DZVP-MOLOPT-SR-GTH"));
  CHECK_THROWS_WITH(cp2k_oracle("kind: cp2k\nfunctional: NOPE\n")->check({14}),
                    Contains("GTH-NOPE-q4"));
  CHECK_THROWS_WITH(cp2k_oracle("kind: cp2k\npotentials: {Si: GTH-PBE-q99}\n")->check({14}),
                    Contains("GTH-PBE-q99"));
  CHECK_THROWS_WITH(cp2k_oracle("kind: cp2k\ncommand: otfgp-no-cp2k\n")->check({14}),
                    Contains("otfgp-no-cp2k"));
  CHECK_THROWS_WITH(cp2k_oracle("kind: cp2k\ndata_dir: /nonexistent\n"), Contains("/nonexistent"));
  CHECK_THROWS_WITH(cp2k_oracle("kind: cp2k\ncutof: 300\n"), Contains("cutoff"));
}

TEST_CASE("cp2k oracle k-point meshes are Γ-centred, as qe's", "[oracle][cp2k]") {
  TemporaryDirectory directory("otfgp-cp2k-kpoints");
  const auto program = testing::fake_program(directory.path(), "cp2k", "exit 0\n");
  auto oracle = cp2k_oracle("kind: cp2k\nkpoints: [2, 3, 4]\ncommand: " + program.string() + "\n");
  CHECK_THROWS(oracle->label(silicon_pair(), directory / "run", 0));  // the fake writes no output
  // MACDONALD shifts CP2K's Monkhorst–Pack points by 1/(2n) along even n.
  CHECK_THAT(read_text(directory / "run" / "cp2k.inp"),
             Contains("&KPOINTS\n      SCHEME MACDONALD 2 3 4 0.25 0.0 0.125\n    &END KPOINTS"));

  // Ideal silicon in the fcc primitive cell: forces and shear stress vanish
  // by symmetry on a Γ-centred 2×2×2 mesh. (CP2K's own shifted MONKHORST-PACK
  // mesh gave 0.28 eV/Å and a shear stress of 6.7 GPa here.)
  Structure ideal;
  const double a = 5.43;
  ideal.cell << 0, a / 2, a / 2, a / 2, 0, a / 2, a / 2, a / 2, 0;
  ideal.positions.resize(2, 3);
  ideal.positions << 0, 0, 0, a / 4, a / 4, a / 4;
  ideal.numbers = {14, 14};
  auto real = cp2k_oracle(std::string(silicon_cp2k) + "kpoints: [2, 2, 2]\n");
  const Structure labelled = real->label(ideal, directory / "ideal", 0);
  REQUIRE(labelled.forces);
  REQUIRE(labelled.stress);
  const Voigt& stress = *labelled.stress;
  INFO("max |F| " << labelled.forces->cwiseAbs().maxCoeff() << " eV/Å; stress "
                  << stress.transpose() << " eV/Å³");
  CHECK(labelled.forces->cwiseAbs().maxCoeff() < 1e-3);
  CHECK(stress.tail<3>().cwiseAbs().maxCoeff() < 1e-4);  // 0.016 GPa
  CHECK(stress[0] == Approx(stress[1]).margin(1e-5));
  CHECK(stress[0] == Approx(stress[2]).margin(1e-5));
}

TEST_CASE("cp2k oracle reports wrong YAML types in its mappings as config errors",
          "[oracle][cp2k]") {
  CHECK_THROWS_WITH(cp2k_oracle("kind: cp2k\nbasis_sets: {Si: [DZVP-MOLOPT-SR-GTH]}\n"),
                    Contains("oracle.yaml, line 2: key 'basis_sets.Si': expected a string"));
  CHECK_THROWS_WITH(cp2k_oracle("kind: cp2k\npotentials: {Si: {q: 4}}\n"),
                    Contains("oracle.yaml, line 2: key 'potentials.Si'") && Contains("mapping"));
}
