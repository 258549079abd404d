// The on-the-fly loop's output folder and its state across runs: a fresh run
// replaces every output of an earlier, finished run (never a stale model beside
// a new database) and refuses an unfinished one, a run that fails or is
// stopped says so in summary.json, a folder
// holding files the loop did not write is refused with nothing deleted, and
// --resume refuses settings its saved state depends on, naming the key.

#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>

#include "otfgp/core/error.hpp"
#include "otfgp/core/extxyz.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/oracle/oracle.hpp"
#include "otfgp/otf/otf_config.hpp"
#include "otfgp/otf/otf_loop.hpp"
#include "otfgp/otf/output_folder.hpp"
#include "otfgp/otf/training_database.hpp"
#include "support/files.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::otf;
using Catch::Contains;
using namespace otfgp::testing;
namespace fs = std::filesystem;

namespace {

const std::string si64 = quickstart_si64();
const std::string& sw = si_sw_file;

nlohmann::json read_summary(const fs::path& folder) {
  return nlohmann::json::parse(read_text(folder / "summary.json"));
}

// A short run of 64-atom Si with the SW oracle; `changes` replaces the text
// of a line's value ("temperature: 1000" → …) to vary one setting.
std::string config_text(const fs::path& output,
                        const std::map<std::string, std::string>& changes = {},
                        const std::string& oracle = "{kind: potential, potential: 'sw:" + sw +
                                                    "'}") {
  std::string text = "structure: " + si64 +
                     "\n"
                     "md:\n  ensemble: nvt\n  temperature: 1000\n  seed: 5\n  timestep: 1.0\n"
                     "  steps: 200\n  thermostat: {type: langevin, damping: 100}\n"
                     "model:\n  descriptor: {n_max: 5, l_max: 2, cutoff: 4.5}\n"
                     "  hyperparameters: {max_evaluations: 20}\n"
                     "oracle: " +
                     oracle +
                     "\n"
                     "otf:\n  check_interval: 5\n  min_steps_between_calls: 20\n"
                     "  max_sparse_per_frame: 8\n  checkpoint_interval: 100\n"
                     "output: " +
                     output.string() + "\n";
  for (const auto& [from, to] : changes) {
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
  }
  return text;
}

// The run folder `from` copied to `to` (in place when they are one) with the
// settings its checkpoint recorded changed by `edit`: a checkpoint of another
// run, or one an older build wrote.
void copy_with_settings(const fs::path& from, const fs::path& to,
                        const std::function<void(std::string&)>& edit) {
  if (from != to) fs::copy(from, to, fs::copy_options::recursive);
  const fs::path state_path = to / "checkpoint" / "state.json";
  nlohmann::json state = nlohmann::json::parse(read_text(state_path));
  std::string settings = state["settings"];
  edit(settings);
  state["settings"] = settings;
  write_text(state_path, state.dump(2));
}

OtfConfig write_and_read(const TemporaryDirectory& dir, const std::string& text,
                         const std::string& name = "otf.yaml") {
  std::ofstream(dir / name) << text;
  return read_otf_config(dir / name);
}

// Labels through the configured oracle until call `fail_at`, which throws
// something the loop does not expect from an oracle (a broken program, not a
// failed calculation): the run fails mid-way.
class BreakingOracle final : public oracle::Oracle {
 public:
  BreakingOracle(std::shared_ptr<oracle::Oracle> inner, int fail_at, bool calculation_failure)
      : inner_(std::move(inner)), fail_at_(fail_at), calculation_failure_(calculation_failure) {}
  std::string kind() const override { return "test"; }
  void check(const std::vector<int>& species) const override { inner_->check(species); }
  Structure label(const Structure& structure, const fs::path& workdir, int attempt) override {
    if (++calls_ >= fail_at_) {
      if (calculation_failure_)
        throw oracle::OracleFailure(oracle::FailureKind::not_converged, "test oracle: no SCF");
      throw std::runtime_error("test oracle: the disk is full");
    }
    return inner_->label(structure, workdir, attempt);
  }

 private:
  std::shared_ptr<oracle::Oracle> inner_;
  int fail_at_, calls_ = 0;
  bool calculation_failure_;
};

}  // namespace

TEST_CASE(
    "otf: a fresh run removes an earlier run's outputs, and a failed run says so in summary.json",
    "[otf]") {
  TemporaryDirectory dir;
  const fs::path out = dir / "out";
  const OtfConfig config = write_and_read(dir, config_text(out));
  REQUIRE(run_otf(config, false)["finished"] == true);
  REQUIRE(fs::exists(out / "model.h5"));
  REQUIRE(read_summary(out)["finished"] == true);
  REQUIRE(read_training_database(out / "training.h5").size() >= 2);

  // The oracle labels no starting structure: the run cannot start. What the
  // folder holds then is this run's (empty) state, not the earlier run's model.
  OtfConfig unlabelled = config;
  unlabelled.oracle = std::make_shared<BreakingOracle>(config.oracle, 1, true);
  CHECK_THROWS_WITH(run_otf(unlabelled, false), Contains("could not label any starting structure"));
  for (const char* stale : {"model.h5", "uncertainty.png", "learning.png", "parity.png"}) {
    INFO(stale);
    CHECK_FALSE(fs::exists(out / stale));
  }
  nlohmann::json summary = read_summary(out);
  CHECK(summary["finished"] == false);
  CHECK_THAT(summary.value("error", std::string()), Contains("could not label any starting"));
  CHECK(summary["frames"] == 0);
  CHECK(read_training_database(out / "training.h5").empty());
  CHECK_THAT(read_text(out / "calls.csv"), Contains("skipped (not converged)"));
  CHECK_FALSE(fs::exists(out / "checkpoint" / "state.json"));

  // A fresh run over an unfinished run is refused, the folder untouched: its
  // frames (hours of DFT, in earnest) are what --resume continues from.
  const std::string unfinished = read_text(out / "summary.json");
  CHECK_THROWS_WITH(run_otf(config, false),
                    Contains("holds an unfinished otf run") && Contains("--resume continues it"));
  CHECK(read_text(out / "summary.json") == unfinished);
  CHECK(fs::exists(out / "training.h5"));
  fs::remove_all(out);

  // A failure in the middle of the run (the oracle's program breaks at its
  // third call, the second warm-up call at step 40, which every run makes):
  // the frames learnt so far stay, with their checkpoint.
  OtfConfig breaking = config;
  breaking.oracle = std::make_shared<BreakingOracle>(config.oracle, 3, false);
  CHECK_THROWS_WITH(run_otf(breaking, false), Contains("the disk is full"));
  CHECK_FALSE(fs::exists(out / "model.h5"));
  summary = read_summary(out);
  CHECK(summary["finished"] == false);
  CHECK_THAT(summary.value("error", std::string()), Contains("the disk is full"));
  CHECK(summary["frames"] == 2);
  CHECK(read_training_database(out / "training.h5").size() == 2);
  CHECK(fs::exists(out / "checkpoint" / "state.json"));
}

TEST_CASE("otf: a fresh run refuses a folder holding files it did not write, and deletes none",
          "[otf]") {
  TemporaryDirectory dir;
  // What `otfgp md` and a user left in a folder.
  const fs::path md = dir / "md";
  const std::map<std::string, std::string> user_files = {
      {"summary.json", "{\"program\": \"otfgp md\"}\n"},
      {"trajectory.xyz", "1\nmd frame\nSi 0 0 0\n"},
      {"notes.txt", "keep me\n"},
      {"checkpoint/keep.txt", "keep me too\n"},
      {"oracle/keep.txt", "and me\n"}};
  for (const auto& [name, text] : user_files) write_text(md / name, text);
  const OtfConfig into_md = write_and_read(dir, config_text(md), "md.yaml");
  for (const bool resume : {false, true}) {
    INFO("resume " << resume);  // --resume finds no checkpoint there: the same check
    CHECK_THROWS_WITH(run_otf(into_md, resume), Contains("output folder '" + md.string() + "'") &&
                                                    Contains("otfgp otf did not write") &&
                                                    Contains("notes.txt") &&
                                                    Contains("summary.json") &&
                                                    Contains("checkpoint/") && Contains("oracle/"));
    for (const auto& [name, text] : user_files) {
      INFO(name);
      CHECK(read_text(md / name) == text);
    }
    CHECK_FALSE(fs::exists(md / "training.h5"));
  }

  // An earlier otf run with files of the user's among its own: only those are named.
  const fs::path out = dir / "out";
  const OtfConfig config = write_and_read(dir, config_text(out));
  run_otf(config, false);
  REQUIRE(holds_otf_run(out));
  CHECK(foreign_entries(out).empty());
  write_text(out / "notes.txt", "mine\n");
  write_text(out / "checkpoint" / "keep.txt", "mine too\n");
  const std::string model = read_text(out / "model.h5");
  try {
    run_otf(config, false);
    FAIL("a folder with the user's files was accepted");
  } catch (const Error& error) {
    const std::string message = error.what();
    CHECK_THAT(message, Contains("holds an earlier otf run") && Contains("notes.txt") &&
                            Contains("checkpoint/keep.txt"));
    CHECK_THAT(message, !Contains("model.h5") && !Contains("training"));
  }
  CHECK(read_text(out / "notes.txt") == "mine\n");
  CHECK(read_text(out / "checkpoint" / "keep.txt") == "mine too\n");
  CHECK(read_text(out / "model.h5") == model);
  // Once they are moved away, the earlier run is replaced.
  fs::remove(out / "notes.txt");
  fs::remove(out / "checkpoint" / "keep.txt");
  CHECK(run_otf(config, false)["finished"] == true);

  // A missing or empty folder is fine.
  fs::create_directories(dir / "empty");
  CHECK_NOTHROW(check_output_folder(dir / "empty"));
  CHECK_NOTHROW(check_output_folder(dir / "missing"));
  // A training.h5 that is not a database is someone else's; an unreadable one
  // beside its mirror is what a killed append leaves (opening rebuilds it).
  write_text(dir / "foreign" / "training.h5", "not HDF5");
  CHECK_FALSE(holds_otf_run(dir / "foreign"));
  write_text(dir / "damaged" / "training.h5", "not HDF5 any more");
  write_text(dir / "damaged" / "training.xyz", "");
  CHECK(holds_otf_run(dir / "damaged"));
  // Only the loop's own temporaries (".NAME.tmpPID") count as its files.
  CHECK(is_checkpoint_file(".model-000003.h5.tmp4242"));
  CHECK_FALSE(is_checkpoint_file(".notes.tmp.bak"));
  CHECK_FALSE(is_checkpoint_file("mine.h5"));
  write_text(dir / "damaged" / ".summary.json.tmp.bak", "user's");
  CHECK(foreign_entries(dir / "damaged") == std::vector<std::string>{".summary.json.tmp.bak"});
}

TEST_CASE(
    "otf --resume refuses changed md: and model: settings naming the key, and more steps go on",
    "[otf]") {
  TemporaryDirectory dir;
  const fs::path out = dir / "out";
  const OtfConfig config = write_and_read(dir, config_text(out));
  const nlohmann::json finished = run_otf(config, false);
  const std::string model = read_text(out / "model.h5");
  const std::string state = read_text(out / "checkpoint" / "state.json");

  struct Change {
    std::string from, to, message;
  };
  for (const Change& change : std::vector<Change>{
           {"temperature: 1000", "temperature: 1500", "md.temperature = 1000, the config has 1500"},
           {"timestep: 1.0", "timestep: 2.0", "md.timestep = 1, the config has 2"},
           {"type: langevin, damping: 100", "type: langevin, damping: 50",
            "md.thermostat.damping = 100, the config has 50"},
           {"n_max: 5", "n_max: 6", "model.descriptor.n_max = 5, the config has 6"},
           {"cutoff: 4.5", "cutoff: 4.0", "model.descriptor.cutoff = 4.5, the config has 4"},
           // Recorded with 17 digits (4.5999999999999996), shown in the shortest form.
           {"cutoff: 4.5", "cutoff: 4.6", "model.descriptor.cutoff = 4.5, the config has 4.6"},
           // Given reference energies are subtracted from every label the model holds.
           {"hyperparameters: {max_evaluations: 20}",
            "hyperparameters: {max_evaluations: 20}\n  reference_energies: {Si: -4.5}",
            "model.reference_energies = (not set), the config has Si -4.5"},
           // Steps may grow, not shrink below the checkpoint.
           {"steps: 200", "steps: 150",
            "it is at step 200 of stage 1, beyond the config's 150 steps for that stage"},
       }) {
    INFO(change.to);
    const OtfConfig changed =
        write_and_read(dir, config_text(out, {{change.from, change.to}}), "changed.yaml");
    CHECK_THROWS_WITH(
        run_otf(changed, true),
        Contains("cannot resume from " + (out / "checkpoint" / "state.json").string()) &&
            Contains(change.message));
    // Refused before anything was touched.
    CHECK(read_text(out / "model.h5") == model);
    CHECK(read_text(out / "checkpoint" / "state.json") == state);
    CHECK(read_summary(out)["finished"] == true);
  }

  // More steps continue the run.
  const OtfConfig longer =
      write_and_read(dir, config_text(out, {{"steps: 200", "steps: 300"}}), "longer.yaml");
  const nlohmann::json summary = run_otf(longer, true);
  CHECK(summary["finished"] == true);
  CHECK(summary["steps"] == 300);
  CHECK(read_summary(out)["steps"] == 300);
  CHECK(summary["frames"].get<int>() >= finished["frames"].get<int>());
}

TEST_CASE("otf --resume: a moved run folder resumes; an edited structure of a begun stage does not",
          "[otf]") {
  TemporaryDirectory dir;
  // The run, with its structure beside the config (a relative path), stopped
  // at the oracle's third call (the second MD frame) by a program that breaks.
  fs::create_directories(dir / "first");
  fs::copy_file(si64, dir / "first" / "si64.xyz");
  // The output follows the folder (relative outputs are taken from the working
  // directory, which this in-process test does not change).
  const auto write_config = [&](const std::string& folder) {
    std::string text = config_text(dir / folder / "out");
    text.replace(text.find(si64), si64.size(), "si64.xyz");
    std::ofstream(dir / folder / "otf.yaml") << text;
    return read_otf_config(dir / folder / "otf.yaml");
  };
  OtfConfig config = write_config("first");
  config.oracle = std::make_shared<BreakingOracle>(config.oracle, 3, false);
  CHECK_THROWS_WITH(run_otf(config, false), Contains("the disk is full"));
  REQUIRE(fs::exists(dir / "first" / "out" / "checkpoint" / "state.json"));
  // The whole folder moved: the structure's path changed, its content did not.
  fs::copy(dir / "first", dir / "moved", fs::copy_options::recursive);
  const nlohmann::json summary = run_otf(write_config("moved"), true);
  CHECK(summary["finished"] == true);
  CHECK(summary["steps"] == 200);
  // The same copy with the begun stage's structure edited (one atom moved).
  fs::copy(dir / "first", dir / "edited", fs::copy_options::recursive);
  Structure crystal = read_structure(dir / "edited" / "si64.xyz");
  crystal.positions(0, 0) += 0.01;
  std::ofstream edited(dir / "edited" / "si64.xyz");
  write_extxyz(edited, crystal);
  edited.close();
  CHECK_THROWS_WITH(run_otf(write_config("edited"), true),
                    Contains("it was written with structure = Si64, 64 atoms, fnv1a64"));
  CHECK_THROWS_WITH(run_otf(write_config("edited"), true),
                    Contains("the structure file no longer holds the atoms, positions and cell"));
  // A checkpoint written before 2026-11-29 names the structure by its path:
  // it resumes where that path holds, and a changed key is named as before.
  fs::copy(dir / "first", dir / "old", fs::copy_options::recursive);
  const fs::path state_path = dir / "old" / "out" / "checkpoint" / "state.json";
  nlohmann::json state = nlohmann::json::parse(read_text(state_path));
  std::string settings = state["settings"];
  const auto line = settings.find("structure: ");
  REQUIRE(line != std::string::npos);
  settings.replace(line, settings.find('\n', line) - line,
                   "structure: '" + (dir / "old" / "si64.xyz").string() + "'");
  state["settings"] = settings;
  // Its calls.csv had no energy_change and velocity_scale columns either.
  std::istringstream rows(read_text(dir / "old" / "out" / "calls.csv"));
  std::string older;
  for (std::string row; std::getline(rows, row);)
    older += row.substr(0, row.rfind(',', row.rfind(',') - 1)) + "\n";
  write_text(dir / "old" / "out" / "calls.csv", older);
  state["file_lengths"]["calls"] = older.size();
  write_text(state_path, state.dump(2));
  std::string hotter = read_text(dir / "first" / "otf.yaml");
  hotter.replace(hotter.find("temperature: 1000"), 17, "temperature: 1200");
  const std::string first_out = (dir / "first" / "out").string();
  hotter.replace(hotter.find(first_out), first_out.size(), (dir / "old" / "out").string());
  write_text(dir / "old" / "hotter.yaml", hotter);
  CHECK_THROWS_WITH(run_otf(read_otf_config(dir / "old" / "hotter.yaml"), true),
                    Contains("md.temperature = 1000, the config has 1200"));
  CHECK(run_otf(write_config("old"), true)["finished"] == true);
  std::istringstream continued(read_text(dir / "old" / "out" / "calls.csv"));
  int rows_read = 0;
  for (std::string row; std::getline(continued, row); ++rows_read) {
    INFO(row);
    CHECK(std::count(row.begin(), row.end(), ',') == 10);
  }
  CHECK(rows_read > 3);
}

TEST_CASE("otf --resume: the oracle's settings must stay; a checkpoint without them resumes",
          "[otf]") {
  TemporaryDirectory dir;
  OtfConfig config = write_and_read(dir, config_text(dir / "out"));
  config.oracle = std::make_shared<BreakingOracle>(config.oracle, 3, false);
  CHECK_THROWS_WITH(run_otf(config, false), Contains("the disk is full"));
  fs::copy(dir / "out", dir / "old", fs::copy_options::recursive);
  // Labels of another potential would join the first two frames' labels.
  const std::string other = "{kind: potential, potential: 'tersoff:Si.tersoff'}";
  CHECK_THROWS_WITH(run_otf(write_and_read(dir, config_text(dir / "out", {}, other)), true),
                    Contains("oracle.potential = sw:") && Contains("tersoff:Si.tersoff") &&
                        Contains("labels of other settings would mix"));
  // The same spec, another file under its name: the checkpoint records the
  // content of the file it was labelled with (here made another's).
  copy_with_settings(dir / "out", dir / "refiled", [](std::string& settings) {
    const auto content = settings.find("oracle.files.Si.sw: content fnv1a64 ");
    REQUIRE(content != std::string::npos);
    settings.replace(content + 36, 16, "0123456789abcdef");
  });
  CHECK_THROWS_WITH(run_otf(write_and_read(dir, config_text(dir / "refiled")), true),
                    Contains("oracle.files.Si.sw = content fnv1a64 0123456789abcdef") &&
                        Contains("labels of other settings would mix"));
  // A checkpoint written before parameter files were recorded by their
  // contents (2026-12-02): they are not compared, with a warning.
  copy_with_settings(dir / "out", dir / "unfiled", [](std::string& settings) {
    const auto line = settings.find("oracle.files.Si.sw: ");
    REQUIRE(line != std::string::npos);
    settings.erase(line, settings.find('\n', line) + 1 - line);
  });
  CHECK(run_otf(write_and_read(dir, config_text(dir / "unfiled")), true)["finished"] == true);
  // A checkpoint written before the oracle's settings were recorded: not compared.
  copy_with_settings(dir / "old", dir / "old", [](std::string& settings) {
    REQUIRE(settings.find("\noracle.potential: ") != std::string::npos);
    settings.erase(settings.find("\noracle.") + 1);
  });
  CHECK(run_otf(write_and_read(dir, config_text(dir / "old")), true)["finished"] == true);
  // The unchanged config resumes the first copy.
  CHECK(run_otf(write_and_read(dir, config_text(dir / "out")), true)["finished"] == true);
}

TEST_CASE("otf --resume: stages not yet begun may change, begun ones may not", "[otf]") {
  TemporaryDirectory dir;
  const fs::path out = dir / "out";
  const auto campaign = [&](const std::string& second, const std::string& third) {
    std::string text = config_text(out);
    text.replace(text.find("structure: "), text.find('\n') + 1,
                 "campaign:\n  - {structure: " + si64 + ", temperature: 600}\n  - {structure: " +
                     si64 + ", " + second + "}\n" + third);
    return text;
  };
  const OtfConfig config =
      write_and_read(dir, campaign("temperature: 900, steps: 150", ""), "campaign.yaml");
  run_otf(config, false);
  // The run finished in stage 2: its temperature is part of the saved state.
  const OtfConfig hotter =
      write_and_read(dir, campaign("temperature: 1200, steps: 150", ""), "hotter.yaml");
  CHECK_THROWS_WITH(run_otf(hotter, true),
                    Contains("campaign[2].temperature = 900, the config has 1200"));
  // A third stage is new: the run goes on into it. Its structure (the crystal
  // 3 % larger) is labelled as the first ones were, before its MD, not at its
  // step 0 after its velocities were drawn.
  Structure expanded = read_structure(si64);
  expanded.positions *= 1.03;
  expanded.cell *= 1.03;
  write_structure(dir / "expanded.xyz", expanded);
  const std::size_t frames_before = read_training_database(out / "training.h5").size();
  const OtfConfig more =
      write_and_read(dir,
                     campaign("temperature: 900, steps: 150",
                              "  - {structure: " + (dir / "expanded.xyz").string() +
                                  ", temperature: 1100, steps: 100}\n"),
                     "more.yaml");
  const nlohmann::json summary = run_otf(more, true);
  CHECK(summary["finished"] == true);
  CHECK(summary["stages"] == 3);
  CHECK(summary["steps"] == 200 + 150 + 100);
  const std::vector<TrainingRecord> records = read_training_database(out / "training.h5");
  REQUIRE(records.size() > frames_before);
  const TrainingRecord& start = records[frames_before];
  CHECK((start.stage == 2 && start.step == 0 && std::isnan(start.max_std)));
  CHECK(start.frame.same_atoms(expanded, 1e-10));
  // calls.csv: its row is a starting structure's (stage 3, step 0, no max std).
  CHECK_THAT(read_text(out / "calls.csv"), Contains(",3,0,nan,labelled,"));
}

TEST_CASE("otf --resume: a one-structure run goes on as the first stage of a campaign", "[otf]") {
  TemporaryDirectory dir;
  const fs::path out = dir / "out";
  run_otf(write_and_read(dir, config_text(out, {{"steps: 200", "steps: 60"}}), "one.yaml"), false);
  // The same structure and temperature as stage 1, and a stage after it.
  const auto campaign = [&](const std::string& first) {
    std::string text = config_text(out, {{"steps: 200", "steps: 60"}});
    text.replace(text.find("structure: "), text.find('\n') + 1,
                 "campaign:\n  - {structure: " + si64 + first + "}\n  - {structure: " + si64 +
                     ", temperature: 1200, steps: 40}\n");
    return text;
  };
  const nlohmann::json summary = run_otf(write_and_read(dir, campaign(""), "campaign.yaml"), true);
  CHECK(summary["finished"] == true);
  CHECK(summary["stages"] == 2);
  CHECK(summary["steps"] == 60 + 40);
  // What it ran stays compared, under the campaign's names now.
  CHECK_THROWS_WITH(run_otf(write_and_read(dir, campaign(", temperature: 900"), "hot.yaml"), true),
                    Contains("campaign[1].temperature = 1000, the config has 900"));
}

TEST_CASE("otfgp otf CLI: SIGTERM during an oracle call writes the summary, --resume finishes",
          "[otf]") {
  TemporaryDirectory dir;
  // A command oracle (SW through `otfgp eval`) that sleeps in the call
  // numbered in slow_at, so that the run is stopped inside it.
  const std::string cli = OTFGP_CLI_PATH;
  write_text(dir / "oracle.sh",
             "#!/bin/sh\n"
             "n=$(( $(cat '" +
                 (dir / "count").string() +
                 "' 2> /dev/null || echo 0) + 1 ))\n"
                 "echo $n > '" +
                 (dir / "count").string() +
                 "'\n"
                 "'" +
                 cli + "' -q eval -p 'sw:" + sw +
                 "' \"$1\" -o \"$2.part.xyz\" || exit 1\n"
                 "if [ \"$n\" = \"$(cat '" +
                 (dir / "slow_at").string() +
                 "')\" ]; then\n"
                 "  touch '" +
                 (dir / "calling").string() +
                 "'; sleep 60\n"
                 "fi\n"
                 "mv \"$2.part.xyz\" \"$2\"\n");
  fs::permissions(dir / "oracle.sh", fs::perms::owner_exec, fs::perm_options::add);
  write_text(dir / "otf.yaml",
             config_text("out", {{"steps: 200", "steps: 400"}},
                         "{kind: command, command: '" + (dir / "oracle.sh").string() +
                             " {input} {output}', timeout: 120}"));
  // Runs the CLI, sends SIGTERM once the slow call started; the exit status.
  const auto stopped_in_call = [&](int slow_at, bool resume) {
    write_text(dir / "slow_at", std::to_string(slow_at) + "\n");
    fs::remove(dir / "calling");
    return shell("cd '" + dir.path().string() + "' && ('" + cli + "' otf otf.yaml" +
                 (resume ? " --resume" : "") +
                 " 2> stderr.txt & pid=$!; for i in $(seq 1500); do [ -f calling ] && break; "
                 "sleep 0.02; done; kill -TERM $pid; wait $pid)");
  };
  const fs::path out = dir / "out";

  // Inside the first call, labelling the starting structure: nothing checkpointed yet.
  CHECK(stopped_in_call(1, false) == 143);
  std::string stderr_text = read_text(dir / "stderr.txt");
  CHECK_THAT(stderr_text, Contains("stopped during oracle call 1") &&
                              Contains("nothing is checkpointed yet") &&
                              Contains("continue with --resume"));
  REQUIRE(fs::exists(out / "summary.json"));
  nlohmann::json summary = read_summary(out);
  CHECK(summary["finished"] == false);
  CHECK_THAT(summary.value("interrupted", std::string()), Contains("oracle call 1"));

  // Inside an MD call (the oracle's 4th run: the start again, two MD calls), after a checkpoint.
  CHECK(stopped_in_call(4, true) == 143);
  stderr_text = read_text(dir / "stderr.txt");
  CHECK_THAT(stderr_text,
             Contains("the last checkpoint (stage 1, step") && Contains("continue with --resume"));
  summary = read_summary(out);
  CHECK(summary["finished"] == false);
  CHECK(summary["frames"] == 2);  // the starting structure and the first MD call
  CHECK_FALSE(fs::exists(out / "model.h5"));

  // Resumed without stops, the run finishes; the interrupted calls were made again.
  write_text(dir / "slow_at", "0\n");
  REQUIRE(shell("cd '" + dir.path().string() + "' && '" + cli +
                "' -q otf otf.yaml --resume 2> /dev/null") == 0);
  summary = read_summary(out);
  CHECK(summary["finished"] == true);
  CHECK(summary["steps"] == 400);
  CHECK(read_training_database(out / "training.h5").size() == summary["frames"].get<std::size_t>());
  CHECK(fs::exists(out / "model.h5"));
}
