// Damaged HDF5 files without otfgp's checksummed header (issue 8): a GP model,
// an md restart and an OTF training database, each with its 512-byte header
// zeroed (as older otfgp and h5py write them) or dropped, then truncated or
// with bytes flipped, zeroed or scrambled — mostly in the first kilobytes,
// where the superblock, the root object header, B-trees and heaps live. Every
// case runs in a child process with a time limit: it must end in an
// otfgp::Error naming the file, or load exactly what was written; never hang,
// crash, end in another exception or load something different.
//
// CI runs 500 cases per file kind (seed 8). A longer local run:
//   OTFGP_FUZZ_CASES=5000 OTFGP_FUZZ_SEED=2026 build/tests/test_hdf5_fuzz

#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "otfgp/core/error.hpp"
#include "otfgp/core/hdf5_image.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/md/restart.hpp"
#include "otfgp/otf/training_database.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "support/cli.hpp"
#include "support/environment.hpp"
#include "support/files.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using otfgp::testing::read_text;
using otfgp::testing::write_text;
using namespace otfgp::testing;

namespace {

long environment_number(const char* name, long fallback) {
  const char* text = std::getenv(name);
  return text && *text ? std::strtol(text, nullptr, 10) : fallback;
}

constexpr std::size_t user_block = 512;

// Damage aimed at HDF5's own structures: the header goes (zeroed or cut off),
// then one to three truncations, bit flips, zeroed or random runs, duplicated
// or dropped blocks, three times in four within the first 4 KiB.
class HeaderlessMutator {
 public:
  explicit HeaderlessMutator(std::uint64_t seed) : random_(seed) {}

  std::string operator()(std::string bytes) {
    if (pick(4) == 0)
      bytes.erase(0, user_block);
    else
      std::fill(bytes.begin(), bytes.begin() + user_block, '\0');
    const int count = 1 + static_cast<int>(pick(3));
    for (int k = 0; k < count && !bytes.empty(); ++k) {
      const std::size_t span =
          pick(4) == 0 ? bytes.size() : std::min<std::size_t>(bytes.size(), 4096);
      const std::size_t at = pick(span);
      switch (pick(6)) {
        case 0:  // truncate
          bytes.resize(pick(bytes.size()));
          break;
        case 1:
        case 2:  // flip one bit
          bytes[at] = static_cast<char>(bytes[at] ^ (1 << pick(8)));
          break;
        case 3: {  // a run of zeros or random bytes
          const std::size_t length = 1 + pick(16);
          const bool zeros = pick(2) == 0;
          for (std::size_t i = at; i < std::min(bytes.size(), at + length); ++i)
            bytes[i] = zeros ? '\0' : static_cast<char>(pick(256));
          break;
        }
        case 4: {  // one random byte, as a bad sector or a stray write leaves
          bytes[at] = static_cast<char>(pick(256));
          break;
        }
        case 5: {  // duplicate or drop a block
          const std::size_t length = 1 + pick(64);
          if (pick(2) == 0)
            bytes.insert(at, bytes.substr(at, length));
          else
            bytes.erase(at, length);
          break;
        }
      }
    }
    return bytes;
  }

 private:
  std::size_t pick(std::size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(random_);
  }
  std::mt19937_64 random_;
};

enum class Outcome { accepted, rejected, failed };

struct CaseResult {
  Outcome outcome = Outcome::failed;
  std::string message;
};

// Runs `check` in a child process: true for a correct load, false for a load
// that differs from what was written, an otfgp::Error for a clear rejection.
// A hang beyond `seconds`, a crash or another exception is a failure.
CaseResult run_isolated(const std::function<bool()>& check, double seconds) {
  int report[2];
  REQUIRE(::pipe(report) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(report[0]);
    // A crash is this harness's to report, not Catch's handlers'.
    for (const int signal : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT})
      std::signal(signal, SIG_DFL);
    std::string message;
    int code = 0;
    try {
      if (!check()) {
        code = 3;
        message = "loaded, but not what was written";
      }
    } catch (const Error& error) {
      code = 1;
      message = error.what();
    } catch (const std::exception& error) {
      code = 2;
      message = std::string("not an otfgp::Error: ") + error.what();
    }
    for (std::size_t done = 0; done < message.size();) {
      const ssize_t n = ::write(report[1], message.data() + done, message.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::_exit(code);
  }
  ::close(report[1]);
  CaseResult result;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  bool hung = false;
  for (;;) {
    const long long left = std::chrono::duration_cast<std::chrono::milliseconds>(
                               deadline - std::chrono::steady_clock::now())
                               .count();
    if (left <= 0) {
      hung = true;
      break;
    }
    struct pollfd wait {};
    wait.fd = report[0];
    wait.events = POLLIN;
    if (::poll(&wait, 1, static_cast<int>(left)) <= 0) continue;
    char buffer[4096];
    const ssize_t n = ::read(report[0], buffer, sizeof buffer);
    if (n <= 0) break;
    result.message.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(report[0]);
  if (hung) ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (hung) {
    result.message = "hang: no result within " + std::to_string(seconds) + " s";
  } else if (WIFSIGNALED(status)) {
    result.message = "crash: signal " + std::to_string(WTERMSIG(status));
  } else if (WEXITSTATUS(status) == 0) {
    result.outcome = Outcome::accepted;
  } else if (WEXITSTATUS(status) == 1) {
    result.outcome = Outcome::rejected;
  }
  return result;
}

struct Tally {
  explicit Tally(std::string name) : kind(std::move(name)) {}
  std::string kind;
  long cases = 0, accepted = 0, rejected = 0, failures = 0;
  long hdf5_crashes = 0, hdf5_hangs = 0;  // caught by the library's check in a child process
  std::string first_failure;

  // A rejection must name the file and must not be an internal error.
  void add(const CaseResult& result, const std::string& file, long index) {
    ++cases;
    if (result.outcome == Outcome::accepted) {
      ++accepted;
      return;
    }
    if (result.outcome == Outcome::rejected && !result.message.empty() &&
        result.message.find(file) != std::string::npos &&
        result.message.find("internal error") == std::string::npos) {
      ++rejected;
      hdf5_crashes += result.message.find("crashed reading it") != std::string::npos;
      hdf5_hangs += result.message.find("did not finish reading it") != std::string::npos;
      return;
    }
    ++failures;
    if (first_failure.empty())
      first_failure = "case " + std::to_string(index) + ": " + result.message;
  }

  void report() const {
    WARN(kind << ": " << cases << " cases, " << accepted << " loaded as written, " << rejected
              << " rejected with a clear error (of which HDF5 crashed on " << hdf5_crashes
              << " and looped on " << hdf5_hangs << " in the check's child process), " << failures
              << " failures");
    INFO(first_failure);
    CHECK(failures == 0);
  }
};

bool same_structure(const Structure& a, const Structure& b) {
  return a.numbers == b.numbers && a.pbc == b.pbc && a.cell == b.cell && a.positions == b.positions;
}

}  // namespace

TEST_CASE("OTFGP_HDF5_CHECK_SECONDS is a positive number of seconds, anything else an error",
          "[hdf5]") {
  const std::vector<char> image(1024, 'x');
  for (const char* bad : {"abc", "-3", "0", "1e3x", "nan", "inf", " ", "1e300"}) {
    INFO(bad);
    const otfgp::testing::ScopedEnvironment setting("OTFGP_HDF5_CHECK_SECONDS", bad);
    CHECK_THROWS_WITH(probe_hdf5_image(image, "junk.h5"),
                      Catch::Contains("OTFGP_HDF5_CHECK_SECONDS must be a positive number"));
  }
  // A good value reaches the check itself, which refuses the junk as a damaged file.
  const otfgp::testing::ScopedEnvironment good("OTFGP_HDF5_CHECK_SECONDS", "2.5");
  CHECK_THROWS_WITH(probe_hdf5_image(image, "junk.h5"), Catch::Contains("junk.h5: damaged HDF5"));
}

TEST_CASE("fuzz: damaged HDF5 files without otfgp's header never hang or crash", "[fuzz][hdf5]") {
  logger().set_level(spdlog::level::err);
  // The library's own check of a headerless file (a child process) gives up
  // after this long; the harness waits longer, so a hang the library misses
  // shows up as a failure here.
  const otfgp::testing::ScopedEnvironment check_seconds("OTFGP_HDF5_CHECK_SECONDS", "3");
  const double harness_seconds = 60;
  const long cases = environment_number("OTFGP_FUZZ_CASES", 500);
  const auto seed = static_cast<std::uint64_t>(environment_number("OTFGP_FUZZ_SEED", 8));

  TemporaryDirectory dir;
  const std::string d = dir.path().string();
  const std::string sw = "sw:/usr/share/lammps/potentials/Si.sw";
  auto silicon = make_potential(sw);
  std::vector<Structure> frames;
  for (int k = 0; k < 3; ++k) {
    Structure s = diamond(14, 5.431, 1);
    rattle(s, 0.1, 60 + k);
    attach_labels(s, evaluate(*silicon, s));
    frames.push_back(s);
  }
  write_structures(dir / "data.xyz", frames);
  write_text(dir / "train.yaml", "descriptor: {cutoff: 4.0, n_max: 3, l_max: 2}\n");
  CommandResult made = run_otfgp("-q train --data " + d + "/data.xyz --config " + d +
                                 "/train.yaml -o " + d + "/model.h5");
  INFO(made.output);
  REQUIRE(made.exit_code == 0);
  write_text(dir / "md.yaml",
             "structure: {lattice: fcc, elements: [Ar], a: 5.30, repeat: 1}\n"
             "potential: lj:eps=0.0104,sigma=3.4,rc=6.0\nensemble: nve\ntemperature: 50\n"
             "timestep: 4\nsteps: 3\noutput: {directory: " +
                 d + "/out}\n");
  made = run_otfgp("-q md " + d + "/md.yaml");
  INFO(made.output);
  REQUIRE(made.exit_code == 0);
  {
    auto database = otf::TrainingDatabase::create(dir / "db.h5", dir / "db.xyz");
    for (int k = 0; k < 3; ++k) {
      otf::TrainingRecord record;
      record.frame = frames[k];
      record.step = 10 * k;
      record.max_std = k == 0 ? std::nan("") : 0.01 * k;
      database.append(record);
    }
  }

  // What each file holds when intact.
  const std::vector<std::string> variants = {"", ",mapped=no"};
  std::vector<double> model_energy;
  for (const std::string& variant : variants)
    model_energy.push_back(
        evaluate(*make_potential("gp:" + d + "/model.h5" + variant), frames[0]).energy);
  const md::RestartData restart = md::read_restart_file(dir / "out/restart.h5");
  const std::vector<otf::TrainingRecord> records = otf::read_training_database(dir / "db.h5");
  REQUIRE(records.size() == 3);

  // A headerless copy of each, undamaged, loads as the original.
  for (const char* name : {"model.h5", "out/restart.h5", "db.h5"}) {
    std::string bytes = read_text(dir / name);
    std::fill(bytes.begin(), bytes.begin() + user_block, '\0');
    write_text(dir / (std::string("plain_") + std::filesystem::path(name).filename().string()),
               bytes);
  }
  CHECK(evaluate(*make_potential("gp:" + d + "/plain_model.h5"), frames[0]).energy ==
        model_energy[0]);
  CHECK(md::read_restart_file(dir / "plain_restart.h5").step == restart.step);
  CHECK(otf::read_training_database(dir / "plain_db.h5").size() == 3);

  const std::string model_bytes = read_text(dir / "model.h5");
  const std::string restart_bytes = read_text(dir / "out/restart.h5");
  const std::string database_bytes = read_text(dir / "db.h5");
  HeaderlessMutator mutate(seed + 70);
  Tally model_tally{"GP model, headerless"}, restart_tally{"md restart, headerless"},
      database_tally{"training database, headerless"};
  const auto start = std::chrono::steady_clock::now();
  for (long k = 0; k < cases; ++k) {
    const std::filesystem::path model_path = dir / "fuzz_model.h5";
    write_text(model_path, mutate(model_bytes));
    model_tally.add(run_isolated(
                        [&] {
                          for (std::size_t v = 0; v < variants.size(); ++v) {
                            auto potential =
                                make_potential("gp:" + model_path.string() + variants[v]);
                            if (evaluate(*potential, frames[0]).energy != model_energy[v])
                              return false;
                          }
                          return true;
                        },
                        harness_seconds),
                    model_path.string(), k);

    const std::filesystem::path restart_path = dir / "fuzz_restart.h5";
    write_text(restart_path, mutate(restart_bytes));
    restart_tally.add(run_isolated(
                          [&] {
                            const md::RestartData data = md::read_restart_file(restart_path);
                            return data.step == restart.step && data.time == restart.time &&
                                   same_structure(data.structure, restart.structure) &&
                                   data.velocities == restart.velocities &&
                                   data.potential == restart.potential &&
                                   data.settings == restart.settings;
                          },
                          harness_seconds),
                      restart_path.string(), k);

    const std::filesystem::path database_path = dir / "fuzz_db.h5";
    write_text(database_path, mutate(database_bytes));
    database_tally.add(run_isolated(
                           [&] {
                             const auto loaded = otf::read_training_database(database_path);
                             if (loaded.size() != records.size()) return false;
                             for (std::size_t f = 0; f < loaded.size(); ++f) {
                               const Structure &a = loaded[f].frame, &b = records[f].frame;
                               if (!same_structure(a, b) || *a.energy != *b.energy ||
                                   *a.forces != *b.forces || loaded[f].step != records[f].step)
                                 return false;
                             }
                             return true;
                           },
                           harness_seconds),
                       database_path.string(), k);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WARN(cases << " cases per kind in " << seconds << " s");
  model_tally.report();
  restart_tally.report();
  database_tally.report();
}
