// Issue 8, second round: the gaps left after the twelve classes. eval and
// train stop promptly and cleanly on signals (train inside a long frame, not
// only between frames); otf, search and label refuse outputs that name an
// input before writing anything; hostile configs of otf, search and label end
// in one clear error.

#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "otfgp/core/io.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "support/cli.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::testing;
using Catch::Matchers::Contains;

namespace {

const std::string silicon_sw = "sw:/usr/share/lammps/potentials/Si.sw";

std::string text_of(const std::filesystem::path& path) {
  std::ifstream input(path, std::ios::binary);
  std::ostringstream text;
  text << input.rdbuf();
  return text.str();
}

struct TimedResult {
  int exit_code = -1;
  std::string output;
  double seconds_after_signal = 0;  // from the signal to the exit, as the shell measured it
};

// Starts `otfgp ARGUMENTS` in the background, sends `signal` once `ready`
// (a shell condition) holds or after `delay` seconds, and waits for it.
TimedResult signal_otfgp(const std::string& arguments, const std::string& signal,
                         const std::string& ready, double delay) {
  const std::string script =
      "'" + std::string(OTFGP_CLI_PATH) + "' " + arguments +
      " > out.log 2>&1 & pid=$!; for i in $(seq 1200); do " + ready +
      " && break; sleep 0.05; done; sleep " + std::to_string(delay) + "; t0=$(date +%s%N); kill -" +
      signal +
      " $pid; wait $pid; status=$?; t1=$(date +%s%N); cat out.log; "
      "echo; echo \"status=$status milliseconds=$(( (t1 - t0) / 1000000 ))\"";
  TemporaryDirectory scratch;
  std::ofstream(scratch / "run.sh") << "cd '" << scratch.path().string() << "'\n" << script << "\n";
  FILE* pipe = popen(("bash " + (scratch / "run.sh").string() + " 2>&1 < /dev/null").c_str(), "r");
  REQUIRE(pipe);
  std::string output;
  char buffer[4096];
  std::size_t count;
  while ((count = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, count);
  pclose(pipe);
  TimedResult result;
  const auto at = output.rfind("status=");
  REQUIRE(at != std::string::npos);
  long milliseconds = -1;
  std::sscanf(output.c_str() + at, "status=%d milliseconds=%ld", &result.exit_code, &milliseconds);
  result.seconds_after_signal = milliseconds / 1000.0;
  result.output = output.substr(0, at);
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

TEST_CASE("eval stops on SIGINT or SIGTERM with nothing written and exit 128+signal",
          "[reliability][signals]") {
  TemporaryDirectory dir;
  const std::string d = dir.path().string();
  // A small GP model, and enough frames that evaluating them with it takes
  // several seconds (the signal comes once evaluation has begun).
  auto silicon = make_potential(silicon_sw);
  std::vector<Structure> frames;
  for (int k = 0; k < 2; ++k) {
    Structure s = diamond(14, 5.431, 1);
    rattle(s, 0.1, 20 + k);
    attach_labels(s, evaluate(*silicon, s));
    frames.push_back(s);
  }
  write_structures(dir / "data.xyz", frames);
  const CommandResult trained =
      run_otfgp("-q train --data " + d + "/data.xyz -o " + d + "/model.h5");
  INFO(trained.output);
  REQUIRE(trained.exit_code == 0);
  frames.clear();
  for (int k = 0; k < 4000; ++k) {
    Structure s = diamond(14, 5.431, 2);
    rattle(s, 0.05, 100 + k);
    frames.push_back(s);
  }
  write_structures(dir / "many.xyz", frames);
  std::ofstream(dir / "old.xyz") << "an older output\n";
  for (const auto& [signal, status] : {std::pair<std::string, int>{"INT", 130}, {"TERM", 143}}) {
    const TimedResult run =
        signal_otfgp("eval -p gp:" + d + "/model.h5 " + d + "/many.xyz -o " + d + "/old.xyz",
                     signal, "grep -q evaluating out.log", 0.5);
    INFO(run.output);
    WARN("eval, SIG" << signal << ": exit " << run.exit_code << " " << run.seconds_after_signal
                     << " s after the signal");
    CHECK(run.exit_code == status);
    CHECK_THAT(run.output, Contains("otfgp: interrupted: eval stopped after") &&
                               Contains("nothing was written") && !Contains("internal error"));
    CHECK(run.seconds_after_signal < 2.0);
    CHECK(text_of(dir / "old.xyz") == "an older output\n");
    CHECK(hidden_temporaries(dir.path()).empty());
  }
}

TEST_CASE("train stops inside a long frame on SIGINT and keeps the previous -o file intact",
          "[reliability][signals]") {
  TemporaryDirectory dir;
  const std::string d = dir.path().string();
  auto silicon = make_potential(silicon_sw);
  // A model from a short training: the file a long run must not spoil.
  Structure small = diamond(14, 5.431, 1);
  rattle(small, 0.1, 7);
  attach_labels(small, evaluate(*silicon, small));
  write_structures(dir / "small.xyz", {small});
  const CommandResult first =
      run_otfgp("-q train --data " + d + "/small.xyz -o " + d + "/model.h5");
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  const std::string model_before = text_of(dir / "model.h5");

  // One big frame: before, the signal was looked at only after the whole
  // frame (descriptors, kernel rows, factor update) was in.
  Structure big = diamond(14, 5.431, 9);
  rattle(big, 0.1, 8);
  attach_labels(big, evaluate(*silicon, big));
  write_structures(dir / "big.xyz", {big});
  std::ofstream(dir / "train.yaml")
      << "descriptor: {cutoff: 5.0, n_max: 8, l_max: 6}\nsparse: {count: 400}\n";
  const TimedResult run = signal_otfgp(
      "train --data " + d + "/big.xyz --config " + d + "/train.yaml -o " + d + "/model.h5", "INT",
      "grep -q 'read 1 frames' out.log", 1.0);
  INFO(run.output);
  WARN("train, SIGINT: exit " << run.exit_code << " " << run.seconds_after_signal
                              << " s after the signal: "
                              << run.output.substr(run.output.rfind("otfgp:")));
  CHECK(run.exit_code == 130);
  CHECK_THAT(run.output, Contains("otfgp: interrupted: training stopped during") &&
                             Contains("nothing was written to"));
  CHECK(run.seconds_after_signal < 2.0);
  CHECK(text_of(dir / "model.h5") == model_before);
  CHECK(hidden_temporaries(dir.path()).empty());
}

namespace {

const std::string si64 = std::string(OTFGP_SOURCE_DIR) + "/examples/quickstart/si64.xyz";

// A short otf config (it is refused before any MD in the tests below).
std::string otf_config(const std::string& structure, const std::string& extra,
                       const std::string& output) {
  return "structure: " + structure +
         "\nmd:\n  ensemble: nve\n  temperature: 300\n  timestep: 1.0\n  steps: 20\n"
         "model:\n  descriptor: {n_max: 3, l_max: 2, cutoff: 4.0}\n"
         "oracle: {kind: potential, potential: '" +
         silicon_sw + "'}\n" + extra + "output: " + output + "\n";
}

std::string search_config(const std::string& extra, const std::string& folder,
                          const std::string& potential = silicon_sw) {
  return "composition: Si\nformula_units: 2\npotential: " + potential +
         "\ncandidates: 2\nalgorithm: random\nrelax: {max_steps: 20}\n" + extra +
         "output: {folder: " + folder + ", plots: false}\n";
}

void write(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

}  // namespace

// Item 3 of the closing note: otf and search outputs checked with
// check_output_paths, before anything is written.
TEST_CASE("otf, search and label refuse outputs that name an input", "[reliability][paths]") {
  TemporaryDirectory dir;
  const std::filesystem::path d = dir.path();
  const std::string structure = text_of(si64);
  struct Case {
    std::string name;
    std::vector<std::pair<std::string, std::string>> files;  // written before the run
    std::string arguments;
    std::string expected;
    std::string untouched;  // a file that must keep its bytes
  };
  const std::string o = (d / "o").string();
  const std::vector<Case> cases = {
      {"otf: held_out is the output's training.xyz",
       {{"o/training.xyz", structure},
        {"otf1.yaml", otf_config(si64, "held_out: " + o + "/training.xyz\n", o)}},
       "otf " + (d / "otf1.yaml").string(),
       "held_out",
       "o/training.xyz"},
      {"otf: the structure is the output's trajectory.xyz",
       {{"o/trajectory.xyz", structure}, {"otf2.yaml", otf_config(o + "/trajectory.xyz", "", o)}},
       "otf " + (d / "otf2.yaml").string(),
       "trajectory.xyz",
       "o/trajectory.xyz"},
      {"otf: the output folder is the config",
       {{"otf3.yaml", otf_config(si64, "", (d / "otf3.yaml").string())}},
       "otf " + (d / "otf3.yaml").string(),
       "config",
       "otf3.yaml"},
      {"otf: the structure lies in output/checkpoint",
       {{"o/checkpoint/s.xyz", structure},
        {"otf4.yaml", otf_config(o + "/checkpoint/s.xyz", "", o)}},
       "otf " + (d / "otf4.yaml").string(),
       "checkpoint",
       "o/checkpoint/s.xyz"},
      {"search: the output folder is the config",
       {{"s1.yaml", search_config("", (d / "s1.yaml").string())}},
       "search " + (d / "s1.yaml").string(),
       "config",
       "s1.yaml"},
      {"search: --output is the config",
       {{"s2.yaml", search_config("", (d / "s2out").string())}},
       "search " + (d / "s2.yaml").string() + " --output " + (d / "s2.yaml").string(),
       "config",
       "s2.yaml"},
      {"search: a template lies in output/top",
       {{"s3out/top/t.xyz", structure},
        {"s3.yaml", search_config("templates: [" + (d / "s3out/top").string() + "]\n",
                                  (d / "s3out").string())}},
       "search " + (d / "s3.yaml").string(),
       "output/top",
       "s3out/top/t.xyz"},
      {"search: the output folder lies in a template folder",
       {{"tdir/t.xyz", structure},
        {"s4.yaml",
         search_config("templates: [" + (d / "tdir").string() + "]\n", (d / "tdir/out").string())}},
       "search " + (d / "s4.yaml").string(),
       "template",
       "tdir/t.xyz"},
      {"search: the potential's file is the output's ranking.txt",
       {{"s5out/ranking.txt", text_of("/usr/share/lammps/potentials/Si.sw")},
        {"s5.yaml",
         search_config("", (d / "s5out").string(), "sw:" + (d / "s5out/ranking.txt").string())}},
       "search " + (d / "s5.yaml").string(),
       "ranking.txt",
       "s5out/ranking.txt"},
      {"label: -o is the input",
       {{"label.yaml", "oracle: {kind: potential, potential: '" + silicon_sw + "'}\n"},
        {"in.xyz", structure}},
       "label " + (d / "label.yaml").string() + " " + (d / "in.xyz").string() + " -o " +
           (d / "in.xyz").string(),
       "input",
       "in.xyz"},
      {"label: -o is the config",
       {{"label2.yaml", "oracle: {kind: potential, potential: '" + silicon_sw + "'}\n"},
        {"in2.xyz", structure}},
       "label " + (d / "label2.yaml").string() + " " + (d / "in2.xyz").string() + " -o " +
           (d / "label2.yaml").string(),
       "name it *.xyz or *.extxyz",  // refused by its name before the paths are compared
       "label2.yaml"},
  };
  for (const Case& c : cases) {
    for (const auto& [name, text] : c.files) write(d / name, text);
    const std::string before = text_of(d / c.untouched);
    const CommandResult run = run_otfgp("-q " + c.arguments);
    INFO(c.name << "\n" << run.output);
    CHECK(run.exit_code == 1);
    CHECK_THAT(run.output,
               Contains("otfgp: error:") && Contains(c.expected) && !Contains("internal error"));
    CHECK(text_of(d / c.untouched) == before);
  }
  // Nothing was written by the refused runs.
  CHECK_FALSE(std::filesystem::exists(d / "o/model.h5"));
  CHECK_FALSE(std::filesystem::exists(d / "s2out"));
  CHECK_FALSE(std::filesystem::exists(d / "s3out/ranking.txt"));
  CHECK_FALSE(std::filesystem::exists(d / "tdir/out"));
}

// Item 5: classes found by hostile configs of otf, search and label (each
// ended in a crash, a hang, "internal error" or a silently different run).
TEST_CASE("hostile otf, search and label configs end in one clear error",
          "[reliability][hostile]") {
  TemporaryDirectory dir;
  const std::filesystem::path d = dir.path();
  write(d / "afile", "x");
  struct Case {
    std::string name, config_name, config, arguments, expected;
  };
  const std::vector<Case> cases = {
      // std::filesystem errors (a file where a folder goes) were "internal error".
      {"otf output is an existing file", "o1.yaml", otf_config(si64, "", (d / "afile").string()),
       "otf", "afile is a file"},
      {"search output is an existing file", "s1.yaml", search_config("", (d / "afile").string()),
       "search", "a file of that name exists"},
      // An empty output name filled the current folder.
      {"otf output empty", "o2.yaml", otf_config(si64, "", "''"), "otf", "must name a folder"},
      // Counts beyond int were cast to other numbers and accepted.
      {"otf max_sparse_per_frame 10^12", "o3.yaml",
       otf_config(si64, "otf: {max_sparse_per_frame: 1000000000000}\n", (d / "o3").string()), "otf",
       "0 to 10^9"},
      {"otf hyperparameter_updates.first 10^13", "o4.yaml",
       otf_config(si64, "otf: {hyperparameter_updates: {first: 10000000000000}}\n",
                  (d / "o4").string()),
       "otf", "0 to 10^9"},
      // 2·10^9 atoms overflowed the atom count: a segmentation fault.
      {"search composition Si1000000000", "s2.yaml",
       "composition: Si1000000000\nformula_units: 2\npotential: " + silicon_sw +
           "\ncandidates: 2\noutput: {folder: " + (d / "s2").string() + "}\n",
       "search", "beyond any cell"},
      {"search composition Si600, 2 formula units", "s5.yaml",
       "composition: Si600\nformula_units: 2\npotential: " + silicon_sw +
           "\ncandidates: 2\noutput: {folder: " + (d / "s5").string() + "}\n",
       "search", "at most 1000"},
      // A volume factor of 1e300 hung the generator (and SIGTERM did not stop it).
      {"search volume_factor 1e300", "s3.yaml",
       search_config("structure: {volume_factor: [1, 1e300]}\n", (d / "s3").string()), "search",
       "at most 100"},
      // A negative collapse tolerance silently switched the collapse check off.
      {"search collapse_tolerance -1", "s4.yaml",
       "composition: Si\nformula_units: 2\npotential: " + silicon_sw +
           "\ncandidates: 2\noutput: {folder: " + (d / "s4").string() +
           ", collapse_tolerance: -1}\n",
       "search", "collapse_tolerance"},
      // spglib with a tolerance of 1e300 Å reported space groups for anything.
      {"search symprec 1e300", "s6.yaml",
       "composition: Si\nformula_units: 2\npotential: " + silicon_sw +
           "\ncandidates: 2\noutput: {folder: " + (d / "s6").string() + ", symprec: 1e300}\n",
       "search", "at most 1"},
  };
  for (const Case& c : cases) {
    write(d / c.config_name, c.config);
    const auto start = std::chrono::steady_clock::now();
    const CommandResult run = run_otfgp("-q " + c.arguments + " " + (d / c.config_name).string());
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    INFO(c.name << "\n" << run.output);
    CHECK(run.exit_code == 1);
    CHECK(run.output.rfind("otfgp: error:", 0) == 0);
    CHECK_THAT(run.output, Contains(c.expected) && !Contains("internal error"));
    CHECK(seconds < 30);
  }
  CHECK(text_of(d / "afile") == "x");
  CHECK_FALSE(std::filesystem::exists(std::filesystem::current_path() / "training.h5"));
}
