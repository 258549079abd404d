// `otfgp md CONFIG.yaml` end to end (Lennard-Jones argon, seconds): the output
// files, an exact restart through the config's `restart:` key, and bad input
// that must end in one clear message, a non-zero exit and no stray outputs.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "otfgp/core/extra_property.hpp"
#include "otfgp/core/file_fingerprint.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/md/restart.hpp"
#include "support/environment.hpp"
#include "support/files.hpp"
#include "support/python.hpp"
#include "support/repeatability.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using Catch::Contains;
using otfgp::testing::read_text;
using otfgp::testing::TemporaryDirectory;
using otfgp::testing::write_text;

namespace {

struct CliResult {
  int exit_code = -1;
  std::string output, error;
};

// Runs `otfgp md config` in `directory`.
CliResult run_md(const TemporaryDirectory& directory, const std::string& config) {
  const std::string command = "cd '" + directory.path().string() + "' && '" + OTFGP_CLI_PATH +
                              "' md " + config + " > cli.stdout 2> cli.stderr";
  CliResult result;
  result.exit_code = testing::shell(command);
  result.output = read_text(directory / "cli.stdout");
  result.error = read_text(directory / "cli.stderr");
  std::filesystem::remove(directory / "cli.stdout");
  std::filesystem::remove(directory / "cli.stderr");
  return result;
}

const std::string argon_nvt =
    "structure: {lattice: fcc, elements: [Ar], a: 5.30, repeat: 3}\n"
    "potential: lj:eps=0.0104,sigma=3.4,rc=7.5\n"
    "ensemble: npt\n"
    "temperature: 70\n"
    "timestep: 4\n"
    "seed: 17\n"
    "thermostat: {type: langevin, damping: 150}\n"
    "barostat: {pressure: 0.1, coupling: triclinic, damping: 1000}\n";

std::vector<std::string> files_in(const std::filesystem::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(directory))
    names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("otfgp md writes thermo, trajectory, restart and summary", "[md][cli]") {
  TemporaryDirectory directory("otfgp-md-cli");
  write_text(
      directory / "md.yaml",
      argon_nvt +
          "steps: 200\noutput: {directory: out, thermo_interval: 50, trajectory_interval: 100}\n");
  const CliResult result = run_md(directory, "md.yaml");
  INFO(result.error);
  REQUIRE(result.exit_code == 0);
  CHECK(files_in(directory / "out") ==
        std::vector<std::string>{"restart.h5", "summary.json", "thermo.dat", "trajectory.xyz"});
  // stdout: the header and one line per thermo step (0, 50, …, 200).
  std::istringstream lines(result.output);
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) count += line.rfind('#', 0) == 0 ? 0 : 1;
  CHECK(count == 5);
  CHECK(read_text(directory / "out/thermo.dat") == result.output);
  const auto frames = read_structures(directory / "out/trajectory.xyz");
  REQUIRE(frames.size() == 3);
  CHECK(frames[2].info_value("step") == std::optional<std::string>("200"));
  // ASE reads the frames with energies, forces, stress and velocities; its
  // temperature counts 3N degrees of freedom, ours 3N − 3.
  const std::string check = R"(
import sys, json
from ase.io import read
atoms = read(sys.argv[1], index=-1)
summary = json.load(open(sys.argv[2]))
n = len(atoms)
print(atoms.get_temperature() * 3 * n / (3 * n - 3) / float(atoms.info['temperature']), len(atoms.get_forces()), summary['final_step'])
)";
  std::istringstream ase(otfgp::testing::python_output(
      check,
      {(directory / "out/trajectory.xyz").string(), (directory / "out/summary.json").string()}));
  double ratio = 0;
  int forces = 0, final_step = 0;
  ase >> ratio >> forces >> final_step;
  CHECK(ratio == Approx(1.0).epsilon(1e-5));  // ASE's masses differ in the sixth digit
  CHECK(forces == 108);
  CHECK(final_step == 200);

  // thermo_interval 0: no thermo file and no thermo line on stdout, step 0's included.
  write_text(directory / "quiet.yaml",
             argon_nvt + "steps: 20\noutput: {directory: quiet, thermo_interval: 0}\n");
  const CliResult quiet = run_md(directory, "quiet.yaml");
  INFO(quiet.error);
  REQUIRE(quiet.exit_code == 0);
  CHECK(quiet.output.empty());
  CHECK_FALSE(std::filesystem::exists(directory / "quiet/thermo.dat"));

  // summary.json names the kernel forms and fences set in the environment,
  // bytes outside printable ASCII as '?' (JSON takes only UTF-8).
  write_text(directory / "described.yaml",
             argon_nvt + "steps: 5\noutput: {directory: described, thermo_interval: 0}\n");
  {
    const otfgp::testing::ScopedEnvironment form("OTFGP_MANYBODY_FORM", "short");
    const otfgp::testing::ScopedEnvironment scratch("OTFGP_GP_PAIR_SCRATCH",
                                                    "a\x01"
                                                    "b\xff");
    const CliResult described = run_md(directory, "described.yaml");
    INFO(described.error);
    REQUIRE(described.exit_code == 0);
  }
  const auto summary = nlohmann::json::parse(read_text(directory / "described/summary.json"));
  CHECK(summary["environment"]["OTFGP_MANYBODY_FORM"] == "short");
  CHECK(summary["environment"]["OTFGP_GP_PAIR_SCRATCH"] == "a?b?");
}

TEST_CASE("otfgp md continues from a restart exactly as an uninterrupted run",
          "[md][cli][restart]") {
  TemporaryDirectory directory("otfgp-md-cli-restart");
  const std::string output =
      "output: {directory: out, thermo_interval: 20, trajectory_interval: 40, restart_interval: "
      "120}\n";
  write_text(directory / "straight.yaml", argon_nvt + "steps: 240\n" + output);
  REQUIRE(run_md(directory, "straight.yaml").exit_code == 0);
  std::filesystem::rename(directory / "out", directory / "straight");

  // The same run stopped at step 120 (its last restart), then continued.
  write_text(directory / "first.yaml", argon_nvt + "steps: 120\n" + output);
  REQUIRE(run_md(directory, "first.yaml").exit_code == 0);
  // A crash after the restart leaves extra lines and frames; they are cut back.
  std::ofstream(directory / "out/thermo.dat", std::ios::app) << "   999 partial line\n";
  write_text(directory / "continued.yaml",
             argon_nvt + "steps: 240\nrestart: out/restart.h5\n" + output);
  const CliResult continued = run_md(directory, "continued.yaml");
  INFO(continued.error);
  REQUIRE(continued.exit_code == 0);

  // Bit for bit on Serial; to rounding where threads reorder sums (support/repeatability.hpp).
  CHECK(testing::text_repeats(read_text(directory / "out/thermo.dat"),
                              read_text(directory / "straight/thermo.dat")));
  CHECK(testing::text_repeats(read_text(directory / "out/trajectory.xyz"),
                              read_text(directory / "straight/trajectory.xyz")));
  const md::RestartData a = md::read_restart_file(directory / "out/restart.h5");
  const md::RestartData b = md::read_restart_file(directory / "straight/restart.h5");
  CHECK(a.step == 240);
  CHECK(testing::repeats(a.structure.positions, b.structure.positions));
  CHECK(testing::repeats(a.velocities, b.velocities));
  CHECK(testing::repeats(a.structure.cell, b.structure.cell));
  REQUIRE(a.integrator.size() == b.integrator.size());
  for (const auto& [key, values] : a.integrator) {
    INFO(key);
    REQUIRE(b.integrator.count(key) == 1);
    CHECK(testing::repeats(values, b.integrator.at(key)));
  }

  // A continued run must keep the dynamics: a changed damping is refused.
  std::string changed = argon_nvt;
  changed.replace(changed.find("damping: 150"), 12, "damping: 151");
  write_text(directory / "changed.yaml",
             changed + "steps: 480\nrestart: out/restart.h5\n" + output);
  const CliResult refused = run_md(directory, "changed.yaml");
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.error, Contains("thermostat.damping = 150, the config has 151"));
  const CliResult done = run_md(directory, "continued.yaml");
  CHECK(done.exit_code == 1);
  CHECK_THAT(done.error, Contains("is at step 240, not before steps: 240"));
}

TEST_CASE("bad input ends in one clear error, a non-zero exit and no outputs",
          "[md][cli][failure]") {
  TemporaryDirectory directory("otfgp-md-cli-bad");
  struct Case {
    std::string name, config, message;
  };
  write_text(directory / "overlap.xyz",
             "3\nLattice=\"10 0 0 0 10 0 0 0 10\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n"
             "Ar 0 0 0\nAr 0.5 0 0\nAr 5 5 5\n");
  write_text(directory / "blocker", "a file where a directory should be\n");
  write_text(directory / "fixed.vasp",
             "Ar2 with a fixed atom\n1.0\n8 0 0\n0 8 0\n0 0 8\nAr\n2\nSelective dynamics\n"
             "Direct\n0 0 0 F F F\n0.5 0.5 0.5 T T T\n");
  const std::string tail =
      "potential: lj:eps=0.0104,sigma=3.4,rc=7.5\nensemble: nve\ntemperature: 50\nsteps: 10\n";
  const std::vector<Case> cases = {
      {"unknown key", argon_nvt + "steps: 10\nthermstat: {type: langevin}\n",
       "md.yaml, line 10: unknown key 'thermstat' (did you mean 'thermostat'?)"},
      {"second YAML document", argon_nvt + "steps: 10\n---\nsteps: 5\nbogus: 1\n",
       "md.yaml, line 11: a second YAML document (after a '---' line)"},
      {"missing structure file", "structure: {file: missing.xyz}\n" + tail, "missing.xyz"},
      {"fixed atoms", "structure: {file: fixed.vasp}\n" + tail,
       "selective-dynamics flags (move_mask) fix 3 coordinate(s), but otfgp md moves every atom"},
      {"overlapping atoms", "structure: {file: overlap.xyz}\n" + tail,
       "md.yaml, structure 'overlap.xyz': atoms 1 (Ar) and 2 (Ar) are 0.500 Å apart"},
      {"unwritable output", argon_nvt + "steps: 10\noutput: {directory: blocker/out}\n",
       "cannot create output directory 'blocker/out'"},
      {"pressure in bar",
       std::string(argon_nvt).replace(argon_nvt.find("0.1,"), 3, "1e5") + "steps: 10\n",
       "md.yaml, line 8: key 'barostat.pressure': the target pressure 100000 GPa is not below "
       "±10000 GPa, far past what any structure survives; the unit is GPa"},
      {"missing restart", argon_nvt + "steps: 10\nrestart: nowhere.h5\n",
       "restart file 'nowhere.h5' does not exist"},
      {"not a restart", argon_nvt + "steps: 10\nrestart: overlap.xyz\n",
       "'overlap.xyz' is not an HDF5 file"},
      {"unknown potential",
       "structure: {file: overlap.xyz}\npotential: ljj:eps=1\nensemble: nve\ntemperature: "
       "5\nsteps: 1\n",
       "unknown potential 'ljj'"},
  };
  const auto before = files_in(directory.path());
  for (const Case& c : cases) {
    SECTION(c.name) {
      write_text(directory / "md.yaml", c.config);
      const CliResult result = run_md(directory, "md.yaml");
      CHECK(result.exit_code == 1);
      CHECK_THAT(result.error, Contains("otfgp: error: ") && Contains(c.message));
      // One message, and nothing written besides it.
      CHECK(std::count(result.error.begin(), result.error.end(), '\n') == 1);
      auto after = files_in(directory.path());
      after.erase(std::remove(after.begin(), after.end(), "md.yaml"), after.end());
      CHECK(after == before);
      std::filesystem::remove(directory / "md.yaml");
    }
  }
}

TEST_CASE("a run that explodes stops with the last good frame", "[md][cli][failure]") {
  TemporaryDirectory directory("otfgp-md-cli-explode");
  // 40 fs steps for argon at 700 K: atoms run into each other after a few steps.
  write_text(
      directory / "md.yaml",
      "structure: {lattice: fcc, elements: [Ar], a: 5.30, repeat: 3}\n"
      "potential: lj:eps=0.0104,sigma=3.4,rc=7.5\nensemble: nve\ntemperature: 700\ntimestep: 40\n"
      "steps: 5000\nchecks: {max_force: 5}\noutput: {directory: out, thermo_interval: 1, "
      "trajectory_interval: 0}\n");
  const CliResult result = run_md(directory, "md.yaml");
  CHECK(result.exit_code == 1);
  CHECK_THAT(result.error, Contains("above the limit of 5 eV/Å") && Contains("last good step") &&
                               Contains("its frame is in 'out/last_good.xyz'"));
  const Structure frame = read_structure(directory / "out/last_good.xyz");
  const long step = std::stol(*frame.info_value("step"));
  CHECK(step > 0);
  CHECK(frame.forces->rowwise().norm().maxCoeff() <= 5.0);
  // The thermo file ends with the last good step.
  std::istringstream thermo(read_text(directory / "out/thermo.dat"));
  std::string line, last;
  while (std::getline(thermo, line)) last = line;
  CHECK(std::stol(last) == step);
  CHECK(!std::filesystem::exists(directory / "out/summary.json"));
}

TEST_CASE("a fresh run leaves no earlier run's restart or summary to be continued",
          "[md][cli][failure]") {
  // An earlier run's restart file beside a new run's thermo file would let a
  // later `restart:` continue that run onto this one's output.
  TemporaryDirectory directory("otfgp-md-cli-stale");
  const std::string output =
      "output: {directory: out, thermo_interval: 1, trajectory_interval: 0}\n";
  write_text(directory / "first.yaml", argon_nvt + "steps: 20\n" + output);
  REQUIRE(run_md(directory, "first.yaml").exit_code == 0);
  REQUIRE(std::filesystem::exists(directory / "out/restart.h5"));
  REQUIRE(std::filesystem::exists(directory / "out/summary.json"));
  // A fresh run that fails early (40 fs steps at 700 K) in the same folder.
  write_text(directory / "second.yaml",
             "structure: {lattice: fcc, elements: [Ar], a: 5.30, repeat: 3}\n"
             "potential: lj:eps=0.0104,sigma=3.4,rc=7.5\nensemble: nve\ntemperature: 700\n"
             "timestep: 40\nsteps: 5000\nchecks: {max_force: 5}\n" +
                 output);
  const CliResult failed = run_md(directory, "second.yaml");
  REQUIRE(failed.exit_code == 1);
  CHECK_FALSE(std::filesystem::exists(directory / "out/restart.h5"));
  CHECK_FALSE(std::filesystem::exists(directory / "out/summary.json"));
  write_text(directory / "continued.yaml",
             argon_nvt + "steps: 40\nrestart: out/restart.h5\n" + output);
  const CliResult continued = run_md(directory, "continued.yaml");
  CHECK(continued.exit_code == 1);
  CHECK_THAT(continued.error, Contains("restart file 'out/restart.h5' does not exist"));
}

TEST_CASE("a closed stdout does not stop a run before its restart and summary",
          "[md][cli][failure]") {
  TemporaryDirectory directory("otfgp-md-cli-pipe");
  write_text(directory / "md.yaml",
             argon_nvt + "steps: 4000\noutput: {directory: out, thermo_interval: 1}\n");
  // `head` leaves after two lines of the thermo echo (4000 lines, more than a
  // pipe holds, so later writes find it closed); SIGPIPE would end otfgp (141).
  const int status =
      testing::shell("cd '" + directory.path().string() + "' && ('" + OTFGP_CLI_PATH +
                     "' md md.yaml 2> cli.stderr; echo $? > status) | head -n 2 "
                     "> /dev/null");
  INFO(read_text(directory / "cli.stderr"));
  CHECK(status == 0);                               // head's
  CHECK(read_text(directory / "status") == "0\n");  // otfgp's
  CHECK(md::read_restart_file(directory / "out/restart.h5").step == 4000);
  CHECK(nlohmann::json::parse(read_text(directory / "out/summary.json"))["final_step"] == 4000);
}

TEST_CASE("otfgp md with a GP writes per-atom energy std, force std and novelty in the trajectory",
          "[md][cli][gp]") {
  TemporaryDirectory directory;
  const std::string silicon =
      "structure: {lattice: diamond, elements: [Si], a: 5.431, repeat: 2}\n"
      "ensemble: nvt\ntemperature: 1200\ntimestep: 1\nseed: 5\n"
      "thermostat: {type: langevin, damping: 100}\n";
  // Frames from SW, a small GP trained on them, then MD on the GP.
  write_text(directory / "sw.yaml",
             silicon +
                 "potential: sw:/usr/share/lammps/potentials/Si.sw\n"
                 "steps: 200\noutput: {directory: sw, trajectory_interval: 40}\n");
  REQUIRE(run_md(directory, "sw.yaml").exit_code == 0);
  const std::string train = "cd '" + directory.path().string() + "' && '" + OTFGP_CLI_PATH +
                            "' -q train --data sw/trajectory.xyz -o model.h5 > /dev/null 2>&1";
  REQUIRE(std::system(train.c_str()) == 0);
  write_text(directory / "gp.yaml",
             silicon +
                 "potential: gp:model.h5\nsteps: 20\n"
                 "output: {directory: gp, thermo_interval: 10, trajectory_interval: 10}\n");
  const CliResult result = run_md(directory, "gp.yaml");
  INFO(result.error);
  REQUIRE(result.exit_code == 0);
  const auto frames = read_structures(directory / "gp" / "trajectory.xyz");
  REQUIRE(frames.size() == 3);
  for (const Structure& frame : frames) {
    const Eigen::MatrixXd energy_std = real_property(frame, "energy_std");
    const Eigen::MatrixXd force_std = real_property(frame, "force_std");
    const Eigen::MatrixXd novel = real_property(frame, "novel");
    REQUIRE(energy_std.rows() == frame.size());
    CHECK(energy_std.minCoeff() >= 0.0);
    CHECK(energy_std.maxCoeff() > 0.0);
    // The calibrated force std (eV/Å) of a model trained on this very system
    // is finite, positive and well below the ~1 eV/Å forces at 1200 K.
    CHECK(force_std.minCoeff() > 0.0);
    CHECK(force_std.maxCoeff() < 1.0);
    CHECK(novel.maxCoeff() <= 1.0);
  }
  // SW MD writes no such columns (it has no uncertainty).
  CHECK_THROWS(
      real_property(read_structures(directory / "sw" / "trajectory.xyz")[0], "energy_std"));
  // The summary counts the frames with novel atoms; here, inside the data, none.
  const auto summary = nlohmann::json::parse(read_text(directory / "gp" / "summary.json"));
  CHECK(summary["novel_frames"] == 0);
  CHECK(summary["max_novel_atoms"] == 0);
  CHECK_FALSE(summary.contains("first_novel_step"));
  CHECK_THAT(result.error, !Catch::Contains("novel"));

  // The crystal squeezed 10 %: every atom closer to its neighbours than any
  // training pair. The run goes on, but says so loudly and in the summary.
  write_text(directory / "squeezed.yaml",
             "structure: {lattice: diamond, elements: [Si], a: 4.888, repeat: 2}\n"
             "ensemble: nve\ntemperature: 10\ntimestep: 0.5\nseed: 5\n"
             "potential: gp:model.h5\nsteps: 10\n"
             "output: {directory: squeezed, thermo_interval: 5, trajectory_interval: 5}\n");
  const CliResult squeezed = run_md(directory, "squeezed.yaml");
  INFO(squeezed.error);
  REQUIRE(squeezed.exit_code == 0);
  CHECK_THAT(squeezed.error, Catch::Contains("step 0: 64 of 64 atoms are novel") &&
                                 Catch::Contains("3 trajectory frames of this run had atoms"));
  const auto flagged = nlohmann::json::parse(read_text(directory / "squeezed" / "summary.json"));
  CHECK(flagged["novel_frames"] == 3);
  CHECK(flagged["max_novel_atoms"] == 64);
  CHECK(flagged["first_novel_step"] == 0);
}

TEST_CASE(
    "otfgp md takes masses from the structure, through restarts too, and refuses an "
    "edited potential file",
    "[md][cli][restart]") {
  TemporaryDirectory directory("otfgp-md-cli-masses");
  std::filesystem::copy_file("/usr/share/lammps/potentials/Si.sw", directory / "my.sw");
  Structure si = testing::diamond(14, 5.431, 2);
  write_structures(directory / "light.xyz", {si});
  set_real_property(si, "masses", std::vector<double>(si.size(), 100.0));
  set_real_property(si, "momenta", Eigen::MatrixXd::Ones(si.size(), 3));
  write_structures(directory / "heavy.xyz", {si});
  const auto config = [](const std::string& file, int steps, const std::string& more) {
    return "structure: {file: " + file + "}\npotential: sw:my.sw\nensemble: nve\n" +
           "temperature: 1200\nseed: 3\nsteps: " + std::to_string(steps) + "\n" + more +
           "output: {directory: out, thermo_interval: 10, trajectory_interval: 40, "
           "restart_interval: 40}\n";
  };
  write_text(directory / "light.yaml", config("light.xyz", 40, ""));
  REQUIRE(run_md(directory, "light.yaml").exit_code == 0);
  std::filesystem::rename(directory / "out", directory / "light");
  write_text(directory / "straight.yaml", config("heavy.xyz", 80, ""));
  const CliResult straight = run_md(directory, "straight.yaml");
  INFO(straight.error);
  REQUIRE(straight.exit_code == 0);
  CHECK_THAT(straight.error, Contains("momenta column is not used"));
  std::filesystem::rename(directory / "out", directory / "straight");
  // Same start, same velocities in Å/fs scaled to the same temperature:
  // heavier atoms move slower, so the thermo lines part after step 0.
  const std::string light = read_text(directory / "light/thermo.dat");
  CHECK(light != read_text(directory / "straight/thermo.dat").substr(0, light.size()));
  const Structure frame = read_structure(directory / "straight/trajectory.xyz");
  CHECK(real_property(frame, "masses") == Eigen::MatrixXd::Constant(si.size(), 1, 100.0));

  // Stopped at 40 and continued to 80: the masses come back from the restart file.
  write_text(directory / "first.yaml", config("heavy.xyz", 40, ""));
  REQUIRE(run_md(directory, "first.yaml").exit_code == 0);
  CHECK(real_property(md::read_restart_file(directory / "out/restart.h5").structure, "masses") ==
        Eigen::MatrixXd::Constant(si.size(), 1, 100.0));
  write_text(directory / "continued.yaml", config("heavy.xyz", 80, "restart: out/restart.h5\n"));
  const std::filesystem::path saved = directory / "saved_restart.h5";
  std::filesystem::copy_file(directory / "out/restart.h5", saved);
  const CliResult continued = run_md(directory, "continued.yaml");
  INFO(continued.error);
  REQUIRE(continued.exit_code == 0);
  CHECK(testing::text_repeats(read_text(directory / "out/thermo.dat"),
                              read_text(directory / "straight/thermo.dat")));

  // The same spec over an edited file is another potential.
  std::filesystem::copy_file(saved, directory / "out/restart.h5",
                             std::filesystem::copy_options::overwrite_existing);
  std::string sw = read_text(directory / "my.sw");
  sw.replace(sw.find("2.1683"), 6, "3.0000");
  write_text(directory / "my.sw", sw);
  const CliResult refused = run_md(directory, "continued.yaml");
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.error, Contains("was written when the potential's file my.sw held content "
                                     "fnv1a64"));
  // A restart file of a build that recorded no file contents continues, with a warning.
  md::RestartData older = md::read_restart_file(saved);
  older.settings = without_file_lines(older.settings, "potential.files.");
  md::write_restart_file(directory / "out/restart.h5", older);
  const CliResult warned = run_md(directory, "continued.yaml");
  INFO(warned.error);
  CHECK(warned.exit_code == 0);
  CHECK_THAT(warned.error, Contains("did not record the potential's parameter files"));
}
