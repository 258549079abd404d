// The `qe` oracle: real pw.x forces and stress against central differences of
// pw.x's own energies (units and signs), and fake pw.x programs that fail in
// each way the on-the-fly loop must tell apart.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <spdlog/sinks/ostream_sink.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/oracle/oracle.hpp"
#include "otfgp/oracle/qe_oracle.hpp"
#include "support/environment.hpp"
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
  // pw.x 6.7 with scf_must_converge = .false. stops at electron_maxstep and
  // prints "convergence has been achieved": the last accuracy, above the
  // threshold, says it was not.
  const std::string header = "     scf convergence threshold =      8.0E-09\n";
  const auto after = [](double accuracy) {
    return fmt::format(
        "     estimated scf accuracy    <       1.77944265 Ry\n"
        "     estimated scf accuracy    <       {:.8E} Ry\n"
        "     convergence has been achieved in   2 iterations\n",
        accuracy);
  };
  try {
    oracle::parse_pw_output(header + after(0.48249888) + output, 2, "pw.out");
    FAIL("an unconverged SCF was accepted");
  } catch (const oracle::OracleFailure& failure) {
    CHECK(failure.kind() == oracle::FailureKind::not_converged);
    CHECK_THAT(failure.what(), Contains("pw.out: SCF not converged") && Contains("0.482499 Ry") &&
                                   Contains("8e-09 Ry"));
  }
  CHECK(oracle::parse_pw_output(header + after(5.1e-10) + output, 2, "pw.out").energy ==
        result.energy);
  // pw.x prints an accuracy above 1e-8 to 8 decimals: 5.58e-8 reads
  // 0.00000006, above a threshold of 5.6E-08 only by its rounding (a
  // converged run); 0.00000007 is above it whatever the rounding.
  const auto printed = [&](const std::string& accuracy) {
    return "     scf convergence threshold =      5.6E-08\n     estimated scf accuracy    <      "
           " " +
           accuracy + " Ry\n" + output;
  };
  CHECK(oracle::parse_pw_output(printed("0.00000006"), 2, "pw.out").energy == result.energy);
  CHECK(kind_of(printed("0.00000007")) == oracle::FailureKind::not_converged);
  CHECK(kind_of(printed("6.2E-08")) == oracle::FailureKind::not_converged);
  CHECK(oracle::parse_pw_output(printed("5.6E-08"), 2, "pw.out").energy == result.energy);
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
  // A cluster without a cell: pw.x needs a box around it.
  Structure cluster = silicon_pair();
  cluster.cell.setZero();
  cluster.pbc = {false, false, false};
  CHECK_THROWS_WITH(qe_oracle(silicon_qe)->check_structure(cluster),
                    Contains("the qe oracle needs a cell") && Contains("box with vacuum"));
  cluster.cell = Eigen::Matrix3d::Identity() * 12.0;  // in a box: labelled
  CHECK_NOTHROW(qe_oracle(silicon_qe)->check_structure(cluster));
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

namespace {

const std::filesystem::path debian_pseudo = "/usr/share/espresso/pseudo";

std::string minimal_qe(const std::string& pseudopotentials) {
  return "kind: qe\npseudopotentials: " + pseudopotentials + "\necutwfc: 20\n";
}

// The lines of pw.in's ATOMIC_SPECIES card, one per species.
std::vector<std::string> species_card(const std::string& input) {
  std::vector<std::string> lines;
  std::istringstream in(input.substr(input.find("ATOMIC_SPECIES\n") + 15));
  for (std::string line; std::getline(in, line) && line.find("CELL_PARAMETERS") != 0;)
    lines.push_back(line);
  return lines;
}

Structure magnesium_oxide(bool with_oxygen) {
  Structure frame;
  frame.cell = Eigen::Matrix3d::Identity() * 4.2;
  frame.positions.resize(with_oxygen ? 2 : 1, 3);
  frame.positions.row(0) << 0, 0, 0;
  if (with_oxygen) frame.positions.row(1) << 2.1, 2.1, 2.1;
  frame.numbers = with_oxygen ? std::vector<int>{12, 8} : std::vector<int>{12};
  return frame;
}

}  // namespace

TEST_CASE("qe oracle reads the element of every pseudopotential and refuses a mismatch",
          "[oracle][qe]") {
  // Swapped files: pw.x runs them without a word and labels every frame wrongly.
  CHECK_THROWS_WITH(
      qe_oracle(minimal_qe("{Mg: O.pz-rrkjus.UPF, O: Mg.pz-n-vbc.UPF}"))->check({8, 12}),
      Contains("pseudopotentials.Mg: ") &&
          Contains("/O.pz-rrkjus.UPF is a pseudopotential for O, not Mg"));
  CHECK_THROWS_WITH(qe_oracle(minimal_qe("{Si: C.pbe-mt_gipaw.UPF}"))->check({14}),
                    Contains("pseudopotentials.Si") && Contains("C.pbe-mt_gipaw.UPF") &&
                        Contains("for C, not Si"));
  // UPF v1 (the element on a line of <PP_HEADER>): Si's file under Rh is
  // refused, Rh's own file with another name is fine.
  CHECK_THROWS_WITH(qe_oracle(minimal_qe("{Rh: Si.rel-pbe-rrkj.UPF}"))->check({45}),
                    Contains("pseudopotentials.Rh") && Contains("for Si, not Rh"));
  qe_oracle(minimal_qe("{Rh: Rhs.pbe-rrkjus_lb.UPF}"))->check({45});
  // Padded and upper-case symbols, over several lines, match case-insensitively.
  TemporaryDirectory directory("otfgp-qe-upf");
  std::ofstream(directory / "Si.padded.UPF")
      << "<UPF version=\"2.0.1\">\n<PP_INFO>\n element of silicon\n</PP_INFO>\n<PP_HEADER\n"
         "   generated=\"by hand\"\n   element=\" SI \"\n   z_valence=\"4\"/>\n<PP_MESH>\n";
  CHECK(oracle::upf_element(directory / "Si.padded.UPF") == std::optional<std::string>("SI"));
  qe_oracle(minimal_qe("{Si: Si.padded.UPF}\npseudo_dir: " + directory.path().string()))
      ->check({14});
  CHECK_THROWS_WITH(
      qe_oracle(minimal_qe("{O: Si.padded.UPF}\npseudo_dir: " + directory.path().string()))
          ->check({8}),
      Contains("pseudopotentials.O") && Contains("for SI, not O"));
  // A file that names no element (an old non-UPF format) is not refused, and
  // is warned about once.
  std::ostringstream log;
  logger().sinks().push_back(std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  auto old_format = qe_oracle(minimal_qe("{Si: Si.bhs}"));
  old_format->check({14});
  old_format->check({14});
  logger().sinks().pop_back();
  const std::string warnings = log.str();
  CHECK_THAT(warnings, Contains("pseudopotentials.Si") && Contains("Si.bhs"));
  CHECK(warnings.find("Si.bhs") == warnings.rfind("Si.bhs"));

  // Every UPF file of Debian's quantum-espresso-data names its element, and
  // its name starts with that element (Rhs… is Rh, CorelUSPBE… Co, pb_s Pb).
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(debian_pseudo)) {
    const std::string name = entry.path().filename().string();
    std::string lower_name = name;
    for (char& c : lower_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower_name.size() < 4 || lower_name.substr(lower_name.size() - 4) != ".upf") continue;
    ++files;
    const auto symbol = oracle::upf_element(entry.path());
    INFO(name);
    REQUIRE(symbol);
    std::string canonical = *symbol;
    for (char& c : canonical) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    canonical[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(canonical[0])));
    CHECK(find_atomic_number(canonical) != 0);
    std::string lower_symbol = canonical;
    lower_symbol[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(lower_symbol[0])));
    CHECK(lower_name.rfind(lower_symbol, 0) == 0);
  }
  CHECK(files > 50);
}

TEST_CASE(
    "qe oracle writes the species of pseudopotentials in its order; with species-indexed "
    "input keys every species in every frame",
    "[oracle][qe]") {
  TemporaryDirectory directory("otfgp-qe-fake");
  const auto received = directory / "received.txt";
  const auto program =
      fake_program(directory.path(), "pw.x", "cat \"$2\" >> " + received.string() + "\nexit 3\n");
  // O first: species 1 is O and species 2 Mg in every frame, so that
  // starting_magnetization(2) is Mg's in the Mg frame and in the MgO frame.
  auto oracle = qe_oracle(
      minimal_qe("{O: O.pz-rrkjus.UPF, Mg: Mg.pz-n-vbc.UPF}\ncommand: " + program.string() +
                 "\ninput: {system: {starting_magnetization(2): 0.5}}\n"));
  oracle->check({8, 12});
  for (bool with_oxygen : {false, true}) {
    std::filesystem::remove(received);
    CHECK_THROWS_AS(
        oracle->label(magnesium_oxide(with_oxygen), directory / (with_oxygen ? "MgO" : "Mg"), 0),
        oracle::OracleFailure);
    const std::string input = read_text(received);
    INFO(input);
    CHECK_THAT(input, Contains("ntyp = 2\n") && Contains("starting_magnetization(2) = 0.5\n"));
    const auto card = species_card(input);
    REQUIRE(card.size() == 2);
    CHECK(card[0].rfind("O ", 0) == 0);
    CHECK_THAT(card[0], Contains("O.pz-rrkjus.UPF"));
    CHECK(card[1].rfind("Mg ", 0) == 0);
    CHECK_THAT(card[1], Contains("Mg.pz-n-vbc.UPF"));
  }
  // Without species-indexed keys a frame has its own species only, in the
  // mapping's order: another functional's file for an element the frame lacks,
  // or more elements than pw.x's 10 species, do not reach pw.x.
  auto plain = qe_oracle(
      minimal_qe("{O: O.pz-rrkjus.UPF, Mg: Mg.pz-n-vbc.UPF}\ncommand: " + program.string()));
  for (bool with_oxygen : {false, true}) {
    std::filesystem::remove(received);
    CHECK_THROWS_AS(plain->label(magnesium_oxide(with_oxygen),
                                 directory / (with_oxygen ? "plain-MgO" : "plain-Mg"), 0),
                    oracle::OracleFailure);
    const auto card = species_card(read_text(received));
    INFO(read_text(received));
    REQUIRE(card.size() == (with_oxygen ? 2u : 1u));
    CHECK(card.back().rfind("Mg ", 0) == 0);
    if (with_oxygen) CHECK(card[0].rfind("O ", 0) == 0);
  }
  const std::string eleven =
      "{H: a, He: a, Li: a, Be: a, B: a, C: a, N: a, O: a, F: a, Ne: a, Na: a}";
  CHECK_NOTHROW(qe_oracle(minimal_qe(eleven)));
  // With them, more species than pw.x takes (ntypx = 10) is refused when the config is read.
  CHECK_THROWS_WITH(
      qe_oracle(minimal_qe(eleven) + "input: {system: {nspin: 2, starting_magnetization(1): 1}}\n"),
      Contains("pseudopotentials") && Contains("at most 10 species"));
}

TEST_CASE("pw.x accepts a species without atoms: the energy does not change", "[oracle][qe]") {
  // The fixed species order lists every species of the mapping in every
  // frame; pw.x must give a frame without O the energy it gives without O's
  // species (checked with pw.x 6.7/7.x: equal to the last digit).
  TemporaryDirectory directory("otfgp-qe");
  const std::string settings = "ecutwfc: 20\nkspacing: 1.05\nenvironment: {OMP_NUM_THREADS: '1'}\n";
  auto silicon = qe_oracle("kind: qe\npseudopotentials: {Si: Si.pbe-rrkj.UPF}\n" + settings);
  // A species-indexed key (a harmless one) makes every species of the mapping a species.
  auto with_oxygen =
      qe_oracle("kind: qe\npseudopotentials: {O: O.pbe-rrkjus.UPF, Si: Si.pbe-rrkj.UPF}\n" +
                settings + "input: {system: {'starting_charge(2)': 0.0}}\n");
  with_oxygen->check({14});
  const Structure alone = silicon->label(silicon_pair(), directory / "Si", 0);
  const Structure listed = with_oxygen->label(silicon_pair(), directory / "SiO", 0);
  CHECK_THAT(read_text(directory / "SiO" / "pw.in"), Contains("ntyp = 2\n"));
  CHECK(*listed.energy == Approx(*alone.energy).margin(1e-6));
  CHECK((*listed.forces - *alone.forces).cwiseAbs().maxCoeff() < 1e-5);
  CHECK((*listed.stress - *alone.stress).cwiseAbs().maxCoeff() < 1e-6);
}

TEST_CASE("qe oracle takes pseudopotentials given as paths", "[oracle][qe]") {
  TemporaryDirectory directory("otfgp-qe-paths");
  std::filesystem::create_directories(directory / "pp" / "a");
  std::filesystem::create_directories(directory / "pp" / "b");
  std::filesystem::copy_file(debian_pseudo / "Si.pbe-rrkj.UPF", directory / "pp" / "Si.UPF");
  std::filesystem::copy_file(debian_pseudo / "Si.pbe-rrkj.UPF", directory / "pp" / "a" / "x.UPF");
  std::filesystem::copy_file(debian_pseudo / "O.pbe-rrkjus.UPF", directory / "pp" / "b" / "x.UPF");
  const std::string settings =
      "ecutwfc: 20\nkspacing: 1.05\nenvironment: {OMP_NUM_THREADS: '1'}\ntimeout: 120\n";
  // An absolute path: pw.x reads it (it takes one pseudo_dir and file names).
  auto absolute =
      qe_oracle("kind: qe\npseudopotentials: {Si: " + (directory / "pp" / "Si.UPF").string() +
                "}\n" + settings);
  absolute->check({14});
  const Structure labelled = absolute->label(silicon_pair(), directory / "run", 0);
  REQUIRE(labelled.energy);
  CHECK(*labelled.energy / 2 == Approx(-105.7).margin(0.3));

  // Relative paths are relative to the config's folder; two files of one
  // name from two folders are both there, under distinct names.
  const auto received = directory / "received.txt";
  const auto program = fake_program(
      directory.path(), "pw.x",
      "cat \"$2\" > " + received.string() + "\nfor f in pseudo/*; do cmp -s \"$f\" " +
          (directory / "pp" / "a" / "x.UPF").string() + " && echo \"Si file: $f\" >> " +
          received.string() + "; cmp -s \"$f\" " + (directory / "pp" / "b" / "x.UPF").string() +
          " && echo \"O file: $f\" >> " + received.string() + "; done\nexit 3\n");
  auto relative = qe_oracle("kind: qe\npseudopotentials: {Si: pp/a/x.UPF, O: ./pp/b/x.UPF}\n" +
                                settings + "command: " + program.string() +
                                "\ninput: {system: {'starting_charge(1)': 0.0}}\n",
                            directory.path());
  relative->check({8, 14});
  CHECK_THROWS_AS(relative->label(silicon_pair(), directory / "fake", 0), oracle::OracleFailure);
  const std::string input = read_text(received);
  INFO(input);
  // Relative to the call's folder: pw.x keeps pseudo_dir in 256 characters.
  CHECK_THAT(input, Contains("pseudo_dir = './pseudo/'"));
  const auto card = species_card(input);
  REQUIRE(card.size() == 2);
  CHECK_THAT(card[0], Contains(" x.UPF"));
  CHECK_THAT(card[1], Contains(" O-x.UPF"));
  CHECK_THAT(input, Contains("Si file: pseudo/x.UPF") && Contains("O file: pseudo/O-x.UPF"));

  CHECK_THROWS_WITH(qe_oracle(minimal_qe("{Si: pp/missing.UPF}"), directory.path())->check({14}),
                    Contains("pseudopotentials.Si") &&
                        Contains((directory / "pp" / "missing.UPF").string()) &&
                        Contains("not found"));
}

TEST_CASE("qe oracle reports wrong YAML types in its mappings as config errors", "[oracle][qe]") {
  const auto message = [](const std::string& yaml) {
    try {
      qe_oracle(yaml);
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(message(minimal_qe("{Si: [Si.pbe-rrkj.UPF]}")),
             Contains("oracle.yaml, line 2: key 'pseudopotentials.Si': expected a string, got a "
                      "sequence"));
  CHECK_THAT(message(minimal_qe("{Si: Si.pbe-rrkj.UPF}") +
                     "input: {system: {starting_magnetization: [0.5, 0]}}\n"),
             Contains("oracle.yaml, line 4: key 'input.system.starting_magnetization'") &&
                 Contains("starting_magnetization(1)"));
  CHECK_THAT(message(minimal_qe("{Si: Si.pbe-rrkj.UPF}") + "input: {system: [nspin]}\n"),
             Contains("line 4: key 'input.system': expected a mapping"));
  // A setting given both as an oracle key and in a namelist.
  CHECK_THAT(
      message(minimal_qe("{Si: Si.pbe-rrkj.UPF}") + "input: {system: {ecutwfc: 30}}\n"),
      Contains("key 'input.system.ecutwfc'") && Contains("given twice") && Contains("ecutwfc"));
  CHECK(message(minimal_qe("{Si: Si.pbe-rrkj.UPF}") + "input: {electrons: {mixing_beta: 0.3}}\n") ==
        "no error");
  // An SCF told not to stop at electron_maxstep: pw.x would call it converged.
  CHECK_THAT(message(minimal_qe("{Si: Si.pbe-rrkj.UPF}") +
                     "input: {electrons: {scf_must_converge: false}}\n"),
             Contains("key 'input.electrons.scf_must_converge': cannot be false") &&
                 Contains("converged SCF"));
  CHECK(message(minimal_qe("{Si: Si.pbe-rrkj.UPF}") +
                "input: {electrons: {scf_must_converge: .true.}}\n") == "no error");
  CHECK_THAT(
      message(minimal_qe("{Si: Si.pbe-rrkj.UPF}") + "environment: {A: {b: 1}}\n"),
      Contains("oracle.yaml, line 4: key 'environment.A': expected a string, got a mapping"));
}

TEST_CASE("the oracle's environment PATH finds its program, for check and for the call",
          "[oracle][qe]") {
  TemporaryDirectory directory("otfgp-qe-path");
  std::filesystem::create_directories(directory / "own");
  std::filesystem::create_directories(directory / "given");
  const auto marker = directory / "ran.txt";
  fake_program(directory / "own", "otfgp-mypw", "echo own > " + marker.string() + "\nexit 3\n");
  fake_program(directory / "given", "otfgp-mypw", "echo given > " + marker.string() + "\nexit 3\n");
  const std::string yaml = std::string(silicon_qe) + "command: otfgp-mypw\n";
  const std::string given_path = (directory / "given").string() + ":/usr/bin:/bin";
  // Only on the environment's PATH: found by check, run by label.
  auto oracle = qe_oracle(
      std::regex_replace(yaml, std::regex("environment: .*\n"),
                         "environment: {OMP_NUM_THREADS: '1', PATH: '" + given_path + "'}\n"));
  oracle->check({14});
  CHECK_THROWS_AS(oracle->label(silicon_pair(), directory / "run1", 0), oracle::OracleFailure);
  CHECK(read_text(marker) == "given\n");
  // otfgp's own PATH has another program of that name: the environment's still runs.
  {
    const char* own = std::getenv("PATH");
    testing::ScopedEnvironment path("PATH", (directory / "own").string() + ":" + (own ? own : ""));
    oracle->check({14});
    CHECK_THROWS_AS(oracle->label(silicon_pair(), directory / "run2", 0), oracle::OracleFailure);
    CHECK(read_text(marker) == "given\n");
  }
  // Not on the environment's PATH: check says which PATH it searched.
  auto missing = qe_oracle(std::regex_replace(yaml, std::regex("environment: .*\n"),
                                              "environment: {PATH: '/usr/bin:/bin'}\n"));
  CHECK_THROWS_WITH(
      missing->check({14}),
      Contains("otfgp-mypw") && Contains("PATH its environment sets (/usr/bin:/bin)"));
}

TEST_CASE("qe oracle check refuses pseudopotentials of different functionals", "[oracle][qe]") {
  const std::filesystem::path dir = "/usr/share/espresso/pseudo";
  // One functional however the file writes it (pw.x ran each pair of these
  // files together, 2026-12-03): a short name, four components, PBE in the
  // gradient slots, a v1 header line.
  for (const char* pbe : {"Si.pbe-nl-rrkjus_psl.1.0.0.UPF", "Si.pbe-rrkj.UPF",
                          "Si.rel-pbe-rrkj.UPF", "C.pbe-n-kjpaw_psl.0.1.UPF"}) {
    INFO(pbe);
    CHECK(oracle::upf_functional(dir / pbe) == std::optional<std::string>("SLA PW PBX PBC"));
  }
  for (const char* lda : {"Si.pz-vbc.UPF", "C.UPF", "O.pz-rrkjus.UPF"}) {
    INFO(lda);
    CHECK(oracle::upf_functional(dir / lda) == std::optional<std::string>("SLA PZ NOGX NOGC"));
  }
  CHECK(oracle::upf_functional(dir / "O.pbesol-n-rrkjus_psl.0.1.UPF") ==
        oracle::upf_functional(dir / "O.pbesol-n-kjpaw_psl.0.1.UPF"));
  CHECK_FALSE(oracle::upf_functional("/nonexistent.UPF"));

  const std::string mixed =
      "kind: qe\npseudopotentials: {Si: Si.pz-vbc.UPF, C: C.pbe-rrkjus.UPF}\n"
      "ecutwfc: 20\n";
  CHECK_THROWS_WITH(qe_oracle(mixed)->check({6, 14}),
                    Contains("different functionals") && Contains("Si: Si.pz-vbc.UPF is SLA PZ") &&
                        Contains("C: C.pbe-rrkjus.UPF is SLA PW PBX PBC") && Contains("input_dft"));
  // A frame of one of them only: its file alone is read.
  CHECK_NOTHROW(qe_oracle(mixed)->check({14}));
  // The same files with the functional set in the input: pw.x takes that.
  CHECK_NOTHROW(qe_oracle(mixed + "input: {system: {input_dft: pbe}}\n")->check({6, 14}));
  // Two spellings of PBE (SLA PW PBE PBE, SLA PW PBX PBC): accepted, and pw.x
  // labels the pair (the doc's claim, a real call).
  TemporaryDirectory directory("otfgp-qe-functionals");
  auto spellings = qe_oracle(
      "kind: qe\npseudopotentials: {Si: Si.pbe-rrkj.UPF, C: C.pbe-n-kjpaw_psl.0.1.UPF}\n"
      "ecutwfc: 20\necutrho: 160\nkpoints: [1, 1, 1]\nenvironment: {OMP_NUM_THREADS: '1'}\n");
  CHECK_NOTHROW(spellings->check({6, 14}));
  Structure sic = silicon_pair();
  sic.numbers = {14, 6};
  CHECK(spellings->label(sic, directory / "run", 0).energy.has_value());
}
