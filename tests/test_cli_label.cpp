// otfgp label end to end, and the table of oracle kinds: labels equal the
// in-process potential's, a frame that fails twice is skipped and reported
// with a non-zero exit while the others are written.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <fstream>

#include "otfgp/core/environment_error.hpp"
#include "otfgp/core/extra_property.hpp"
#include "otfgp/core/extxyz.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/oracle/oracle.hpp"
#include "otfgp/oracle/oracle_settings.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "otfgp/potentials/potential.hpp"
#include "support/cli.hpp"
#include "support/environment.hpp"
#include "support/files.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using otfgp::testing::TemporaryDirectory;

namespace {

// `count` diamond Si cells rattled by 0.1 Å, seeds first_seed, first_seed + 1, …
std::vector<Structure> rattled_silicon(int count, int first_seed) {
  std::vector<Structure> frames;
  for (int k = 0; k < count; ++k) {
    Structure si = testing::diamond(14, 5.431, 1);
    testing::rattle(si, 0.1, first_seed + k);
    frames.push_back(si);
  }
  return frames;
}

// `frames` in dir/frames.xyz, a potential oracle sw:Si.sw in dir/sw.yaml (the
// Si.sw beside it when there is one), and the label command writing dir/out.xyz.
std::string sw_label_command(const std::filesystem::path& dir,
                             const std::vector<Structure>& frames) {
  write_extxyz(dir / "frames.xyz", frames);
  testing::write_text(dir / "sw.yaml", "oracle: {kind: potential, potential: sw:Si.sw}\n");
  return "label " + (dir / "sw.yaml").string() + " " + (dir / "frames.xyz").string() + " -o " +
         (dir / "out.xyz").string();
}

// `labelled` carries the energy and forces otfgp's own sw:Si.sw gives `frame`.
void check_sw_labels(const Structure& labelled, const Structure& frame) {
  const Evaluation reference = evaluate(*make_potential("sw:Si.sw"), frame);
  REQUIRE(labelled.energy);
  CHECK(*labelled.energy == Approx(reference.energy).epsilon(1e-12));
  CHECK((*labelled.forces - reference.forces).cwiseAbs().maxCoeff() < 1e-10);
}

}  // namespace

TEST_CASE("the oracle table knows every kind and refuses others", "[oracle]") {
  const auto kinds = oracle::oracle_kinds();
  for (const char* kind : {"potential", "qe", "cp2k", "lammps", "command"})
    CHECK(std::find(kinds.begin(), kinds.end(), kind) != kinds.end());
  CHECK_THROWS_WITH(oracle::make_oracle(ConfigSection::parse("kind: vasp\n", "o.yaml"), "."),
                    Contains("vasp") && Contains("cp2k"));
  CHECK_THROWS_WITH(
      oracle::make_oracle(ConfigSection::parse("kind: potential\npotental: sw:Si.sw\n", "o.yaml"),
                          "."),
      Contains("potential"));
  // A bad environment variable is not the config's fault: no file and line.
  const ConfigSection sw = ConfigSection::parse("kind: potential\npotential: sw:Si.sw\n", "o.yaml");
  const testing::ScopedEnvironment form("OTFGP_MANYBODY_FORM", "bogus");
  CHECK_THROWS_AS(oracle::make_oracle(sw, "."), EnvironmentError);
  CHECK_THROWS_WITH(oracle::make_oracle(sw, "."), Contains("OTFGP_MANYBODY_FORM must be") &&
                                                      !Contains("o.yaml") && !Contains("line"));
}

TEST_CASE("otfgp label labels frames with an oracle and reports skipped ones", "[oracle][cli]") {
  TemporaryDirectory directory("otfgp-label");
  const std::vector<Structure> frames = rattled_silicon(3, 40);
  write_extxyz(directory / "frames.xyz", frames);
  std::ofstream(directory / "sw.yaml") << "structure: ignored.xyz\n"
                                       << "oracle:\n  kind: potential\n  potential: sw:Si.sw\n";
  const auto run = testing::run_otfgp("label " + (directory / "sw.yaml").string() + " " +
                                      (directory / "frames.xyz").string() + " -o " +
                                      (directory / "labelled.xyz").string());
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const auto labelled = read_extxyz(directory / "labelled.xyz");
  REQUIRE(labelled.size() == 3);
  for (std::size_t k = 0; k < 3; ++k) check_sw_labels(labelled[k], frames[k]);

  // A command oracle that fails on the second frame, on both attempts.
  std::ofstream(directory / "flaky.py") << R"(import sys
from ase.io import read, write
from ase.calculators.lj import LennardJones
from ase.calculators.singlepoint import SinglePointCalculator
atoms = read(sys.argv[1])
if abs(atoms.positions[0][0] - )" << frames[1].positions(0, 0)
                                        << R"() < 1e-6:
    sys.exit(7)
atoms.calc = LennardJones(sigma=2.1, epsilon=0.1, rc=4.5)
e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f, stress=s)
write(sys.argv[2], atoms, format='extxyz')
)";
  std::ofstream(directory / "flaky.yaml")
      << "oracle:\n  kind: command\n  command: /usr/bin/python3 -I flaky.py\n";
  const auto flaky = testing::run_otfgp("label " + (directory / "flaky.yaml").string() + " " +
                                        (directory / "frames.xyz").string() + " -o " +
                                        (directory / "partial.xyz").string());
  INFO(flaky.output);
  CHECK(flaky.exit_code != 0);
  CHECK_THAT(flaky.output, Contains("1 of 3 frame(s)") && Contains("frames 2") &&
                               Contains("attempt 2") && Contains("non-zero exit"));
  CHECK(read_extxyz(directory / "partial.xyz").size() == 2);

  // A set-up problem stops before any frame.
  std::ofstream(directory / "missing.yaml")
      << "oracle:\n  kind: qe\n  pseudopotentials: {O: O.pbe-rrkjus.UPF}\n  ecutwfc: 30\n";
  const auto missing = testing::run_otfgp("label " + (directory / "missing.yaml").string() + " " +
                                          (directory / "frames.xyz").string() + " -o " +
                                          (directory / "none.xyz").string());
  CHECK(missing.exit_code != 0);
  CHECK_THAT(missing.output, Contains("no pseudopotential for Si"));
  CHECK_FALSE(std::filesystem::exists(directory / "none.xyz"));
}

TEST_CASE("otfgp label refuses a frame the oracle cannot label at all before any call",
          "[oracle][cli][cp2k]") {
  // The cp2k oracle labels periodic structures only: the second frame, a slab,
  // is named before the first is labelled (cp2k itself never runs).
  TemporaryDirectory directory("otfgp-label");
  std::vector<Structure> frames = rattled_silicon(2, 41);
  frames[1].pbc = {true, true, false};
  write_extxyz(directory / "frames.xyz", frames);
  std::ofstream(directory / "cp2k.yaml")
      << "oracle: {kind: cp2k, basis_set: SZV-MOLOPT-SR-GTH, cutoff: 120}\n";
  const auto run = testing::run_otfgp("label " + (directory / "cp2k.yaml").string() + " " +
                                      (directory / "frames.xyz").string() + " -o " +
                                      (directory / "labelled.xyz").string());
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.output, Contains("frames.xyz, frame 2") && Contains("periodic structures only"));
  CHECK_FALSE(std::filesystem::exists(directory / "labelled.xyz"));
}

TEST_CASE("otfgp label keeps labelled frames: a re-run is refused, --resume labels the rest",
          "[oracle][cli]") {
  TemporaryDirectory directory("otfgp-label-resume");
  const std::filesystem::path dir = directory.path();
  const std::vector<Structure> frames = rattled_silicon(4, 60);
  const std::string label = sw_label_command(dir, frames);
  REQUIRE(testing::run_otfgp(label).exit_code == 0);
  const std::vector<Structure> all = read_extxyz(dir / "out.xyz");
  REQUIRE(all.size() == 4);

  // A re-run would replace the frames (DFT results, in earnest): refused, the file kept.
  const std::string before = testing::read_text(dir / "out.xyz");
  const auto again = testing::run_otfgp(label);
  CHECK(again.exit_code == 1);
  CHECK_THAT(again.output, Contains("exists and may hold frames an earlier run labelled") &&
                               Contains("--resume"));
  CHECK(testing::read_text(dir / "out.xyz") == before);

  // An interrupted run (frames 1 and 2 written, the first with its atoms
  // wrapped into the cell by lattice vectors) goes on with frames 3 and 4.
  std::vector<Structure> partial = {all[0], all[1]};
  partial[0].positions.row(0) += partial[0].cell.row(0);
  write_extxyz(dir / "out.xyz", partial);
  // The earlier run was stopped inside frame 3's retry: its folder goes once
  // frame 3 is labelled.
  std::filesystem::create_directories(dir / "out.xyz.work" / "frame-2-attempt-1");
  const auto resumed = testing::run_otfgp(label + " --resume");
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  CHECK_FALSE(std::filesystem::exists(dir / "out.xyz.work"));
  CHECK_THAT(resumed.output, Contains("already holds 2 of frames 1 to 2"));
  const std::vector<Structure> completed = read_extxyz(dir / "out.xyz");
  REQUIRE(completed.size() == 4);
  for (std::size_t k = 2; k < 4; ++k) CHECK(*completed[k].energy == *all[k].energy);

  // A frame an earlier run could not label is a gap: reported, not retried.
  write_extxyz(dir / "out.xyz", std::vector<Structure>{all[0], all[2]});
  const auto gap = testing::run_otfgp(label + " --resume");
  CHECK(gap.exit_code == 1);
  CHECK_THAT(gap.output, Contains("1 frame(s) before frame 4 are not in") &&
                             Contains("1 frame(s) the earlier run did not label are not in") &&
                             Contains("(frames 2)") && !Contains("after a retry"));
  CHECK(read_extxyz(dir / "out.xyz").size() == 3);

  // Frames of another input are not this input's labelling.
  Structure other = frames[0];
  testing::rattle(other, 0.1, 99);
  write_extxyz(dir / "out.xyz", std::vector<Structure>{other});
  const auto foreign = testing::run_otfgp(label + " --resume");
  CHECK(foreign.exit_code == 1);
  CHECK_THAT(foreign.output, Contains("frame 1 of -o") && Contains("is none of the frames"));

  // Frames labelled with other oracle settings are refused, the file kept;
  // frames that record none (an older build) resume with a warning.
  write_extxyz(dir / "out.xyz", std::vector<Structure>{all[0]});
  CHECK_THAT(all[0].info_value("oracle_settings").value_or(""), Contains("potential-fnv1a64-"));
  testing::write_text(dir / "tersoff.yaml",
                      "oracle: {kind: potential, potential: tersoff:Si.tersoff}\n");
  const auto mixed = testing::run_otfgp("label " + (dir / "tersoff.yaml").string() + " " +
                                        (dir / "frames.xyz").string() + " -o " +
                                        (dir / "out.xyz").string() + " --resume");
  CHECK(mixed.exit_code == 1);
  CHECK_THAT(mixed.output, Contains("frame 1 of -o") &&
                               Contains("was labelled with other oracle settings") &&
                               Contains(*all[0].info_value("oracle_settings")) &&
                               Contains("oracle.potential was sw:Si.sw, this config has "
                                        "tersoff:Si.tersoff"));
  CHECK(read_extxyz(dir / "out.xyz").size() == 1);
  // The key is named from out.xyz.oracle-settings, the settings in full; without
  // it (or with another run's) only the fingerprints are.
  const std::filesystem::path settings = dir / "out.xyz.oracle-settings";
  CHECK_THAT(testing::read_text(settings),
             StartsWith("# oracle_settings: " + *all[0].info_value("oracle_settings") + "\n"));
  std::filesystem::rename(settings, dir / "kept");
  const auto unnamed = testing::run_otfgp("label " + (dir / "tersoff.yaml").string() + " " +
                                          (dir / "frames.xyz").string() + " -o " +
                                          (dir / "out.xyz").string() + " --resume");
  CHECK(unnamed.exit_code == 1);
  CHECK_THAT(unnamed.output,
             Contains("was labelled with other oracle settings") && !Contains("oracle.potential"));
  std::filesystem::rename(dir / "kept", settings);
  Structure unrecorded = all[0];
  unrecorded.info.clear();
  unrecorded.energy = all[0].energy;
  write_extxyz(dir / "out.xyz", std::vector<Structure>{unrecorded});
  const auto older = testing::run_otfgp(label + " --resume");
  CHECK(older.exit_code == 0);
  CHECK_THAT(older.output, Contains("do not record the oracle settings"));
  CHECK(read_extxyz(dir / "out.xyz").size() == 4);
}

TEST_CASE("otfgp label --resume refuses a parameter file whose content changed under its name",
          "[oracle][cli]") {
  // A potential oracle's spec names the file; its content decides the labels
  // (a probe edited NaCl.buck's charges beside the config, and the resumed run
  // mixed labels 1.6 eV/atom apart, silently).
  TemporaryDirectory directory("otfgp-label-files");
  const std::filesystem::path dir = directory.path();
  std::filesystem::copy_file("/usr/share/lammps/potentials/Si.sw", dir / "Si.sw");
  const std::string label = sw_label_command(dir, rattled_silicon(3, 70));
  REQUIRE(testing::run_otfgp(label).exit_code == 0);
  const std::vector<Structure> all = read_extxyz(dir / "out.xyz");
  REQUIRE(all.size() == 3);
  CHECK_THAT(testing::read_text(dir / "out.xyz.oracle-settings"),
             Contains("oracle.files.Si.sw: content fnv1a64 "));

  const std::string original = testing::read_text(dir / "Si.sw");
  std::string edited = original;
  const auto at = edited.find("7.049556277");
  REQUIRE(at != std::string::npos);
  edited.replace(at, 11, "7.149556277");
  testing::write_text(dir / "Si.sw", edited);
  write_extxyz(dir / "out.xyz", std::vector<Structure>{all[0]});
  const auto refused = testing::run_otfgp(label + " --resume");
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.output, Contains("was labelled with other oracle settings") &&
                                 Contains("oracle.files.Si.sw was content fnv1a64 "));
  CHECK(read_extxyz(dir / "out.xyz").size() == 1);

  // The same content again (here: restored; a moved run alike) resumes.
  testing::write_text(dir / "Si.sw", original);
  const auto resumed = testing::run_otfgp(label + " --resume");
  INFO(resumed.output);
  CHECK(resumed.exit_code == 0);
  CHECK(read_extxyz(dir / "out.xyz").size() == 3);

  // A frame labelled by a build that recorded no file contents resumes, with a warning.
  const ConfigSection section = ConfigSection::load((dir / "sw.yaml").string()).section("oracle");
  const auto oracle = oracle::make_oracle(section, dir);
  const std::string older = oracle::label_fingerprint(
      "potential", oracle::settings_as_recorded("", oracle::label_settings(section, *oracle)));
  CHECK(older != *all[0].info_value("oracle_settings"));
  Structure first = all[0];
  first.set_info_value("oracle_settings", older);
  write_extxyz(dir / "out.xyz", std::vector<Structure>{first});
  const auto warned = testing::run_otfgp(label + " --resume");
  CHECK(warned.exit_code == 0);
  CHECK_THAT(warned.output, Contains("did not record the oracle's parameter files"));
  CHECK(read_extxyz(dir / "out.xyz").size() == 3);
}

TEST_CASE("otfgp label --resume takes frames an older build labelled with the same command words",
          "[oracle][cli]") {
  // Builds before 2026-12-03 recorded a command oracle's command as written;
  // since then as the words it runs, so other spacing or quoting resumes.
  TemporaryDirectory directory("otfgp-label-command");
  const std::filesystem::path dir = directory.path();
  std::filesystem::copy_file("/usr/share/lammps/potentials/Si.sw", dir / "Si.sw");
  write_extxyz(dir / "frames.xyz", rattled_silicon(3, 80));
  const std::string written = "'" + std::string(OTFGP_CLI_PATH) +
                              "'  -q eval  -p \"sw:" + (dir / "Si.sw").string() +
                              "\" {input} -o {output}";
  testing::write_text(dir / "command.yaml",
                      "oracle:\n  kind: command\n  command: >\n    " + written + "\n");
  const std::string label = "label " + (dir / "command.yaml").string() + " " +
                            (dir / "frames.xyz").string() + " -o " + (dir / "out.xyz").string();
  const auto first = testing::run_otfgp(label);
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  std::vector<Structure> labelled = read_extxyz(dir / "out.xyz");
  REQUIRE(labelled.size() == 3);
  CHECK_THAT(testing::read_text(dir / "out.xyz.oracle-settings"),
             Contains("oracle.command: " + std::string(OTFGP_CLI_PATH) + " -q eval -p sw:"));
  // The first frame as an older build wrote it: its fingerprint of the
  // command as written (a folded scalar ends in a newline, recorded as \n).
  // With `settings_file`, its settings file too (spaced otherwise than this config).
  const auto older = [&](const std::string& command, bool settings_file = false) {
    const std::string text = "oracle.command: " + command + "\\n\noracle.kind: command\n";
    const std::string fingerprint = oracle::label_fingerprint("command", text);
    Structure frame = labelled[0];
    frame.set_info_value("oracle_settings", fingerprint);
    write_extxyz(dir / "out.xyz", std::vector<Structure>{frame});
    if (settings_file)
      testing::write_text(dir / "out.xyz.oracle-settings",
                          "# oracle_settings: " + fingerprint + "\n" + text);
  };
  older(written);
  const auto resumed = testing::run_otfgp(label + " --resume");
  INFO(resumed.output);
  CHECK(resumed.exit_code == 0);
  CHECK_THAT(resumed.output, !Contains("parameter files"));
  CHECK(read_extxyz(dir / "out.xyz").size() == 3);
  // … and where the older build's command was spaced otherwise, from the
  // settings file it wrote beside the frames.
  std::string respaced = written;
  respaced.replace(respaced.find("  -q eval  "), 11, " -q   eval ");
  older(respaced, true);
  const auto from_file = testing::run_otfgp(label + " --resume");
  INFO(from_file.output);
  CHECK(from_file.exit_code == 0);
  CHECK(read_extxyz(dir / "out.xyz").size() == 3);
  // Other words are other settings.
  std::string other = written;
  other.replace(other.find("-q eval"), 7, "eval");
  older(other);
  const auto refused = testing::run_otfgp(label + " --resume");
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.output, Contains("was labelled with other oracle settings"));
}

TEST_CASE("otfgp label: SIGTERM during the oracle's trial run stops it cleanly",
          "[oracle][cli][lammps]") {
  // The LAMMPS oracle runs lmp once on a test frame before any frame; a
  // signal then must end otfgp with 143, kill lmp and remove its scratch
  // folder (TMPDIR points into the test's folder to see that).
  TemporaryDirectory directory("otfgp-label");
  const std::filesystem::path dir = directory.path();
  write_extxyz(dir / "frames.xyz", std::vector<Structure>{testing::diamond(14, 5.431, 1)});
  testing::write_text(dir / "slowlmp.sh", "#!/bin/sh\ntouch '" + (dir / "calling").string() +
                                              "'\nsleep 60\nexec lmp \"$@\"\n");
  std::filesystem::permissions(dir / "slowlmp.sh", std::filesystem::perms::owner_exec,
                               std::filesystem::perm_options::add);
  testing::write_text(dir / "slow.yaml", "oracle: {kind: lammps, command: '" +
                                             (dir / "slowlmp.sh").string() +
                                             "', pair_style: sw, pair_coeff: '* * Si.sw "
                                             "{elements}'}\n");
  std::filesystem::create_directory(dir / "tmp");
  testing::write_text(dir / "out.xyz", "an earlier output\n");
  const int status =
      testing::shell("cd '" + dir.string() + "' && (TMPDIR='" + (dir / "tmp").string() + "' '" +
                     std::string(OTFGP_CLI_PATH) +
                     "' label slow.yaml frames.xyz -o out.xyz --resume 2> stderr.txt & pid=$!; "
                     "for i in $(seq 1500); do [ -f calling ] && break; sleep 0.02; done; "
                     "kill -TERM $pid; wait $pid)");
  INFO(testing::read_text(dir / "stderr.txt"));
  CHECK(status == 143);
  CHECK_THAT(testing::read_text(dir / "stderr.txt"), Contains("interrupted"));
  CHECK(std::filesystem::is_empty(dir / "tmp"));
  CHECK(testing::read_text(dir / "out.xyz") == "an earlier output\n");
}

TEST_CASE("otfgp label retries an unconverged pw.x with safer settings", "[oracle][cli][qe]") {
  TemporaryDirectory directory("otfgp-label-qe");
  Structure si;
  si.cell = Eigen::Matrix3d::Identity() * 5.431;
  si.positions.resize(2, 3);
  si.positions << 0, 0, 0, 1.4, 1.3, 1.35;
  si.numbers = {14, 14};
  write_extxyz(directory / "frame.xyz", si);
  // Converges only with the retry's local-TF mixing; otherwise never.
  const auto program = directory / "pw.x";
  std::ofstream(program) << R"(#!/bin/sh
if grep -q "local-TF" "$2"; then
  echo "     End of self-consistent calculation"
  echo "!    total energy              =     -15.80000000 Ry"
  echo "     Forces acting on atoms (cartesian axes, Ry/au):"
  echo "     atom    1 type  1   force =     0.01000000    0.00000000    0.00000000"
  echo "     atom    2 type  1   force =    -0.01000000    0.00000000    0.00000000"
  echo "     total   stress  (Ry/bohr**3)                   (kbar)     P=  -10.00"
  echo "  -0.00010000   0.00000000   0.00000000        -10.00        0.00        0.00"
  echo "   0.00000000  -0.00010000   0.00000000          0.00      -10.00        0.00"
  echo "   0.00000000   0.00000000  -0.00010000          0.00        0.00      -10.00"
  echo "     JOB DONE."
else
  echo "     convergence NOT achieved after 100 iterations: stopping"
fi
)";
  std::filesystem::permissions(program, std::filesystem::perms::owner_all);
  std::ofstream(directory / "qe.yaml")
      << "oracle:\n  kind: qe\n  command: " << program.string()
      << "\n  pseudopotentials: {Si: Si.pbe-rrkj.UPF}\n  ecutwfc: 20\n";
  const auto run = testing::run_otfgp("label " + (directory / "qe.yaml").string() + " " +
                                      (directory / "frame.xyz").string() + " -o " +
                                      (directory / "out.xyz").string());
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.output, Contains("attempt 1: not converged") && Contains("on the retry"));
  const auto labelled = read_extxyz(directory / "out.xyz");
  REQUIRE(labelled.size() == 1);
  CHECK(*labelled[0].energy == Approx(-15.8 * 13.605693122994));
  // The scratch folders of a labelled frame are removed.
  CHECK_FALSE(std::filesystem::exists(directory / "out.xyz.work"));
}

TEST_CASE("otfgp label writes the oracle's labels only, not those the frames carried",
          "[oracle][cli]") {
  TemporaryDirectory directory("otfgp-label-stale");
  // A bulk frame and a slab, each with an earlier calculation's labels.
  std::vector<Structure> frames = rattled_silicon(2, 70);
  frames[1].pbc = {true, true, false};
  for (auto& frame : frames) {
    frame.energy = -1.0;
    frame.forces = Positions::Ones(frame.size(), 3);
    frame.stress = Voigt::Constant(0.5);
    frame.set_info_value("free_energy", "-2.0");
    set_real_property(frame, "energies", std::vector<double>(frame.size(), -0.5));
    frame.set_info_value("config_type", "rattled");
  }
  const auto run = testing::run_otfgp(sw_label_command(directory.path(), frames));
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const auto labelled = read_extxyz(directory / "out.xyz");
  REQUIRE(labelled.size() == 2);
  for (std::size_t k = 0; k < 2; ++k) {
    frames[k].clear_results();
    check_sw_labels(labelled[k], frames[k]);
    CHECK_FALSE(labelled[k].info_value("free_energy"));
    CHECK(find_extra_property(labelled[k], "energies") == nullptr);
    CHECK(labelled[k].info_value("config_type") == "rattled");
  }
  CHECK((*labelled[0].stress - *evaluate(*make_potential("sw:Si.sw"), frames[0]).stress).norm() <
        1e-10);
  CHECK_FALSE(labelled[1].stress);  // the slab's old stress is gone, none new
}

TEST_CASE("otfgp label --resume takes settings equal by value, and keeps one fingerprint",
          "[oracle][cli][qe]") {
  // Real pw.x, tiny: Si2 at 12 Ry on the Γ point.
  TemporaryDirectory directory("otfgp-label-defaults");
  const std::filesystem::path dir = directory.path();
  const std::vector<Structure> frames = rattled_silicon(3, 61);
  for (std::size_t n = 1; n <= 3; ++n)
    write_extxyz(dir / ("first" + std::to_string(n) + ".xyz"),
                 std::vector<Structure>(frames.begin(), frames.begin() + n));
  const std::string base =
      "oracle:\n  kind: qe\n  pseudopotentials: {Si: Si.pz-vbc.UPF}\n  ecutwfc: 12\n"
      "  kpoints: [1, 1, 1]\n  environment: {OMP_NUM_THREADS: '1'}\n";
  const auto label = [&](const std::string& oracle, std::size_t n, bool resume) {
    std::ofstream(dir / "o.yaml") << oracle;
    return testing::run_otfgp("label " + (dir / "o.yaml").string() + " " +
                              (dir / ("first" + std::to_string(n) + ".xyz")).string() + " -o " +
                              (dir / "out.xyz").string() + (resume ? " --resume" : ""));
  };
  REQUIRE(label(base, 1, false).exit_code == 0);
  // The defaults written out, twice: the second resume used to refuse the first frame.
  const std::string written = base + "  degauss: 0.01\n  smearing: mv\n";
  for (std::size_t n : {2, 3}) {
    const auto run = label(written, n, true);
    INFO(run.output);
    REQUIRE(run.exit_code == 0);
  }
  const auto labelled = read_extxyz(dir / "out.xyz");
  REQUIRE(labelled.size() == 3);
  for (const auto& frame : labelled)
    CHECK(frame.info_value("oracle_settings") == labelled[0].info_value("oracle_settings"));
  // A real change is refused, named by the key the config writes.
  CHECK_THAT(label(base + "  degauss: 0.02\n", 3, true).output,
             Contains("oracle.degauss was 0.01, this config has 0.02"));
  CHECK_THAT(label(base + "  smearing: none\n", 3, true).output,
             Contains("oracle.smearing was marzari-vanderbilt, this config has none"));
  CHECK_THAT(label(base + "  ecutrho: 60\n", 3, true).output,
             Contains("oracle.ecutrho was 48, this config has 60"));
}
