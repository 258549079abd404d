// Regression tests for issue 8: bad input gives a clear otfgp::Error (or exit 1
// with "otfgp: error:" at the command line), never a wrong result or a crash.
// One section per class of defect found by the hostile-input survey.

#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "otfgp/analysis/hull.hpp"
#include "otfgp/analysis/relax.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/formula.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/md/run.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "support/cli.hpp"
#include "support/python.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::testing;
using Catch::Matchers::Contains;

namespace {
const std::string silicon_sw = "sw:/usr/share/lammps/potentials/Si.sw";
const std::string argon_lj = "lj:eps=0.0104,sigma=3.4,rc=8.5";

[[maybe_unused]] std::string text_of(const std::filesystem::path& path) {
  std::ifstream input(path, std::ios::binary);
  std::ostringstream text;
  text << input.rdbuf();
  return text.str();
}
}  // namespace

// Class 1: a cell nearly flat along one direction, or a cutoff that needs an
// absurd number of periodic images, is an error before any list is built.
TEST_CASE("thin cells and huge cutoffs are an error up front", "[reliability][neighbor]") {
  Structure silicon = diamond(14, 5.431, 1);
  auto potential = make_potential(silicon_sw);
  const Evaluation reference = evaluate(*potential, silicon);
  CHECK(reference.energy < -30.0);

  Structure flat = silicon;
  flat.cell.row(1) = flat.cell.row(0) + Eigen::RowVector3d(0, 1e-9, 0);
  CHECK_THROWS_WITH(evaluate(*potential, flat), Contains("too thin"));
  for (double width : {1e-4, 1e-6, 1e-8}) {
    Structure thin = silicon;
    thin.cell.row(2) = Eigen::RowVector3d(0, 0, width);
    thin.positions.col(2).setZero();
    CHECK_THROWS_WITH(evaluate(*potential, thin), Contains("too thin"));
  }
  for (const char* spec : {"lj:eps=0.0104,sigma=3.4,rc=1e4", "lj:eps=0.0104,sigma=3.4,rc=1e6"}) {
    auto wide = make_potential(spec);
    CHECK_THROWS_WITH(evaluate(*wide, fcc(18, 5.26, 1)), Contains("periodic images"));
  }
  // A small cell with an ordinary cutoff still works (many images, all fine).
  auto argon = make_potential(argon_lj);
  CHECK(std::isfinite(evaluate(*argon, fcc(18, 5.26, 1)).energy));

  // relax never reports convergence on such a cell.
  RelaxOptions options;
  CHECK_THROWS_WITH(relax(*potential, flat, options), Contains("too thin"));
}

// Class 2: coincident atoms are named; non-finite results are never returned.
TEST_CASE("eval rejects coincident atoms and never returns non-finite results",
          "[reliability][eval]") {
  Structure silicon = diamond(14, 5.431, 1);
  silicon.positions.row(1) = silicon.positions.row(0);
  for (const std::string& spec : {silicon_sw, argon_lj}) {
    auto potential = make_potential(spec);
    CHECK_THROWS_WITH(evaluate(*potential, silicon), Contains("atoms 1 (Si) and 2 (Si)"));
  }
  TemporaryDirectory dir;
  write_structures(dir / "in.xyz", {silicon});
  const CommandResult run = run_otfgp("eval -p " + silicon_sw + " " + (dir / "in.xyz").string() +
                                      " -o " + (dir / "out.xyz").string());
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.output, Contains("otfgp: error:") && Contains("apart"));
  CHECK_FALSE(std::filesystem::exists(dir / "out.xyz"));
}

// Class 3: coordinates so large that wrapping loses them are an error.
TEST_CASE("absurd coordinates are an error, not wrapped to zero", "[reliability][structure]") {
  Structure silicon = diamond(14, 5.431, 1);
  silicon.positions(3, 0) = 1e30;
  CHECK_THROWS_WITH(silicon.validate(), Contains("atom 4") && Contains("1e+30"));  // 1-based
  auto potential = make_potential(silicon_sw);
  CHECK_THROWS_AS(evaluate(*potential, silicon), Error);
  Structure huge_cell = diamond(14, 5.431, 1);
  huge_cell.cell(0, 0) = 1e300;
  CHECK_THROWS_WITH(huge_cell.validate(), Contains("cell"));
}

namespace {
// Two labelled Si frames as extended XYZ; the second with `energy` and the
// force of its second atom (file line 8) replaced by the given texts.
std::string labelled_silicon(const std::string& energy, const std::string& force) {
  std::string text;
  for (int frame = 0; frame < 2; ++frame) {
    text += "2\nLattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:pos:R:3:forces:R:3 energy=" +
            (frame == 1 ? energy : std::string("-8.5")) + " pbc=\"T T T\"\n";
    text += "Si 0 0 0 0.1 0 0\n";
    text += "Si 1.4 1.5 1.5 " + (frame == 1 ? force : std::string("-0.1 0 0")) + "\n";
  }
  return text;
}
}  // namespace

// Class 4: training data with bad labels is rejected naming file, frame and atom.
TEST_CASE("train rejects bad labels naming file, frame and atom", "[reliability][train]") {
  TemporaryDirectory dir;
  struct Case {
    std::string energy, force, expected;
  };
  // A non-finite energy is named on its comment line, a force on its atom's line.
  const std::vector<Case> cases = {{"nan", "-0.1 0 0", "line 6: the energy label is nan"},
                                   {"-8.5", "nan 0 0", "line 8: column 'forces' of atom 2"},
                                   {"-8.5", "inf 0 0", "line 8: column 'forces' of atom 2"},
                                   {"-8.5", "0 -1e999 0", "line 8: column 'forces' of atom 2"}};
  for (const Case& c : cases) {
    std::ofstream(dir / "data.xyz") << labelled_silicon(c.energy, c.force);
    const CommandResult run = run_otfgp("train --data " + (dir / "data.xyz").string() + " -o " +
                                        (dir / "model.h5").string());
    INFO(run.output);
    CHECK(run.exit_code == 1);
    CHECK_THAT(run.output,
               Contains("otfgp: error:") && Contains("data.xyz") && Contains(c.expected));
    CHECK_FALSE(std::filesystem::exists(dir / "model.h5"));
  }
  // Coincident atoms: the second frame has both atoms at the origin.
  std::string text = labelled_silicon("-8.5", "-0.1 0 0");
  text.replace(text.rfind("Si 1.4 1.5 1.5"), 14, "Si 0 0 0");
  std::ofstream(dir / "data.xyz") << text;
  const CommandResult run = run_otfgp("train --data " + (dir / "data.xyz").string() + " -o " +
                                      (dir / "model.h5").string());
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.output, Contains("data.xyz") && Contains("frame 2") && Contains("atoms 1 (Si)"));
  CHECK_FALSE(std::filesystem::exists(dir / "model.h5"));
}

// Class 8: command-line errors print one "otfgp: error:" line and exit 1.
TEST_CASE("command-line errors exit 1 with one otfgp: error line", "[reliability][cli]") {
  for (const std::string arguments :
       {"", "nosuchverb", "eval", "eval --bogus x", "md --steps", "hull --pressure abc x.csv",
        "eval -p lj: /nonexistent/in.xyz -o out.xyz", "train --data"}) {
    const CommandResult run = run_otfgp(arguments);
    INFO(arguments << "\n" << run.output);
    CHECK(run.exit_code == 1);
    CHECK(run.output.rfind("otfgp: error: ", 0) == 0);
    CHECK(std::count(run.output.begin(), run.output.end(), '\n') == 1);
  }
  for (const std::string arguments : {"--help", "--version", "eval --help"}) {
    const CommandResult run = run_otfgp(arguments);
    INFO(arguments << "\n" << run.output);
    CHECK(run.exit_code == 0);
  }
}

// Class 7: an output that names an input or another output (through any
// spelling or link) is an error before anything is written.
TEST_CASE("colliding output paths are an error before anything is written",
          "[reliability][paths]") {
  TemporaryDirectory dir;
  const std::string d = dir.path().string() + "/";
  std::vector<Structure> frames = {fcc(18, 5.26, 1)};
  auto argon = make_potential(argon_lj);
  attach_labels(frames[0], evaluate(*argon, frames[0]));
  write_structures(dir / "in.xyz", frames);
  std::filesystem::create_symlink(dir / "in.xyz", dir / "link.xyz");
  std::filesystem::create_directory(dir / "sub");
  std::ofstream(dir / "table.csv") << "formula,energy_per_atom\nAr,0\n";
  const std::string input_before = text_of(dir / "in.xyz");

  struct Case {
    std::string arguments, expected;
  };
  const std::vector<Case> cases = {
      {"eval -p " + argon_lj + " " + d + "in.xyz -o " + d + "in.xyz", "-o"},
      {"eval -p " + argon_lj + " " + d + "in.xyz -o " + d + "link.xyz", "-o"},
      {"eval -p " + argon_lj + " " + d + "in.xyz -o " + d + "sub/../in.xyz", "-o"},
      {"relax -p " + argon_lj + " " + d + "in.xyz -o " + d + "r.xyz --trajectory " + d + "r.xyz",
       "--trajectory"},
      {"train --data " + d + "in.xyz -o " + d + "m.h5 --summary " + d + "m.h5", "--summary"},
      {"train --data " + d + "in.xyz -o " + d + "in.xyz", "--data"},
      {"hull " + d + "table.csv --json " + d + "table.csv", "--json"},
  };
  for (const Case& c : cases) {
    const CommandResult run = run_otfgp(c.arguments);
    INFO(c.arguments << "\n" << run.output);
    CHECK(run.exit_code == 1);
    CHECK_THAT(run.output, Contains("otfgp: error:") && Contains(c.expected) &&
                               (Contains("same file") || Contains("is the input")));
  }
  CHECK(text_of(dir / "in.xyz") == input_before);
  CHECK_FALSE(std::filesystem::exists(dir / "r.xyz"));
  CHECK_FALSE(std::filesystem::exists(dir / "m.h5"));
  CHECK(text_of(dir / "table.csv") == "formula,energy_per_atom\nAr,0\n");

  // md: thermo = trajectory, summary = trajectory, trajectory = restart input.
  const std::string md_base =
      "structure: {lattice: fcc, elements: [Ar], a: 5.30, repeat: 2}\n"
      "potential: " +
      argon_lj + "\nensemble: nve\ntemperature: 50\ntimestep: 4\nsteps: 20\n";
  const std::vector<std::pair<std::string, std::string>> md_cases = {
      {"output: {directory: " + d + "o1, thermo_file: t.xyz, trajectory_file: t.xyz}\n",
       "trajectory_file"},
      {"output: {directory: " + d + "o2, summary_file: t.xyz, trajectory_file: t.xyz}\n",
       "summary_file"},
      {"output: {directory: " + d + "o3, restart_file: t.xyz, trajectory_file: t.xyz}\n",
       "restart_file"},
  };
  for (const auto& [output, expected] : md_cases) {
    std::ofstream(dir / "md.yaml") << md_base << output;
    const CommandResult run = run_otfgp("md " + d + "md.yaml");
    INFO(output << "\n" << run.output);
    CHECK(run.exit_code == 1);
    CHECK_THAT(run.output, Contains("same file") && Contains(expected));
  }
  CHECK_FALSE(std::filesystem::exists(dir / "o1/t.xyz"));
  CHECK_FALSE(std::filesystem::exists(dir / "o2/t.xyz"));
  CHECK_FALSE(std::filesystem::exists(dir / "o3/t.xyz"));
}

// Class 9: a run of no steps is refused rather than reporting means of 0 K.
TEST_CASE("md with steps: 0 is an error, not means of zero", "[reliability][md]") {
  const std::string config =
      "structure: {lattice: fcc, elements: [Ar], a: 5.30, repeat: 2}\n"
      "potential: " +
      argon_lj + "\nensemble: nve\ntemperature: 50\ntimestep: 4\n";
  CHECK_THROWS_WITH(md::parse_run_config(config + "steps: 0\n", "run.yaml"),
                    Contains("run.yaml") && Contains("steps") && Contains("at least 1"));
  CHECK_NOTHROW(md::parse_run_config(config + "steps: 1\n", "run.yaml"));
}

// Class 10: messages say what is wrong.
TEST_CASE("messages name the real problem", "[reliability][messages]") {
  TemporaryDirectory dir;
  // A frame with no atoms.
  std::ofstream(dir / "empty.xyz")
      << "0\nLattice=\"5 0 0 0 5 0 0 0 5\" Properties=species:S:1:pos:R:3\n";
  CommandResult run = run_otfgp("eval -p " + argon_lj + " " + (dir / "empty.xyz").string() +
                                " -o " + (dir / "out.xyz").string());
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.output, Contains("no atoms") && !Contains("cutoff"));
  // --recheck-within -1 is a bad value, not a missing partner flag.
  std::ofstream(dir / "t.csv") << "id,formula,energy\nAr,Ar,0\n";
  run = run_otfgp("hull " + (dir / "t.csv").string() + " --recheck-within -1 --recheck-with " +
                  argon_lj);
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.output, Contains("--recheck-within must be") && !Contains("go together"));
  // A non-ASCII character is shown whole (valid UTF-8), not as a lone byte.
  try {
    parse_formula("Ba\xc3\xa9O");
    FAIL("no error");
  } catch (const Error& error) {
    const std::string message = error.what();
    CHECK_THAT(message, Contains("'\xc3\xa9'"));
  }
  // A directory as a parameter file.
  std::filesystem::create_directory(dir / "Si.sw");
  CHECK_THROWS_WITH(make_potential("sw:" + (dir / "Si.sw").string()),
                    Contains("is a directory") && !Contains("cannot find"));
}

// Class 5: extreme energies or deviations are refused before qhull sees them.
TEST_CASE("hull refuses extreme values with one clear message", "[reliability][hull]") {
  std::vector<HullEntry> entries(3);
  entries[0].id = "Ba";
  entries[0].composition = parse_formula("Ba");
  entries[0].energy_per_atom = -2.0;
  entries[1].id = "O";
  entries[1].composition = parse_formula("O2");
  entries[1].energy_per_atom = -4.0;
  entries[2].id = "BaO";
  entries[2].composition = parse_formula("BaO");
  entries[2].energy_per_atom = -3.5;
  CHECK(compute_hull(entries).entries[2].e_above_hull == Approx(0.0).margin(1e-12));
  entries[2].energy_per_atom = -1e300;
  CHECK_THROWS_WITH(compute_hull(entries), Contains("'BaO'") && Contains("-1e+300"));
  entries[2].energy_per_atom = -3.5;
  entries[2].std_per_atom = 1e300;
  CHECK_THROWS_WITH(compute_hull(entries), Contains("'BaO'") && Contains("standard deviation"));

  TemporaryDirectory dir;
  for (const std::string row : {"BaO,BaO,-2e300,", "BaO,BaO,-7,1e300"}) {
    std::ofstream(dir / "t.csv") << "id,formula,energy,std\nBa,Ba,-2,\nO,O2,-8,\n" << row << "\n";
    const CommandResult run = run_otfgp("-q hull " + (dir / "t.csv").string());
    INFO(run.output);
    CHECK(run.exit_code == 1);
    CHECK(run.output.rfind("otfgp: error:", 0) == 0);
    CHECK_THAT(run.output, Contains("t.csv") && Contains("4") && !Contains("qhull"));
    CHECK(std::count(run.output.begin(), run.output.end(), '\n') == 1);
  }
}

// Class 12: a damaged or edited model file is refused on load, whichever path
// (mapped or full GP) evaluates it.
TEST_CASE("a corrupted GP model file is refused on every path", "[reliability][gp]") {
  TemporaryDirectory dir;
  auto silicon = make_potential(silicon_sw);
  std::vector<Structure> frames;
  for (int k = 0; k < 3; ++k) {
    Structure s = diamond(14, 5.431, 1);
    rattle(s, 0.1, 10 + k);
    attach_labels(s, evaluate(*silicon, s));
    frames.push_back(s);
  }
  write_structures(dir / "data.xyz", frames);
  const CommandResult train = run_otfgp("-q train --data " + (dir / "data.xyz").string() + " -o " +
                                        (dir / "model.h5").string());
  INFO(train.output);
  REQUIRE(train.exit_code == 0);
  for (const std::string variant : {"", ",mapped=no"}) {
    auto intact = make_potential("gp:" + (dir / "model.h5").string() + variant);
    CHECK(std::isfinite(evaluate(*intact, frames[0]).energy));
  }
  const std::vector<std::pair<std::string, std::string>> damages = {
      {"zeroed", "d = f['mapped/Si/beta']; d[0:3] = 0"},  // rows, or packed numbers
      {"species", "del f['species']; f['species'] = [999]"},
      {"kind", "f.attrs['kind'] = 'something else'"},
      {"alpha", "a = f['solution/alpha'][:-1]; del f['solution/alpha']; f['solution/alpha'] = a"},
  };
  for (const auto& [name, damage] : damages) {
    const std::string copy = (dir / (name + ".h5")).string();
    std::filesystem::copy_file(dir / "model.h5", copy);
    python_output("import sys, h5py\nf = h5py.File(sys.argv[1], 'r+')\n" + damage + "\nf.close()\n",
                  {copy});
    for (const std::string variant : {"", ",mapped=no"}) {
      INFO(name << variant);
      CHECK_THROWS_AS(evaluate(*make_potential("gp:" + copy + variant), frames[0]), Error);
    }
  }
}

namespace {
// Runs a bash command line with `OTFGP` set to the CLI's path; stdout and
// stderr together, and the exit status (128 + signal when killed).
CommandResult run_bash(const std::string& script) {
  const std::string command =
      "OTFGP='" + std::string(OTFGP_CLI_PATH) + "' bash -c '" + script + "' 2>&1 < /dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe);
  CommandResult result;
  char buffer[4096];
  std::size_t count;
  while ((count = std::fread(buffer, 1, sizeof buffer, pipe)) > 0)
    result.output.append(buffer, count);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::vector<std::string> hidden_temporaries(const std::filesystem::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(directory))
    if (entry.path().filename().string().find(".tmp") != std::string::npos)
      names.push_back(entry.path().filename().string());
  return names;
}
}  // namespace

// Class 6: a full disk (here: the file-size limit, with SIGXFSZ ignored so
// that write() fails as on a full disk) is one clear error and no crash at exit.
TEST_CASE("a full disk during writes is a clear error, not a crash", "[reliability][disk]") {
  TemporaryDirectory dir;
  auto silicon = make_potential(silicon_sw);
  std::vector<Structure> frames;
  for (int k = 0; k < 2; ++k) {
    Structure s = diamond(14, 5.431, 1);
    rattle(s, 0.1, 30 + k);
    attach_labels(s, evaluate(*silicon, s));
    frames.push_back(s);
  }
  write_structures(dir / "data.xyz", frames);
  const std::string d = dir.path().string();
  CommandResult run =
      run_bash("ulimit -f 4; $OTFGP -q train --data " + d + "/data.xyz -o " + d + "/model.h5");
  INFO(run.output);
  CHECK(run.exit_code == 1);
  // One clear error line (after any training warnings), no HDF5 diagnostics.
  CHECK_THAT(run.output, Contains("otfgp: error: cannot write") && Contains("model.h5") &&
                             !Contains("HDF5-DIAG"));
  CHECK_FALSE(std::filesystem::exists(dir / "model.h5"));
  CHECK(hidden_temporaries(dir.path()).empty());

  std::ofstream(dir / "md.yaml")
      << "structure: {lattice: fcc, elements: [Ar], a: 5.30, repeat: 4}\npotential: " << argon_lj
      << "\nensemble: nve\ntemperature: 50\ntimestep: 4\nsteps: 20\n"
      << "output: {directory: " << d << "/out, thermo_interval: 0, trajectory_interval: 0}\n";
  std::filesystem::create_directory(dir / "out");
  run = run_bash("ulimit -f 4; $OTFGP -q md " + d + "/md.yaml");
  INFO(run.output);
  CHECK(run.exit_code == 1);  // not 139: no crash at exit
  CHECK_THAT(run.output, Contains("otfgp: error: cannot write restart file") &&
                             !Contains("Segmentation") && !Contains("HDF5-DIAG"));
  CHECK(hidden_temporaries(dir / "out").empty());

  // An append that does not fit leaves the trajectory as it was.
  write_structures(dir / "traj.xyz", frames);
  const std::string before = text_of(dir / "traj.xyz");
  std::vector<Structure> many(40, frames[0]);
  write_structures(dir / "many.xyz", many);
  run = run_bash("ulimit -f 8; $OTFGP -q eval -p " + silicon_sw + " " + d + "/many.xyz -o " + d +
                 "/labelled.xyz");
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.output, Contains("File too large"));
  CHECK_FALSE(std::filesystem::exists(dir / "labelled.xyz"));
  CHECK(hidden_temporaries(dir.path()).empty());
  CHECK(text_of(dir / "traj.xyz") == before);

  // otfgp ignores SIGXFSZ (the limit above is ulimit -f, whose signal kills by
  // default): an md trajectory that passes it ends in exit 1, its whole frames
  // kept and the failed append undone.
  std::ofstream(dir / "long.yaml")
      << "structure: {lattice: fcc, elements: [Ar], a: 5.30, repeat: 4}\npotential: " << argon_lj
      << "\nensemble: nve\ntemperature: 50\ntimestep: 4\nsteps: 200\n"
      << "output: {directory: " << d << "/long, thermo_interval: 0, trajectory_interval: 5}\n";
  run = run_bash("ulimit -f 200; $OTFGP -q md " + d + "/long.yaml");
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.output, Contains("appending to") && Contains("File too large") &&
                             Contains("the file is unchanged"));
  const std::vector<Structure> kept = read_structures(dir / "long" / "trajectory.xyz");
  CHECK(kept.size() > 1);
  CHECK(kept.size() < 41);
}

// Class 11: signals stop long verbs cleanly and resumably; leftovers of killed
// writers are cleaned at the next start; thermo is on disk line by line.
TEST_CASE("signals stop md and relax cleanly, killed writers leave nothing behind",
          "[reliability][signals]") {
  TemporaryDirectory dir;
  const std::string d = dir.path().string();
  const std::string md_config =
      "structure: {lattice: fcc, elements: [Ar], a: 5.30, repeat: 4}\npotential: " + argon_lj +
      "\nensemble: nve\ntemperature: 50\ntimestep: 4\n"
      "output: {directory: " +
      d + "/out, thermo_interval: 10}\n";
  std::ofstream(dir / "md.yaml") << md_config << "steps: 100000000\n";
  // SIGINT once thermo.dat has lines: that proves it is flushed line by line
  // (the default restart_interval writes nothing before the end).
  CommandResult run =
      run_bash("$OTFGP -q md " + d +
               "/md.yaml & pid=$!; for i in $(seq 600); do "
               "[ $(cat " +
               d +
               "/out/thermo.dat 2>/dev/null | wc -l) -ge 4 ] && break; sleep 0.05; done; "
               "kill -INT $pid; wait $pid");
  INFO(run.output);
  CHECK(run.exit_code == 130);
  CHECK_THAT(run.output, Contains("interrupted") && Contains("restart") && Contains("md.yaml"));
  REQUIRE(std::filesystem::exists(dir / "out/restart.h5"));
  CHECK(std::filesystem::exists(dir / "out/summary.json"));
  CHECK_THAT(text_of(dir / "out/summary.json"), Contains("interrupted_by_signal"));
  // It resumes from the restart (and stops again cleanly on SIGTERM).
  std::ofstream(dir / "resume.yaml")
      << md_config << "steps: 100000000\nrestart: " << d << "/out/restart.h5\n";
  run = run_bash("$OTFGP -q md " + d +
                 "/resume.yaml & pid=$!; sleep 0.5; kill -TERM $pid; wait $pid");
  INFO(run.output);
  CHECK(run.exit_code == 143);

  // relax on SIGTERM: the structures so far are written, marked not converged.
  // Far from converged for seconds: 2000 atoms, a tolerance FIRE cannot reach.
  Structure big =
      random_structure(Eigen::Matrix3d::Identity() * 50.0, std::vector<int>(2000, 18), 2.8, 5);
  write_structures(dir / "big.xyz", {big, big});
  run = run_bash("$OTFGP -q relax -p " + argon_lj + " " + d + "/big.xyz -o " + d +
                 "/relaxed.xyz --fmax 1e-12 --max-steps 100000000 & pid=$!; sleep 1; "
                 "kill -TERM $pid; wait $pid");
  INFO(run.output);
  CHECK(run.exit_code == 143);
  CHECK_THAT(run.output, Contains("otfgp: interrupted:") && Contains("relaxed.xyz"));
  const std::vector<Structure> relaxed = read_structures(dir / "relaxed.xyz");
  REQUIRE(relaxed.size() == 1);
  CHECK(relaxed[0].info_value("converged") == std::optional<std::string>("F"));

  // A temporary left by a killed writer (its process gone) is removed at the next write.
  write_structures(dir / "in.xyz", {fcc(18, 5.26, 1)});
  std::ofstream(dir / ".out.xyz.tmp99999999") << "half a file";
  run = run_otfgp("-q eval -p " + argon_lj + " " + d + "/in.xyz -o " + d + "/out.xyz");
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(hidden_temporaries(dir.path()).empty());
}

// Found by the fuzz run (10 000 cases, seed 2026): an EAM grid spacing of
// 1e308 overflowed the resampled table (std::length_error, not an otfgp::Error).
TEST_CASE("EAM tables of absurd extent are a clear error", "[reliability][fuzz-found]") {
  std::ifstream original("/usr/share/lammps/potentials/Cu_u3.eam");
  std::string text, line;
  for (int k = 0; std::getline(original, line); ++k) {
    if (k == 2) {
      std::istringstream words(line);
      std::string nrho, drho, nr, dr, cutoff;
      words >> nrho >> drho >> nr >> dr >> cutoff;
      line = nrho + " " + drho + " " + nr + " 1e308 " + cutoff;
    }
    text += line + "\n";
  }
  TemporaryFile file("Cu.eam", text);
  CHECK_THROWS_WITH(make_potential("eam:" + file.path.string()), Contains("absurdly large"));
}
