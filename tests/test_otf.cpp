// The on-the-fly loop (otfgp otf) on 64-atom silicon with the Stillinger-Weber
// oracle: the append-only training database and its crash repair, config
// errors, failing oracles (retried, skipped, logged), exact resume after
// kill -9 at random points (during MD, during an oracle call, anywhere), and
// the quickstart's acceptance (held-out force MAE ≤ 0.1 eV/Å with ≤ 30 calls).

#include <fmt/format.h>
#include <spdlog/sinks/ostream_sink.h>
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "otfgp/analysis/relax.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/extxyz.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/gp/hyperparameter_optimizer.hpp"
#include "otfgp/gp/model_file.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/oracle/oracle.hpp"
#include "otfgp/otf/otf_config.hpp"
#include "otfgp/otf/otf_loop.hpp"
#include "otfgp/otf/training_database.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "support/files.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::otf;
using Catch::Contains;
using namespace otfgp::testing;

namespace {

const std::string si64 = quickstart_si64();
const std::string& sw = si_sw_file;

// A short, cheap run: small descriptor, 600 steps, a low threshold so that
// the oracle is called a handful of times.
std::string small_config(const std::string& output, long steps = 600,
                         const std::string& extra_otf = "") {
  return "structure: " + si64 +
         "\n"
         "md:\n  ensemble: nvt\n  temperature: 1000\n  seed: 5\n  timestep: 1.0\n  steps: " +
         std::to_string(steps) +
         "\n  thermostat: {type: langevin, damping: 100}\n"
         "  output: {trajectory_interval: 50}\n"
         "model:\n  descriptor: {n_max: 5, l_max: 2, cutoff: 4.5}\n"
         "  hyperparameters: {max_evaluations: 20}\n"
         "oracle: {kind: potential, potential: 'sw:" +
         sw +
         "'}\n"
         "otf:\n  check_interval: 5\n  min_steps_between_calls: 20\n"
         "  max_sparse_per_frame: 8\n  checkpoint_interval: 100\n" +
         extra_otf + "output: " + output + "\n";
}

OtfConfig write_and_read(const TemporaryDirectory& dir, const std::string& text) {
  std::ofstream(dir / "otf.yaml") << text;
  return read_otf_config(dir / "otf.yaml");
}

// A CSV file's header and its rows split into cells.
struct CsvTable {
  std::string header;
  std::vector<std::vector<std::string>> rows;
};
CsvTable read_csv(const std::filesystem::path& path) {
  CsvTable table;
  std::istringstream lines(read_text(path));
  std::getline(lines, table.header);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> cells;
    std::istringstream fields(line);
    for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
    table.rows.push_back(cells);
  }
  return table;
}

// The loop in a child process (exit status 0 when it finished, 3 when it threw),
// for tests that kill it.
pid_t fork_otf(const OtfConfig& config, bool resume) {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    try {
      run_otf(config, resume);
      ::_exit(0);
    } catch (...) {
      ::_exit(3);
    }
  }
  return child;
}

// Labels with the SW potential through the real oracle, optionally slowly
// (announcing the call with a marker file), or failing on chosen calls.
class TestOracle final : public oracle::Oracle {
 public:
  TestOracle(std::shared_ptr<oracle::Oracle> inner, std::filesystem::path marker = {})
      : inner_(std::move(inner)), marker_(std::move(marker)) {}
  std::string kind() const override { return "test"; }
  void check(const std::vector<int>& species) const override { inner_->check(species); }
  Structure label(const Structure& structure, const std::filesystem::path& workdir,
                  int attempt) override {
    ++calls;
    attempts.push_back(attempt);
    const int call = calls;
    // The loop's call number, as in its scratch folder's name (call-000003-attempt-0).
    const std::string folder = workdir.filename().string();
    if (fail_call > 0 && folder.rfind("call-", 0) == 0 && std::stoi(folder.substr(5)) == fail_call)
      throw oracle::OracleFailure(oracle::FailureKind::not_converged, "test oracle: no SCF");
    if (fail_from > 0 && call >= fail_from) {
      if (mode == "throw") throw Error("test oracle: crashed");
      if (mode == "flaky" && attempt == 1) return inner_->label(structure, workdir, attempt);
      throw oracle::OracleFailure(oracle::FailureKind::not_converged, "test oracle: no SCF");
    }
    if (!marker_.empty()) {
      std::ofstream(marker_) << call;
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
    }
    Structure labelled = inner_->label(structure, workdir, attempt);
    if (!marker_.empty()) std::filesystem::remove(marker_);
    return labelled;
  }
  int calls = 0;
  std::vector<int> attempts;
  int fail_from = 0;  // the call number from which on every attempt fails
  int fail_call = 0;  // the loop's oracle call (counted across resumes) whose attempts fail
  std::string mode = "fail";

 private:
  std::shared_ptr<oracle::Oracle> inner_;
  std::filesystem::path marker_;
};

TrainingRecord record_of(const Structure& frame, int step) {
  TrainingRecord r;
  r.frame = frame;
  r.step = step;
  r.stage = 0;
  r.max_std = step == 0 ? NAN : 0.1 * step;
  return r;
}

Structure labelled_si(int seed) {
  Structure s = read_structure(si64);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-0.1, 0.1);
  for (int i = 0; i < s.size(); ++i)
    for (int d = 0; d < 3; ++d) s.positions(i, d) += u(rng);
  s.energy = -270.0 + seed;
  Positions forces(s.size(), 3);
  for (int i = 0; i < s.size(); ++i)
    for (int d = 0; d < 3; ++d) forces(i, d) = 10 * u(rng);
  s.forces = forces;
  s.stress = Voigt::Constant(0.01 * seed);
  return s;
}

void check_same_records(const std::vector<TrainingRecord>& a,
                        const std::vector<TrainingRecord>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t f = 0; f < a.size(); ++f) {
    INFO("frame " << f);
    CHECK(a[f].step == b[f].step);
    CHECK(a[f].stage == b[f].stage);
    CHECK(a[f].frame.numbers == b[f].frame.numbers);
    CHECK((a[f].frame.positions - b[f].frame.positions).cwiseAbs().maxCoeff() == 0.0);
    CHECK((*a[f].frame.forces - *b[f].frame.forces).cwiseAbs().maxCoeff() == 0.0);
    CHECK(*a[f].frame.energy == *b[f].frame.energy);
  }
}

// A killed-and-resumed run against the uninterrupted one: the same training
// database frame for frame and the same final model (α to 1e-8).
// The 64-atom Si crystal with seeded Gaussian displacements (Å per component).
void write_displaced_si64(const std::filesystem::path& path, unsigned seed, double sigma) {
  Structure start = read_structure(si64);
  std::mt19937 random(seed);
  std::normal_distribution<double> displacement(0.0, sigma);
  for (Eigen::Index i = 0; i < start.positions.rows(); ++i)
    for (int d = 0; d < 3; ++d) start.positions(i, d) += displacement(random);
  write_extxyz(path, start);
}

// Runs `config` in a child killed with SIGKILL once the first call has been
// learnt (the checkpoint exists), mid-run; then resumes it here to the end.
void kill_after_first_checkpoint_and_resume(const OtfConfig& config) {
  const pid_t child = fork_otf(config, false);
  const auto start = std::chrono::steady_clock::now();
  while (!std::filesystem::exists(config.output / "checkpoint") &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(20))
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFSIGNALED(status));  // it had not finished
  CHECK_FALSE(std::filesystem::exists(config.output / "summary.json"));
  run_otf(config, true);
}

void check_same_run(const std::filesystem::path& killed, const std::filesystem::path& reference) {
  check_same_records(read_training_database(killed / "training.h5"),
                     read_training_database(reference / "training.h5"));
  const SparseGp a = load_gp_model(reference / "model.h5");
  const SparseGp b = load_gp_model(killed / "model.h5");
  REQUIRE(a.alpha().size() == b.alpha().size());
  CHECK((a.alpha() - b.alpha()).cwiseAbs().maxCoeff() <= 1e-8 * a.alpha().cwiseAbs().maxCoeff());
}

}  // namespace

TEST_CASE("training database: appended frames read back exactly, from HDF5 and mirror", "[otf]") {
  TemporaryDirectory dir;
  std::vector<TrainingRecord> written;
  {
    TrainingDatabase db = TrainingDatabase::create(dir / "t.h5", dir / "t.xyz");
    for (int k = 0; k < 3; ++k) {
      written.push_back(record_of(labelled_si(k), 10 * k));
      db.append(written.back());
      CHECK(read_training_database(dir / "t.h5").size() == static_cast<std::size_t>(k + 1));
    }
  }
  check_same_records(read_training_database(dir / "t.h5"), written);
  CHECK(read_extxyz(dir / "t.xyz").size() == 3);
  const TrainingDatabase reopened = TrainingDatabase::open(dir / "t.h5", dir / "t.xyz");
  check_same_records(reopened.records(), written);
  CHECK(std::isnan(reopened.records()[0].max_std));
  CHECK(reopened.records()[2].max_std == 2.0);
}

TEST_CASE("training database: what a crash leaves is repaired on open", "[otf]") {
  TemporaryDirectory dir;
  std::vector<TrainingRecord> written;
  {
    TrainingDatabase db = TrainingDatabase::create(dir / "t.h5", dir / "t.xyz");
    for (int k = 0; k < 2; ++k) {
      written.push_back(record_of(labelled_si(k), k));
      db.append(written.back());
    }
  }
  const std::string mirror_two = read_text(dir / "t.xyz");
  SECTION("a frame cut short in the mirror is dropped") {
    std::ofstream(dir / "t.xyz", std::ios::app) << "64\nLattice=\"10.8 0 0 0 10.8 0 0 0 10.8\" "
                                                   "Properties=species:S:1:pos:R:3\nSi 0 0";
    TrainingDatabase db = TrainingDatabase::open(dir / "t.h5", dir / "t.xyz");
    CHECK(db.size() == 2);
    CHECK(read_text(dir / "t.xyz") == mirror_two);
    written.push_back(record_of(labelled_si(7), 7));
    db.append(written.back());
    check_same_records(read_training_database(dir / "t.h5"), written);
  }
  SECTION("a complete frame that reached only the mirror is kept") {
    written.push_back(record_of(labelled_si(5), 5));
    {
      TrainingDatabase other = TrainingDatabase::create(dir / "o.h5", dir / "o.xyz");
      other.append(written.back());
    }
    std::ofstream(dir / "t.xyz", std::ios::app) << read_text(dir / "o.xyz");
    const TrainingDatabase db = TrainingDatabase::open(dir / "t.h5", dir / "t.xyz");
    check_same_records(db.records(), written);
    check_same_records(read_training_database(dir / "t.h5"), written);
  }
  SECTION("an unreadable HDF5 file is rebuilt from the mirror") {
    std::ofstream(dir / "t.h5", std::ios::trunc) << "garbage";
    const TrainingDatabase db = TrainingDatabase::open(dir / "t.h5", dir / "t.xyz");
    check_same_records(db.records(), written);
    check_same_records(read_training_database(dir / "t.h5"), written);
  }
}

TEST_CASE("otf config: unknown keys and misplaced keys are errors that name them", "[otf]") {
  TemporaryDirectory dir;
  const std::string good = small_config((dir / "out").string());
  CHECK_NOTHROW(write_and_read(dir, good));
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
  };
  CHECK_THROWS_WITH(
      write_and_read(dir, replace("min_steps_between_calls", "min_steps_between_call")),
      Contains("min_steps_between_call") && Contains("min_steps_between_calls"));
  CHECK_THROWS_WITH(write_and_read(dir, replace("n_max", "nmax")),
                    Contains("model.descriptor") && Contains("n_max"));
  CHECK_THROWS_WITH(write_and_read(dir, replace("  seed: 5\n", "  seed: 5\n  potential: 'lj:x'\n")),
                    Contains("md.potential") && Contains("oracle:"));
  CHECK_THROWS_WITH(write_and_read(dir, replace("kind: potential", "kind: vasp")),
                    Contains("oracle.kind") && Contains("potential"));
  CHECK_THROWS_WITH(
      write_and_read(dir, replace("trajectory_interval: 50", "trajectory_interval: 7")),
      Contains("multiple of otf.check_interval"));
  CHECK_THROWS_WITH(write_and_read(dir, replace("trajectory_interval: 50", "thermo_interval: 50")),
                    Contains("md.output.thermo_interval") && Contains("set by the otf loop"));
  CHECK_THROWS_WITH(write_and_read(dir, replace("structure: ", "structur: ")),
                    Contains("structur") && Contains("structure"));
  CHECK_THROWS_WITH(
      write_and_read(dir, "campaign:\n  - {structure: " + si64 +
                              ", temperature: 900, pressure: 1}\n" + good.substr(good.find("md:"))),
      Contains("pressure") && Contains("npt"));
}

TEST_CASE("otf: a failing oracle is retried once, then the frame is skipped and logged", "[otf]") {
  TemporaryDirectory dir;
  for (const std::string mode : {"fail", "throw", "flaky"}) {
    INFO(mode);
    // Never stopped for failures in a row (below: stopped by default).
    OtfConfig config = write_and_read(
        dir, small_config((dir / mode).string(), 300, "  max_consecutive_failures: 0\n"));
    auto oracle = std::make_shared<TestOracle>(config.oracle);
    oracle->fail_from = 3;  // the starting frame and one MD frame succeed
    oracle->mode = mode;
    config.oracle = oracle;
    const nlohmann::json summary = run_otf(config, false);
    CHECK(summary["finished"] == true);
    CHECK(summary["steps"] == 300);
    const std::string calls = read_text(dir / mode / "calls.csv");
    if (mode == "flaky") {
      CHECK(summary["skipped_calls"] == 0);
      CHECK(summary["frames"].get<int>() == summary["oracle_calls"].get<int>());
      CHECK(std::count(oracle->attempts.begin(), oracle->attempts.end(), 1) ==
            summary["oracle_calls"].get<int>() - 2);
    } else {
      CHECK(summary["frames"] == 2);
      CHECK(summary["skipped_calls"].get<int>() >= 1);
      CHECK(summary["skipped_calls"].get<int>() == summary["oracle_calls"].get<int>() - 2);
      // two attempts per skipped call: the retry is attempt 1
      CHECK(oracle->calls == 2 + 2 * summary["skipped_calls"].get<int>());
      CHECK(oracle->attempts.back() == 1);
      CHECK_THAT(calls, Contains(mode == "fail" ? "skipped (not converged)" : "skipped (error)"));
    }
    CHECK(read_training_database(dir / mode / "training.h5").size() ==
          summary["frames"].get<std::size_t>());
  }
}

TEST_CASE("otf: an oracle that fails on frame after frame stops the run; --resume continues",
          "[otf]") {
  TemporaryDirectory dir;
  OtfConfig config = write_and_read(dir, small_config((dir / "out").string(), 300));
  auto oracle = std::make_shared<TestOracle>(config.oracle);
  oracle->fail_from = 3;  // the starting frame and one MD frame succeed, then nothing
  config.oracle = oracle;
  CHECK_THROWS_WITH(run_otf(config, false),
                    Contains("the oracle failed on 3 frames in a row") && Contains("--resume"));
  const nlohmann::json failed = nlohmann::json::parse(read_text(dir / "out" / "summary.json"));
  CHECK(failed["finished"] == false);
  CHECK_THAT(failed["error"].get<std::string>(), Contains("3 frames in a row"));
  CHECK(oracle->calls == 2 + 3 * 2);
  CHECK(read_training_database(dir / "out" / "training.h5").size() == 2);
  CHECK(failed["oracle_failed_in_a_row"] == 3);
  // The steps of the three skipped calls.
  std::vector<long> skipped;
  for (const auto& cells : read_csv(dir / "out" / "calls.csv").rows)
    if (cells[4].rfind("skipped", 0) == 0) skipped.push_back(std::stol(cells[2]));
  REQUIRE(skipped.size() == 3);
  // The oracle mended (its command or environment, say): the run goes on to
  // its end, and the calls skipped after the checkpoint are made again, not
  // replayed as skips (which would stop it again at once).
  oracle->fail_from = 0;
  const int calls_before = oracle->calls;
  std::ostringstream log;
  logger().sinks().push_back(std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  const nlohmann::json resumed = run_otf(config, true);
  logger().sinks().pop_back();
  CHECK(resumed["finished"] == true);
  CHECK(resumed["steps"] == 300);
  CHECK(resumed["skipped_calls"] == 0);
  CHECK_THAT(log.str(), Contains("the run stopped after 3 oracle calls in a row failed: the 3 of "
                                 "them after the checkpoint are made again"));
  std::set<long> learnt;
  for (const TrainingRecord& r : read_training_database(dir / "out" / "training.h5"))
    learnt.insert(r.step);
  // The first is made again at its step; with its labels learnt the model
  // changes, and the later calls fall where it now asks.
  CHECK(learnt.count(skipped.front()) == 1);
  CHECK(oracle->calls > calls_before);
}

TEST_CASE("otf: kill -9 at random points and --resume give the uninterrupted run", "[otf]") {
  TemporaryDirectory dir;
  // The uninterrupted reference. A low threshold keeps the loop calling over
  // the whole run (9 calls up to step 590 here; with the default the model is
  // done after 4–5 calls in the first 200 steps, and a run resumed after the
  // first kill has no oracle call left to be killed in).
  const std::string threshold = "  std_threshold_relative: 0.5\n";
  OtfConfig reference =
      write_and_read(dir, small_config((dir / "reference").string(), 600, threshold));
  const nlohmann::json expected = run_otf(reference, false);
  REQUIRE(expected["oracle_calls"].get<int>() >= 6);

  OtfConfig config = write_and_read(dir, small_config((dir / "killed").string(), 600, threshold));
  const auto marker = dir / "in_oracle";
  config.oracle = std::make_shared<TestOracle>(config.oracle, marker);
  std::mt19937 rng(12345);
  int kills = 0, kills_in_oracle = 0, runs = 0;
  bool finished = false;
  while (!finished && runs < 40) {
    const bool resume = runs++ > 0;
    const pid_t child = fork_otf(config, resume);
    // Kill points: while the oracle works (the marker exists), or after a random delay.
    const bool in_oracle = runs % 2 == 0;
    const auto delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 900)(rng));
    const auto start = std::chrono::steady_clock::now();
    int status = 0;
    bool exited = false;
    while (!exited) {
      if (::waitpid(child, &status, WNOHANG) == child) {
        exited = true;
        break;
      }
      const bool due = in_oracle ? std::filesystem::exists(marker)
                                 : std::chrono::steady_clock::now() - start > delay;
      if (due) {
        ::kill(child, SIGKILL);
        ::waitpid(child, &status, 0);
        ++kills;
        kills_in_oracle += in_oracle ? 1 : 0;
        std::filesystem::remove(marker);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (exited) {
      REQUIRE(WIFEXITED(status));
      REQUIRE(WEXITSTATUS(status) == 0);
      finished = true;
    }
  }
  REQUIRE(finished);
  CHECK(kills >= 3);
  CHECK(kills_in_oracle >= 1);
  check_same_run(dir / "killed", dir / "reference");
  const nlohmann::json summary = nlohmann::json::parse(read_text(dir / "killed" / "summary.json"));
  CHECK(summary["oracle_calls"] == expected["oracle_calls"]);
  CHECK(summary["frames"] == expected["frames"]);
  CHECK(summary["sparse_size"] == expected["sparse_size"]);
  CHECK(read_text(dir / "killed" / "calls.csv").size() > 0);
}

TEST_CASE("otf: a slab's frames record that no stress was learnt", "[otf]") {
  TemporaryDirectory dir;
  Structure slab = read_structure(si64);
  slab.pbc = {true, true, false};
  slab.cell(2, 2) += 10.0;  // vacuum along the free direction
  write_extxyz(dir / "slab.xyz", slab);
  std::string text = small_config((dir / "out").string(), 40);
  text.replace(text.find(si64), si64.size(), (dir / "slab.xyz").string());
  run_otf(write_and_read(dir, text), false);
  const auto records = read_training_database(dir / "out" / "training.h5");
  REQUIRE(!records.empty());
  for (const TrainingRecord& record : records) {
    CHECK_FALSE(record.frame.stress);
    CHECK((record.labels.energy && record.labels.forces && !record.labels.stress));
  }
  const std::string mirror = read_text(dir / "out" / "training.xyz");
  CHECK_THAT(mirror, Contains("otf_labels=EF"));
  CHECK(mirror.find("otf_labels=EFS") == std::string::npos);
}

TEST_CASE("otf: resumed with a frame labelled after a skipped call, the call is skipped again",
          "[otf]") {
  TemporaryDirectory dir;
  auto config_in = [&](const std::string& name, long steps, int fail_call) {
    OtfConfig config = write_and_read(
        dir, small_config((dir / name).string(), steps, "  std_threshold_relative: 0.5\n"));
    auto oracle = std::make_shared<TestOracle>(config.oracle);
    oracle->fail_call = fail_call;  // both attempts: the frame is skipped
    config.oracle = oracle;
    return config;
  };
  const nlohmann::json expected = run_otf(config_in("reference", 600, 3), false);
  REQUIRE(expected["skipped_calls"] == 1);
  const std::vector<TrainingRecord> reference =
      read_training_database(dir / "reference" / "training.h5");
  REQUIRE(reference.size() >= 4);

  // What a kill -9 leaves between the database append of the frame after the
  // skipped call and the checkpoint after its update: a checkpoint before the
  // skip (a run of 30 steps, two calls), calls.csv's row of the skip past the
  // checkpoint's length and that frame in the database.
  run_otf(config_in("killed", 30, 3), false);
  REQUIRE(read_training_database(dir / "killed" / "training.h5").size() == 2);
  REQUIRE(reference[1].step < 30);
  REQUIRE(reference[2].step > 40);
  TrainingDatabase::open(dir / "killed" / "training.h5", dir / "killed" / "training.xyz")
      .append(reference[2]);
  // Without calls.csv's row of the skip (written and flushed when it happened)
  // nothing says the call failed: the mismatch is an error, as for a changed config.
  std::filesystem::copy(dir / "killed", dir / "unrecorded",
                        std::filesystem::copy_options::recursive);
  CHECK_THROWS_WITH(run_otf(config_in("unrecorded", 600, 0), true),
                    Contains("does not match the resumed run's call at stage 1, step 40"));
  std::string skip_row;
  for (std::istringstream rows(read_text(dir / "reference" / "calls.csv"));
       std::getline(rows, skip_row);)
    if (skip_row.find(",skipped (") != std::string::npos) break;
  REQUIRE_THAT(skip_row, Contains("3,1,40,"));
  std::ofstream(dir / "killed" / "calls.csv", std::ios::app) << skip_row << "\n";
  // The resumed run does not call the oracle again there (it would succeed now).
  const nlohmann::json resumed = run_otf(config_in("killed", 600, 0), true);
  CHECK(resumed["finished"] == true);
  CHECK(resumed["skipped_calls"] == expected["skipped_calls"]);
  CHECK(resumed["oracle_calls"] == expected["oracle_calls"]);
  check_same_run(dir / "killed", dir / "reference");
  CHECK_THAT(read_text(dir / "killed" / "calls.csv"),
             Contains(",skipped (failed twice before the interruption),"));
}

namespace {

std::string cli() {
  return std::string("'") + OTFGP_CLI_PATH + "'";
}

}  // namespace

TEST_CASE("otfgp otf CLI: kill -9 at random times, --resume, same database and model", "[otf]") {
  TemporaryDirectory dir;
  // Long enough (1500 steps) that most random delays land inside a run.
  std::ofstream(dir / "reference.yaml") << small_config((dir / "reference").string(), 1500);
  std::ofstream(dir / "killed.yaml") << small_config((dir / "killed").string(), 1500);
  REQUIRE(shell(cli() + " -q otf '" + (dir / "reference.yaml").string() + "' 2> /dev/null") == 0);
  std::mt19937 rng(7);
  int kills = 0;
  bool finished = false;
  for (int run = 0; run < 30 && !finished; ++run) {
    const int delay_ms = std::uniform_int_distribution<int>(100, 1200)(rng);
    // Exit status 137 (killed) or the run's own.
    const int code =
        shell("cd '" + dir.path().string() + "' && (" + cli() + " -q otf killed.yaml" +
              (run > 0 ? " --resume" : "") + " 2> /dev/null & pid=$!; sleep " +
              std::to_string(delay_ms / 1000.0) + "; kill -9 $pid 2> /dev/null; wait $pid)");
    if (code == 0)
      finished = true;
    else {
      REQUIRE(code == 137);
      ++kills;
    }
  }
  REQUIRE(finished);
  CHECK(kills >= 2);
  check_same_run(dir / "killed", dir / "reference");
}

namespace {

// Runs `otfgp -q otf CONFIG [--resume]` in `folder` and kills it with SIGKILL as
// soon as the (skip + 1)-th temporary file appears in `watched` (inotify), i.e.
// while a checkpoint file is being written. Returns whether the temporary was still
// there after the kill (the write was cut off), or nullopt when the run ended
// by itself (exit status in *status).
std::optional<bool> kill_during_checkpoint_write(const std::filesystem::path& folder,
                                                 const std::filesystem::path& watched, bool resume,
                                                 int skip, int* status) {
  const int watch_fd = inotify_init1(IN_NONBLOCK);
  REQUIRE(watch_fd >= 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (chdir(folder.c_str()) != 0) _exit(120);
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    execl(OTFGP_CLI_PATH, "otfgp", "-q", "otf", "killed.yaml", resume ? "--resume" : nullptr,
          nullptr);
    _exit(121);
  }
  // A fresh run recreates the folder: watch it once it exists.
  while (inotify_add_watch(watch_fd, watched.c_str(), IN_CREATE) < 0) {
    if (waitpid(pid, status, WNOHANG) == pid) {
      close(watch_fd);
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  std::optional<std::filesystem::path> cut;
  alignas(inotify_event) char buffer[4096];
  while (!cut) {
    pollfd poll_fd{watch_fd, POLLIN, 0};
    if (poll(&poll_fd, 1, 20) > 0) {
      const ssize_t length = read(watch_fd, buffer, sizeof buffer);
      for (ssize_t at = 0; at < length && !cut;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
        const std::string name = event->len > 0 ? event->name : "";
        if (name.rfind('.', 0) == 0 && name.find(".tmp") != std::string::npos && skip-- == 0) {
          kill(pid, SIGKILL);
          cut = watched / name;
        }
        at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    }
    if (!cut && waitpid(pid, status, WNOHANG) == pid) {
      close(watch_fd);
      return std::nullopt;
    }
  }
  waitpid(pid, status, 0);
  close(watch_fd);
  return std::filesystem::exists(*cut);
}

}  // namespace

TEST_CASE("otfgp otf CLI: kill -9 during checkpoint writes, --resume, same database and model",
          "[otf]") {
  TemporaryDirectory dir;
  std::ofstream(dir / "reference.yaml") << small_config((dir / "reference").string(), 800);
  std::ofstream(dir / "killed.yaml") << small_config((dir / "killed").string(), 800);
  REQUIRE(shell(cli() + " -q otf '" + (dir / "reference.yaml").string() + "' 2> /dev/null") == 0);
  int kills = 0, cut_off = 0, status = 0;
  bool finished = false;
  std::mt19937 rng(11);
  for (int run = 0; run < 200 && !finished; ++run) {
    const auto killed =
        kill_during_checkpoint_write(dir.path(), dir / "killed" / "checkpoint", run > 0,
                                     std::uniform_int_distribution<int>(0, 8)(rng), &status);
    if (!killed) {
      REQUIRE(WIFEXITED(status));
      REQUIRE(WEXITSTATUS(status) == 0);
      finished = true;
    } else {
      REQUIRE(WIFSIGNALED(status));
      ++kills;
      cut_off += *killed;
    }
  }
  REQUIRE(finished);
  INFO(kills << " kills, " << cut_off << " with a checkpoint file half written");
  CHECK(kills >= 5);
  CHECK(cut_off >= 1);
  check_same_run(dir / "killed", dir / "reference");
  // No temporary is left behind once the run finished.
  for (const auto& entry : std::filesystem::directory_iterator(dir / "killed" / "checkpoint"))
    CHECK(entry.path().filename().string().find(".tmp") == std::string::npos);
}

TEST_CASE("otfgp otf CLI: Ctrl-C stops with a checkpoint and exit 130, --resume finishes",
          "[otf]") {
  TemporaryDirectory dir;
  std::ofstream(dir / "otf.yaml") << small_config((dir / "out").string(), 6000);
  // SIGINT once the MD is under way (the uncertainty log has grown past its first rows).
  const int code = shell("cd '" + dir.path().string() + "' && (" + cli() +
                         " otf otf.yaml 2> stderr.txt & pid=$!; for i in $(seq 400); do "
                         "[ $(cat out/uncertainty.csv 2> /dev/null | wc -l) -gt 20 ] && break; "
                         "sleep 0.02; done; kill -INT $pid; wait $pid)");
  CHECK(code == 130);
  CHECK_THAT(read_text(dir / "stderr.txt"), Contains("--resume"));
  REQUIRE(std::filesystem::exists(dir / "out" / "checkpoint" / "state.json"));
  const auto state = nlohmann::json::parse(read_text(dir / "out" / "checkpoint" / "state.json"));
  CHECK(state["step"].get<long>() > 0);
  CHECK(state["step"].get<long>() < 6000);
  CHECK(nlohmann::json::parse(read_text(dir / "out" / "summary.json"))["finished"] == false);
  REQUIRE(shell("cd '" + dir.path().string() + "' && " + cli() +
                " -q otf otf.yaml --resume 2> /dev/null") == 0);
  const auto summary = nlohmann::json::parse(read_text(dir / "out" / "summary.json"));
  CHECK(summary["finished"] == true);
  CHECK(summary["steps"] == 6000);
  CHECK(read_training_database(dir / "out" / "training.h5").size() ==
        summary["frames"].get<std::size_t>());
}

TEST_CASE("otfgp otf CLI: Ctrl-C while the final plots are drawn exits 130, --resume redraws",
          "[otf]") {
  TemporaryDirectory dir;
  std::ofstream(dir / "otf.yaml") << small_config((dir / "out").string(), 100);
  // A gnuplot that sends the run one SIGINT (its parent is otfgp; a second
  // signal would end the run at once), then draws.
  write_text(dir / "bin" / "gnuplot",
             "#!/bin/sh\n[ -e \"$0.sent\" ] || { touch \"$0.sent\"; kill -INT $PPID; }\n"
             "exec /usr/bin/gnuplot \"$@\"\n");
  std::filesystem::permissions(dir / "bin" / "gnuplot", std::filesystem::perms::owner_all);
  const std::string folder = "cd '" + dir.path().string() + "' && ";
  const int code =
      shell(folder + "PATH=\"$PWD/bin:$PATH\" " + cli() + " otf otf.yaml 2> stderr.txt");
  CHECK(code == 130);
  const std::string stderr_text = read_text(dir / "stderr.txt");
  CHECK_THAT(stderr_text, Contains("stopped while writing the final model, summary and plots"));
  CHECK_THAT(stderr_text, Contains("--resume"));
  CHECK(nlohmann::json::parse(read_text(dir / "out" / "summary.json"))["finished"] == false);
  REQUIRE(shell(folder + cli() + " -q otf otf.yaml --resume 2> /dev/null") == 0);
  const auto summary = nlohmann::json::parse(read_text(dir / "out" / "summary.json"));
  CHECK(summary["finished"] == true);
  CHECK(summary["steps"] == 100);
  for (const char* png : {"uncertainty.png", "learning.png", "parity.png"})
    CHECK(std::filesystem::file_size(dir / "out" / png) > 1000);
}

TEST_CASE("otf quickstart: SW Si at 1000 K, held-out force MAE <= 0.1 eV/A in <= 30 calls",
          "[otf]") {
  // The example's own configs, run in a scratch folder.
  TemporaryDirectory dir;
  const std::filesystem::path example = std::string(OTFGP_SOURCE_DIR) + "/examples/quickstart";
  for (const char* file : {"otf.yaml", "sample_held_out.yaml", "si64.xyz"})
    std::filesystem::copy_file(example / file, dir / file);
  REQUIRE(shell("cd '" + dir.path().string() + "' && " + cli() +
                " -q md sample_held_out.yaml > /dev/null && " + cli() +
                " -q otf otf.yaml 2> otf.log") == 0);
  const auto summary = nlohmann::json::parse(read_text(dir / "out" / "otf" / "summary.json"));
  const int calls = summary["oracle_calls"];
  const double mae = summary["held_out"]["force_mae_ev_per_a"];
  const int held_out = summary["held_out"]["frames"];
  INFO("oracle calls " << calls << ", held-out force MAE " << mae << " eV/Å");
  CHECK(held_out == 21);
  CHECK(calls >= 2);
  CHECK(calls <= 30);
  CHECK(mae <= 0.1);
  CHECK(summary["steps"] == 5000);
  // The last frame sent was predicted within the target: no warning of a poor fit.
  CHECK(summary["last_force_error_ratio"].get<double>() <= 0.1);
  CHECK_THAT(read_text(dir / "otf.log"), !Catch::Contains("does not fit the oracle's forces"));
  // The online calibration of the force std holds on the frames it was fitted on.
  const auto& calibration = summary["force_calibration"];
  CHECK(calibration["frames"].get<int>() >= 2);
  CHECK(calibration["coverage_2sigma"].get<double>() >= 0.85);
  CHECK(calibration["coverage_2sigma"].get<double>() <= 0.995);
  for (const char* png : {"uncertainty.png", "learning.png", "parity.png"})
    CHECK(std::filesystem::file_size(dir / "out" / "otf" / png) > 1000);
}

TEST_CASE("otf threshold: warm-up calls calibrate, then the model force std in eV/A decides",
          "[otf]") {
  TemporaryDirectory dir;
  const OtfConfig config = write_and_read(dir, small_config((dir / "out").string(), 600));
  CHECK(config.otf.threshold == OtfSettings::Threshold::force_relative);
  CHECK(config.otf.std_threshold == 2.0);
  const nlohmann::json summary = run_otf(config, false);
  // calls.csv: call 1 is the starting frame (nan); the next calibration_frames
  // are warm-up calls (inf); every later call had a finite std above the
  // threshold that uncertainty.csv logged at that step.
  std::map<long, std::pair<double, double>> checks;  // step → (max std, threshold)
  const CsvTable uncertainty = read_csv(dir / "out" / "uncertainty.csv");
  CHECK(uncertainty.header ==
        "stage,step,total_step,temperature_K,pressure_GPa,potential_energy_eV,max_std,"
        "threshold,oracle_calls");
  for (const auto& cells : uncertainty.rows) {
    REQUIRE(cells.size() == 9);
    checks[std::stol(cells[1])] = {std::stod(cells[6]), std::stod(cells[7])};
  }
  int row = 0, after_warm_up = 0, audits = 0;
  long previous_step = 0;
  double previous_error = 0.0, previous_rms = 1.0;
  // The force RMS of the labelled frame of a step, from the training database.
  const auto database = read_training_database(dir / "out" / "training.h5");
  auto rms_of_frame = [&](long step) {
    for (const TrainingRecord& r : database)
      if (r.step == step && r.frame.forces)
        return std::sqrt(r.frame.forces->squaredNorm() / (3.0 * r.frame.size()));
    return 1.0;
  };
  for (const auto& cells : read_csv(dir / "out" / "calls.csv").rows) {
    ++row;
    const long step = std::stol(cells[2]);
    const double max_std = std::stod(cells[3]);
    INFO("call " << row << " at step " << step);
    if (row == 1) {
      CHECK(std::isnan(max_std));
    } else if (row <= 1 + config.otf.calibration_frames) {
      CHECK(std::isinf(max_std));
      CHECK(std::isnan(checks.at(step).first));
    } else {
      ++after_warm_up;
      CHECK(std::isfinite(max_std));
      CHECK(max_std == Approx(checks.at(step).first).epsilon(1e-12));
      // the threshold is 2 × the force noise of the model at that moment (eV/Å)
      CHECK(checks.at(step).second > 0.002);
      CHECK(checks.at(step).second < 0.5);
      // Above the threshold, or an audit: the previous frame's error before
      // learning it was above the target and audit_interval steps passed.
      if (max_std <= checks.at(step).second) {
        ++audits;
        CHECK(step - previous_step >= config.otf.audit_interval);
        CHECK(previous_error / previous_rms > config.otf.target_force_error);
      }
    }
    previous_step = step;
    previous_error = cells[10] == "nan" ? 0.0 : std::stod(cells[10]);
    previous_rms = rms_of_frame(step);
  }
  CHECK(after_warm_up >= 1);
  CHECK(after_warm_up > audits);
  // The quiet checks stayed below their threshold.
  int quiet = 0;
  for (const auto& [step, check] : checks)
    if (std::isfinite(check.first) && check.first <= check.second) ++quiet;
  CHECK(quiet >= 10);
  CHECK(summary["force_calibration"]["frames"].get<int>() ==
        summary["oracle_calls"].get<int>() - 1);
}

TEST_CASE("otf: an update keeps the MD's total energy, or says by how much it moved it", "[otf]") {
  // NVE, so that the total energy kinetic + potential is what the run conserves.
  TemporaryDirectory dir;
  const double dof = 3.0 * 64 - 3;
  for (const bool keep : {true, false}) {
    INFO("keep_total_energy " << keep);
    const std::string name = keep ? "kept" : "moved";
    std::string run =
        small_config((dir / name).string(), 300, keep ? "" : "  keep_total_energy: false\n");
    run.replace(run.find("ensemble: nvt"), 13, "ensemble: nve");
    run.erase(run.find("  thermostat:"), run.find("  output:") - run.find("  thermostat:"));
    const OtfConfig config = write_and_read(dir, run);
    CHECK(config.otf.keep_total_energy == keep);
    const nlohmann::json summary = run_otf(config, false);
    REQUIRE(summary["finished"] == true);
    // step → (kinetic, potential) energy at each check, before any call there.
    std::map<long, std::pair<double, double>> energy;
    for (const auto& cells : read_csv(dir / name / "uncertainty.csv").rows)
      energy[std::stol(cells[1])] = {0.5 * dof * units::boltzmann * std::stod(cells[3]),
                                     std::stod(cells[5])};
    int updates = 0, large = 0;
    for (const auto& cells : read_csv(dir / name / "calls.csv").rows) {
      const long step = std::stol(cells[2]);
      if (step == 0 || !energy.count(step + 5)) continue;  // the starting frame; the last check
      ++updates;
      const double change = std::stod(cells[11]), scale = std::stod(cells[12]);
      const auto [kinetic, potential] = energy.at(step);
      const auto [kinetic_after, potential_after] = energy.at(step + 5);
      // What the update added to the total energy, 5 NVE steps later (velocity Verlet
      // keeps it there to ±0.02 eV at this time step).
      const double added = kinetic_after + potential_after - kinetic - potential;
      INFO("call at step " << step << ": potential energy moved " << change << " eV, velocities x"
                           << scale << ", total energy moved " << added << " eV");
      if (std::abs(change) > 0.5) ++large;
      if (!keep) {
        CHECK(scale == 1.0);
        CHECK(added == Approx(change).margin(0.05));
      } else if (scale > 0) {
        CHECK(scale == Approx(std::sqrt(1 - change / kinetic)).epsilon(1e-5));  // 6 digits
        CHECK(added == Approx(0).margin(0.05));
      } else {
        // More than the kinetic energy: the atoms start from rest, the rest is added.
        CHECK(change > kinetic);
        CHECK(added == Approx(change - kinetic).margin(0.05));
      }
    }
    CHECK(updates >= 3);
    CHECK(large >= 1);  // the young model's first update moves it by eV: the test can tell
  }
}

TEST_CASE("otf: a stage's step 0, its starting structure, is not labelled again", "[otf]") {
  // Audits on every check (a target no model meets): the second stage's first
  // check would send its starting structure, labelled before any MD, again.
  TemporaryDirectory dir;
  write_displaced_si64(dir / "start.xyz", 3, 0.05);
  std::string text = small_config((dir / "out").string(), 100,
                                  "  target_force_error: 1.0e-6\n  audit_interval: 20\n");
  text.replace(text.find("structure: "), text.find('\n') + 1,
               "campaign:\n  - {structure: " + si64 + ", temperature: 600}\n" +
                   "  - {structure: " + (dir / "start.xyz").string() + ", temperature: 900}\n");
  std::ostringstream log;
  logger().sinks().push_back(std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  const nlohmann::json summary = run_otf(write_and_read(dir, text), false);
  logger().sinks().pop_back();
  REQUIRE(summary["finished"] == true);
  // No model meets the target: the run ends saying so, with the ratio.
  const double ratio = summary["last_force_error_ratio"];
  CHECK(ratio > 1e-6);
  CHECK_THAT(log.str(), Catch::Contains(fmt::format("at {:.1f}% of that frame's force RMS "
                                                    "(otf.target_force_error: 0.0001%;",
                                                    100 * ratio)) &&
                            Catch::Contains("the model does not fit the oracle's forces yet"));
  const auto records = read_training_database(dir / "out" / "training.h5");
  int starts = 0, second_stage = 0;
  for (const TrainingRecord& r : records) {
    INFO("stage " << r.stage << " step " << r.step << " max std " << r.max_std);
    if (r.step == 0) {
      CHECK(std::isnan(r.max_std));  // a starting structure, not an MD call
      ++starts;
    }
    second_stage += r.stage == 1 && r.step > 0;
  }
  CHECK(starts == 2);
  CHECK(second_stage > 0);  // the audits go on after step 0
}

TEST_CASE("otf: an MD frame with atoms closer than md.checks.min_distance is named and counted",
          "[otf]") {
  // Si at 1000 K: bonds of 2.35 Å vibrate below 2.3 Å, which stands in for
  // atoms a model without repulsion brought together. The start (2.35 Å)
  // passes; MD frames sent to the oracle with a bond below 2.3 Å are counted.
  TemporaryDirectory dir;
  std::string text = small_config((dir / "close").string(), 200);
  text.replace(text.find("  timestep: 1.0\n"), 16,
               "  timestep: 1.0\n  checks: {min_distance: 2.3}\n");
  const nlohmann::json close = run_otf(write_and_read(dir, text), false);
  INFO(close.dump());
  CHECK(close.at("close_contact_calls").get<long>() > 0);
  CHECK(close.at("close_contact_calls").get<long>() < close.at("oracle_calls").get<long>());
  // The default minimum, half the covalent radii (1.11 Å for Si), is far from them.
  const nlohmann::json usual =
      run_otf(write_and_read(dir, small_config((dir / "usual").string(), 200)), false);
  CHECK(usual.at("close_contact_calls") == 0);
}

TEST_CASE("otf: a frame the model cannot fit with every environment sparse says so", "[otf]") {
  // Two-atom NaCl under NPT: 13 frames, 26 environments, all of them sparse,
  // and the model still misses the last frame's forces (the normalised kernel
  // does not see the cell's volume swing). The error used to advise raising
  // otf.max_sparse_per_frame, which cannot help here.
  TemporaryDirectory dir;
  write_text(dir / "prim.xyz",
             "2\nLattice=\"0.0 2.82 2.82 2.82 0.0 2.82 2.82 2.82 0.0\" "
             "Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n"
             "Na 0.02206137 -0.01654351 0.12153856\nCl 2.80739539 0.00548049 0.07912406\n");
  const std::string text =
      "structure: " + (dir / "prim.xyz").string() +
      "\nmd:\n  ensemble: npt\n  temperature: 600\n  timestep: 2.0\n  steps: 300\n"
      "  thermostat: {type: nose-hoover-chain, damping: 100}\n"
      "  barostat: {pressure: 2.0, coupling: triclinic, damping: 1000}\n"
      "model:\n  descriptor: {cutoff: 5.0, n_max: 4, l_max: 3}\n"
      "oracle: {kind: potential, potential: buck:NaCl.buck}\n"
      "otf: {check_interval: 5, min_steps_between_calls: 10, log_interval: 50}\n"
      "output: " +
      (dir / "out").string() + "\n";
  CHECK_THROWS_WITH(run_otf(write_and_read(dir, text), false),
                    Contains("cannot fit frame") &&
                        Contains("atomic environments is already sparse") &&
                        !Contains("raise otf.max_sparse_per_frame"));
}

TEST_CASE("otf: a first frame whose atoms share one environment is named as such", "[otf]") {
  // Primitive diamond Si, atom 2 displaced: two atoms of one element in a
  // periodic cell are always inversion images, so the first model has one
  // environment and predicts no forces there, whatever its sparse settings.
  TemporaryDirectory dir;
  write_text(dir / "si2.xyz",
             "2\nLattice=\"0.0 2.7155 2.7155 2.7155 0.0 2.7155 2.7155 2.7155 0.0\" "
             "Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n"
             "Si 0.0 0.0 0.0\nSi 1.42 1.30 1.37\n");
  std::string text = small_config((dir / "out").string(), 50, "");
  text.replace(text.find(si64), si64.size(), (dir / "si2.xyz").string());
  text.replace(text.find("max_sparse_per_frame: 8"), 23, "max_sparse_per_frame: 20");
  CHECK_THROWS_WITH(run_otf(write_and_read(dir, text), false),
                    Contains("cannot fit frame 1") &&
                        Contains("2 atoms all have one environment") &&
                        !Contains("raise otf.max_sparse_per_frame"));
}

TEST_CASE("otf config: one threshold kind, calibration settings checked", "[otf]") {
  TemporaryDirectory dir;
  const std::string base = small_config((dir / "out").string(), 100);
  auto with = [&](const std::string& otf_lines) {
    std::string text = base;
    text.replace(text.find("otf:\n") + 5, 0, otf_lines);
    return write_and_read(dir, text);
  };
  CHECK(with("  std_threshold: 0.05\n").otf.threshold == OtfSettings::Threshold::force);
  CHECK(with("  std_threshold_relative: 3\n").otf.std_threshold == 3.0);
  CHECK(with("  std_threshold_normalised: 0.1\n").otf.threshold ==
        OtfSettings::Threshold::normalised);
  CHECK_THROWS_WITH(with("  std_threshold: 0.05\n  std_threshold_relative: 2\n"),
                    Contains("give one of"));
  CHECK_THROWS_WITH(with("  std_threshold: -1\n"), Contains("positive force std (eV/Å)"));
  CHECK_THROWS_WITH(with("  std_threshold_relative: 0\n"), Contains("positive multiple"));
  CHECK_THROWS_WITH(with("  calibration_frames: 0\n"), Contains("at least 1"));
  CHECK_THROWS_WITH(with("  calibration_frames: 5\n  calibration_window: 3\n"),
                    Contains("calibration_window") && Contains("at least calibration_frames"));
}

TEST_CASE("otf variance_rank: the calibration is fitted to the truncated std the trigger sees",
          "[otf]") {
  TemporaryDirectory dir;
  // The two warm-up calls happen whatever the std says, so both runs label the
  // same frames there; at the second one the model holds more sparse
  // environments than 3, so its truncated variance only can be larger.
  const auto run = [&](const std::string& name, int rank) {
    const OtfConfig config =
        write_and_read(dir, small_config((dir / name).string(), 100,
                                         "  variance_rank: " + std::to_string(rank) + "\n"));
    CHECK(config.otf.variance_rank == rank);
    run_otf(config, false);
    return nlohmann::json::parse(read_text(dir / name / "checkpoint" / "state.json"));
  };
  const nlohmann::json exact = run("exact", 0);
  const nlohmann::json truncated = run("truncated", 3);
  const auto& a = exact.at("calibration_sample");
  const auto& b = truncated.at("calibration_sample");
  REQUIRE(a.size() >= 2);
  REQUIRE(b.size() >= 2);
  for (int f = 0; f < 2; ++f) {
    INFO("warm-up frame " << f);
    // The same frame, the same model (to round-off, which threaded backends
    // amplify through the first hyperparameter optimisation to ~1e-6 eV/Å).
    const auto error_a = a[f].at("error").get<std::vector<std::vector<double>>>();
    const auto error_b = b[f].at("error").get<std::vector<std::vector<double>>>();
    REQUIRE(error_a.size() == error_b.size());
    for (std::size_t i = 0; i < error_a.size(); ++i)
      for (int d = 0; d < 3; ++d)
        CHECK(error_a[i][d] == Approx(error_b[i][d]).epsilon(1e-3).margin(1e-5));
    const auto n_exact = a[f].at("energy_std").get<std::vector<double>>();
    const auto n_truncated = b[f].at("energy_std").get<std::vector<double>>();
    REQUIRE(n_exact.size() == 64);
    REQUIRE(n_truncated.size() == 64);
    int larger = 0;
    for (std::size_t i = 0; i < n_exact.size(); ++i) {
      CHECK(n_truncated[i] >= (1 - 1e-3) * n_exact[i] - 1e-6);
      if (n_truncated[i] > 1.05 * n_exact[i] + 1e-6) ++larger;
    }
    if (f == 1) CHECK(larger > 0);
  }
  CHECK_THROWS_WITH(
      write_and_read(dir, small_config((dir / "x").string(), 100, "  variance_rank: -1\n")),
      Contains("variance_rank"));
}

TEST_CASE("otf campaign: stages run in order and train one model", "[otf]") {
  TemporaryDirectory dir;
  std::string text = small_config((dir / "out").string(), 200);
  text.replace(text.find("structure: "), text.find('\n') + 1,
               "campaign:\n  - {structure: " + si64 + ", temperature: 600, name: cold}\n" +
                   "  - {structure: " + si64 + ", temperature: 1400, steps: 300}\n");
  const OtfConfig config = write_and_read(dir, text);
  REQUIRE(config.stages.size() == 2);
  CHECK(config.stages[0].name == "cold");
  CHECK(config.stages[0].steps == 200);
  CHECK(config.stages[1].temperature == 1400.0);
  const nlohmann::json summary = run_otf(config, false);
  CHECK(summary["stages"] == 2);
  CHECK(summary["steps"] == 500);
  const auto records = read_training_database(dir / "out" / "training.h5");
  // The starting structure is labelled before any MD, once (both stages start
  // from it), then MD frames of both stages.
  REQUIRE(records.size() >= 3);
  CHECK(records[0].stage == 0);
  CHECK(records[0].step == 0);
  CHECK(records[1].step > 0);
  for (const auto& r : records) CHECK((r.stage == 0 || r.step > 0));
  bool hot_md_frame = false;
  for (const auto& r : records) hot_md_frame = hot_md_frame || (r.stage == 1 && r.step > 0);
  CHECK(hot_md_frame);
  // The trajectory holds frames of both stages, the uncertainty log every check of both.
  const std::string log = read_text(dir / "out" / "uncertainty.csv");
  // Stages count from 1 in the files, as in the log and campaign[N].
  CHECK_THAT(log, Contains("\n2,300,500,"));
  CHECK_THAT(log, Contains("\n1,200,200,"));
  // Calls are numbered in order, the starting structures' too.
  long call = 0;
  for (const auto& cells : read_csv(dir / "out" / "calls.csv").rows)
    CHECK(std::stol(cells[0]) == ++call);
  CHECK(call == static_cast<long>(records.size()));

  // Resumed with a finished stage's steps changed: refused (every later total
  // step would shift), the finished run's outputs kept.
  std::string shorter = text;
  shorter.replace(shorter.find("steps: 200"), 10, "steps: 150");
  CHECK_THROWS_WITH(run_otf(write_and_read(dir, shorter), true),
                    Contains("finished stage 1 ran 200 MD steps, the config now gives 150"));
  CHECK(std::filesystem::exists(dir / "out" / "model.h5"));
}

TEST_CASE(
    "otf hyperparameters: each update keeps the better of the current and the configured start",
    "[otf]") {
  // Started from a displaced lattice, the first updates see a handful of
  // energies, and a search started from their optimum stayed in its basin
  // (docs/otf.md). With an update after every frame, the final model's
  // likelihood must be at least that of a search from the configured start
  // on the same frames (what `otfgp train` does).
  TemporaryDirectory dir;
  write_displaced_si64(dir / "start.xyz", 7, 0.06);
  std::string text =
      small_config((dir / "out").string(), 400, "  hyperparameter_updates: {first: 5, every: 1}\n");
  text.replace(0, text.find('\n'), "structure: " + (dir / "start.xyz").string());
  const OtfConfig config = write_and_read(dir, text);
  const nlohmann::json summary = run_otf(config, false);
  REQUIRE(summary.at("frames").get<int>() >= 4);
  const SparseGp loop = load_gp_model(dir / "out" / "model.h5");
  SparseGp cold = load_gp_model(dir / "out" / "model.h5");
  cold.set_hyperparameters(config.training.hyperparameters);
  optimize_hyperparameters(cold, config.training.optimization);
  const double from_loop = loop.log_marginal_likelihood().value;
  const double from_start = cold.log_marginal_likelihood().value;
  INFO("loop " << from_loop << ", from the configured start " << from_start);
  CHECK(from_loop >= from_start - 1e-6 * std::abs(from_start));
}

TEST_CASE(
    "otf with the kernel's two- and three-body parts: learns on the mapped form, resumes after "
    "kill -9",
    "[otf][two_body][three_body]") {
  TemporaryDirectory dir;
  const std::string three_body = GENERATE(std::string(), std::string(", three_body: 1e-5"));
  CAPTURE(three_body);
  auto with_pairs = [&](std::string text, const std::string& weight = "0.5") {
    const std::string key = "  hyperparameters: {max_evaluations: 20}\n";
    text.replace(text.find(key), key.size(),
                 key + "  kernel: {two_body: " + weight + three_body + "}\n");
    return text;
  };
  const OtfConfig reference =
      write_and_read(dir, with_pairs(small_config((dir / "reference").string())));
  REQUIRE(reference.model.descriptor.two_body);
  const nlohmann::json expected = run_otf(reference, false);
  CHECK(expected["oracle_calls"].get<int>() >= 3);
  const SparseGp model = load_gp_model(dir / "reference" / "model.h5");
  CHECK(model.kernel().two_body_weight() == 0.5);
  CHECK(model.kernel().two_body_columns() == 5);
  CHECK(model.kernel().three_body_weight() == (three_body.empty() ? 0.0 : 1e-5));
  // The run's model evaluates mapped (the MD form) as the direct GP does.
  const Structure test = labelled_si(77);
  const Evaluation fast =
      evaluate(*make_potential("gp:" + (dir / "reference" / "model.h5").string()), test);
  const Evaluation direct = evaluate(
      *make_potential("gp:" + (dir / "reference" / "model.h5").string() + ",mapped=no"), test);
  CHECK((fast.forces - direct.forces).norm() <= 1e-8 * direct.forces.norm());

  kill_after_first_checkpoint_and_resume(
      write_and_read(dir, with_pairs(small_config((dir / "killed").string()))));
  check_same_run(dir / "killed", dir / "reference");

  // `auto` trains 7 times per choice: the loop refuses it.
  CHECK_THROWS_WITH(write_and_read(dir, with_pairs(small_config((dir / "auto").string()), "auto")),
                    Contains("model.kernel.two_body") && Contains("give a weight"));
}

TEST_CASE(
    "otf robust force weights: atoms missed far beyond their frame's median learn at a larger "
    "noise, kept through kill -9 and resume",
    "[otf][robust_forces]") {
  TemporaryDirectory dir;
  // 1.5 × the median: most MD frames have such atoms (the default, 10, only rare ones).
  const std::string robust = "  robust_force_threshold: 1.5\n";
  const OtfConfig reference =
      write_and_read(dir, small_config((dir / "reference").string(), 600, robust));
  CHECK(reference.otf.robust_force_threshold == 1.5);
  run_otf(reference, false);
  const SparseGp model = load_gp_model(dir / "reference" / "model.h5");
  const auto records = read_training_database(dir / "reference" / "training.h5");
  REQUIRE(model.num_frames() == static_cast<int>(records.size()));
  int weighted = 0;
  for (int f = 0; f < model.num_frames(); ++f) {
    const std::vector<double>& scales = model.frame_labels(f).force_noise_scale;
    // The starting structure is learnt before any model exists to miss it.
    if (std::isnan(records[f].max_std)) CHECK(scales.empty());
    if (scales.empty()) continue;
    ++weighted;
    REQUIRE(scales.size() == 64);
    CHECK(*std::min_element(scales.begin(), scales.end()) == 1.0);
    CHECK(*std::max_element(scales.begin(), scales.end()) > 1.0);
  }
  CHECK(weighted >= 2);
  CHECK(model.factors().force_log_scales > 0.0);

  // Killed after the first checkpoint: the frames learnt after it are replayed
  // with the same weights (recomputed from the same model), the rest come from
  // the checkpoint's model file.
  kill_after_first_checkpoint_and_resume(
      write_and_read(dir, small_config((dir / "killed").string(), 600, robust)));
  check_same_run(dir / "killed", dir / "reference");
  const SparseGp resumed = load_gp_model(dir / "killed" / "model.h5");
  for (int f = 0; f < model.num_frames(); ++f)
    CHECK(resumed.frame_labels(f).force_noise_scale == model.frame_labels(f).force_noise_scale);

  CHECK_THROWS_WITH(write_and_read(dir, small_config((dir / "x").string(), 600,
                                                     "  robust_force_threshold: 0.5\n")),
                    Contains("robust_force_threshold"));
}

TEST_CASE(
    "otf relax stages: the model's minimum of the stage's structure is labelled until the oracle "
    "confirms it, and a killed run resumes to the same model",
    "[otf][relax_stage]") {
  TemporaryDirectory dir;
  write_displaced_si64(dir / "start.xyz", 11, 0.08);
  const auto config_text = [&](const std::string& output) {
    std::string text = small_config(output, 200, "  relax_rounds: 4\n");
    text.replace(text.find("structure: "), text.find('\n') + 1,
                 "campaign:\n  - {structure: " + si64 + ", temperature: 1000}\n" +
                     "  - {structure: " + (dir / "start.xyz").string() + ", relax: true}\n");
    return text;
  };
  const OtfConfig reference = write_and_read(dir, config_text((dir / "reference").string()));
  REQUIRE(reference.stages.size() == 2);
  CHECK(reference.stages[1].relax);
  CHECK(reference.stages[1].steps == 0);
  const nlohmann::json summary = run_otf(reference, false);
  CHECK(summary["steps"] == 200);
  const auto records = read_training_database(dir / "reference" / "training.h5");
  std::vector<const TrainingRecord*> minima;
  for (const auto& r : records)
    if (r.stage == 1 && r.step > 0) minima.push_back(&r);
  REQUIRE(!minima.empty());
  CHECK(minima.size() <= 4);
  for (std::size_t k = 0; k < minima.size(); ++k) CHECK(minima[k]->step == long(k + 1));
  // The model's minima are the oracle's to within a little: the displaced
  // start has forces of about 1 eV/Å, the labelled minima a fraction of that.
  const auto rms = [](const Structure& s) {
    return std::sqrt(s.forces->squaredNorm() / (3.0 * s.size()));
  };
  const Structure& labelled_start = records[1].frame;
  REQUIRE(records[1].stage == 1);
  CHECK(rms(labelled_start) > 0.5);
  CHECK(rms(minima.back()->frame) < 0.2 * rms(labelled_start));
  // Stopped at the first minimum the oracle confirmed (forces within the
  // force noise, which minima do not re-optimise), or after the rounds.
  const SparseGp model = load_gp_model(dir / "reference" / "model.h5");
  const double noise = model.hyperparameters().force_noise;
  for (std::size_t k = 0; k + 1 < minima.size(); ++k) CHECK(rms(minima[k]->frame) > noise);
  CHECK((minima.size() == 4 || rms(minima.back()->frame) <= noise));
  const std::string calls = read_text(dir / "reference" / "calls.csv");
  CHECK_THAT(calls, Contains(",2,1,nan,labelled,"));
  // Two starting structures: calls 1 and 2 (both were numbered 2, the count
  // after both were labelled), then the MD's and the minima's calls in order.
  long call = 0;
  for (const auto& cells : read_csv(dir / "reference" / "calls.csv").rows)
    CHECK(std::stol(cells[0]) == ++call);
  CHECK(call == static_cast<long>(records.size()));

  kill_after_first_checkpoint_and_resume(
      write_and_read(dir, config_text((dir / "killed").string())));
  check_same_run(dir / "killed", dir / "reference");

  CHECK_THROWS_WITH(
      write_and_read(dir, small_config((dir / "x").string(), 200, "  relax_guard_steps: 0\n")),
      Contains("relax_guard_steps"));
  for (const std::string key : {"steps: 10", "temperature: 300"}) {
    std::string text = config_text((dir / "x").string());
    text.replace(text.find("relax: true"), 11, "relax: true, " + key);
    CHECK_THROWS_WITH(write_and_read(dir, text), Contains("a relax stage runs no MD"));
  }
  // A minimum the oracle cannot label ends the stage: the next round would
  // relax the unchanged model to the same minimum (one round, two attempts).
  {
    std::string text = config_text((dir / "failing").string());
    text.replace(text.find("  - {structure: " + si64),
                 text.find("\n", text.find(si64)) - text.find("  - {structure: " + si64) + 1, "");
    OtfConfig config = write_and_read(dir, text);
    REQUIRE(config.stages.size() == 1);
    auto oracle = std::make_shared<TestOracle>(config.oracle);
    oracle->fail_from = 2;  // the starting structure succeeds, the minimum fails
    config.oracle = oracle;
    const nlohmann::json failed = run_otf(config, false);
    CHECK(failed["finished"] == true);
    CHECK(failed["skipped_calls"] == 1);
    CHECK(oracle->calls == 3);
    CHECK(failed["frames"] == 1);
  }
  // A cell relaxed at a pressure needs a periodic cell: refused before any oracle call.
  Structure cluster = read_structure(dir / "start.xyz");
  cluster.pbc = {false, false, false};
  write_extxyz(dir / "start.xyz", cluster);
  std::string text = config_text((dir / "x").string());
  text.replace(text.find("relax: true"), 11, "relax: true, pressure: 5");
  CHECK_THROWS_WITH(write_and_read(dir, text),
                    Contains("stage 2") && Contains("periodic boundaries in all three"));
}

TEST_CASE(
    "otf relax stages at a pressure: the relaxation stops where the model is uncertain, and a "
    "minimum is confirmed only when the oracle's stress balances the pressure",
    "[otf][relax_stage]") {
  // Perfect diamond: every force vanishes by symmetry at any volume, so only
  // the stress tells whether the model's cell is the oracle's. The model
  // learns Si at 1000 K and zero pressure first; at 15 GPa it extrapolates (a
  // relaxation without the guard collapsed the cell to half its volume, 587
  // GPa off, where the oracle's forces still vanish).
  TemporaryDirectory dir;
  const std::vector<double> pressures = {3.0, 15.0};  // the config's "pressure: 3", "15"
  std::string text = small_config((dir / "run").string(), 200, "  relax_rounds: 5\n");
  text.replace(text.find("structure: "), text.find('\n') + 1,
               "campaign:\n  - {structure: " + si64 + ", temperature: 1000}\n" +
                   "  - {structure: " + si64 + ", relax: true, pressure: 3}\n" +
                   "  - {structure: " + si64 + ", relax: true, pressure: 15}\n");
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  logger().sinks().push_back(sink);
  run_otf(write_and_read(dir, text), false);
  logger().sinks().pop_back();

  const auto records = read_training_database(dir / "run" / "training.h5");
  const SparseGp model = load_gp_model(dir / "run" / "model.h5");
  const GpHyperparameters& noise = model.hyperparameters();
  const auto force_rms = [](const Structure& s) {
    return std::sqrt(s.forces->squaredNorm() / double(s.size()));
  };
  for (std::size_t k = 0; k < pressures.size(); ++k) {
    const double pressure = pressures[k] * units::gpa_in_ev_per_a3;
    const auto stress_off = [&](const Structure& s) {  // RMS of σ + P δ, eV/Å³
      double sum = 0.0;
      for (int c = 0; c < 6; ++c) sum += std::pow((*s.stress)[c] + (c < 3 ? pressure : 0.0), 2);
      return std::sqrt(sum / 6.0);
    };
    std::vector<const Structure*> points;
    for (const auto& r : records)
      if (r.stage == int(k) + 1 && r.step > 0) points.push_back(&r.frame);
    REQUIRE(!points.empty());
    RelaxOptions options;
    options.relax_cell = true;
    options.pressure_gpa = pressures[k];
    const auto oracle = make_potential("sw:" + sw);
    const double oracle_volume = relax(*oracle, read_structure(si64), options).structure.volume();
    // The oracle's bulk modulus here, B = −V dP/dV, from a relaxation 1 GPa higher.
    options.pressure_gpa = pressures[k] + 1.0;
    const double higher_volume = relax(*oracle, read_structure(si64), options).structure.volume();
    const double bulk_modulus =
        units::gpa_in_ev_per_a3 * oracle_volume / (oracle_volume - higher_volume);
    // No labelled point is far from the oracle's cell at this pressure...
    for (const Structure* point : points)
      CHECK(std::abs(point->volume() / oracle_volume - 1.0) < 0.15);
    // ... and the last one is confirmed: the oracle's forces and stress balance.
    REQUIRE(points.size() < 5);
    CHECK(force_rms(*points.back()) <= noise.force_noise);
    CHECK(stress_off(*points.back()) <= noise.stress_noise);
    // So its volume is the oracle's to what that stress allows: a pressure
    // off by δ has an RMS of δ/√2 over the six components, and moves the
    // volume by δ/B. (With OpenMP threads the model, and so this point, varies
    // from run to run: 1.06 % off was seen where a fixed 1 % was asked.)
    INFO("bulk modulus " << bulk_modulus / units::gpa_in_ev_per_a3 << " GPa");
    CHECK(std::abs(points.back()->volume() / oracle_volume - 1.0) <
          std::sqrt(2.0) * noise.stress_noise / bulk_modulus);
  }
  // The guard stopped a relaxation (the compressed cell brings atoms closer
  // than any in the training data); and a minimum whose forces the oracle
  // confirmed, with its stress off, was not taken for the oracle's.
  const std::string text_log = log.str();
  CHECK_THAT(text_log, Contains("round 1: stopped at step") && Contains("at a novel atom"));
  const std::regex unconfirmed(
      "converged on the model[^\n]*\n(?:[^\n]*learnt frame[^\n]*\n)?[^\n]*the oracle's force "
      "RMS there is ([0-9.]+) eV/Å \\(force noise ([0-9.]+);[^\n]*stress RMS off −P ([0-9.]+) GPa "
      "\\(stress noise ([0-9.]+)\\)\n");
  int caught = 0;
  for (auto m = std::sregex_iterator(text_log.begin(), text_log.end(), unconfirmed);
       m != std::sregex_iterator(); ++m)
    if (std::stod((*m)[1]) <= std::stod((*m)[2]) && std::stod((*m)[3]) > std::stod((*m)[4]))
      ++caught;
  CHECK(caught >= 1);

  // The force std stops a relaxation from step otf.relax_guard_steps on: with
  // a threshold every point exceeds, each round ends there.
  std::string strict = small_config((dir / "strict").string(), 200,
                                    "  std_threshold: 1.0e-6\n  relax_guard_steps: 3\n"
                                    "  relax_rounds: 2\n");
  strict.replace(strict.find("structure: "), strict.find('\n') + 1,
                 "campaign:\n  - {structure: " + si64 + ", temperature: 1000}\n" +
                     "  - {structure: " + si64 + ", relax: true, pressure: 3}\n");
  std::ostringstream strict_log;
  logger().sinks().push_back(std::make_shared<spdlog::sinks::ostream_sink_mt>(strict_log));
  run_otf(write_and_read(dir, strict), false);
  logger().sinks().pop_back();
  for (const std::string round : {"round 1: stopped at step 3, where the model's max force std",
                                  "round 2: stopped at step 3, where the model's max force std",
                                  "no minimum confirmed in otf.relax_rounds = 2 rounds"})
    CHECK_THAT(strict_log.str(), Contains(round));
}
