// One process per output (output_lock.hpp): a second lock on the same file
// is refused naming the holder, the holder's end removes the file, a stale
// file left by a killed holder does not block, and a second `otfgp md` given
// the folder of a running one stops before touching it.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <optional>

#include "otfgp/core/error.hpp"
#include "otfgp/core/output_lock.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using Catch::Matchers::Contains;
using otfgp::testing::TemporaryDirectory;

TEST_CASE("an output lock admits one holder and names it to the next", "[lock]") {
  TemporaryDirectory directory("otfgp-lock");
  const auto file = OutputLock::in_folder(directory.path());
  CHECK(file.filename() == ".otfgp.lock");
  std::optional<OutputLock> held;
  held.emplace(file, "output folder 'x'", "otfgp test");
  REQUIRE(std::filesystem::exists(file));
  CHECK_THAT(testing::read_text(file),
             Contains("otfgp test (pid " + std::to_string(::getpid()) + ", since "));
  // flock: another open file description of the same file, even in this process, is refused.
  CHECK_THROWS_WITH(OutputLock(file, "output folder 'x'", "otfgp other"),
                    Contains("output folder 'x' is in use by otfgp test (pid") &&
                        Contains("lock file is '" + file.string() + "'"));
  held.reset();
  CHECK_FALSE(std::filesystem::exists(file));
  // A file a killed holder left (no lock on it) does not block.
  testing::write_text(file, "otfgp otf (pid 1, since 2026-01-01T00:00:00Z)\n");
  held.emplace(file, "output folder 'x'", "otfgp test");
  CHECK_THAT(testing::read_text(file), Contains("otfgp test"));
  held.reset();
  CHECK_THROWS_WITH(OutputLock(directory / "missing" / ".otfgp.lock", "output folder 'y'", "t"),
                    Contains("cannot create the lock file") && Contains("output folder 'y'"));
}

TEST_CASE("a second otfgp md on the folder of a running one stops at once", "[lock][cli]") {
  TemporaryDirectory directory("otfgp-lock");
  const std::filesystem::path dir = directory.path();
  testing::write_text(dir / "md.yaml",
                      "structure: {lattice: diamond, elements: [Si], a: 5.431, repeat: [3, 3, 3]}\n"
                      "potential: sw:Si.sw\nensemble: nve\ninitial_temperature: 300\n"
                      "steps: 100000000\noutput: {directory: out, thermo_interval: 1000}\n");
  const std::string otfgp = OTFGP_CLI_PATH;
  // The first run in the background until the second has tried; then SIGTERM.
  const int status = testing::shell(
      "cd '" + dir.string() + "' && ('" + otfgp + "' -q md md.yaml > first.txt 2>&1 & pid=$!; " +
      // The holder's line is written once it holds the lock; the second run
      // is bounded in case it ever ran.
      "for i in $(seq 1500); do [ -s out/.otfgp.lock ] && break; sleep 0.02; done; timeout 60 '" +
      otfgp + "' md md.yaml > second.txt 2>&1; echo $? > second_status; kill -TERM $pid; " +
      "wait $pid)");
  INFO(testing::read_text(dir / "first.txt") + testing::read_text(dir / "second.txt"));
  CHECK(status == 143);  // the first run, stopped by the test
  CHECK(testing::read_text(dir / "second_status") == "1\n");
  CHECK_THAT(testing::read_text(dir / "second.txt"),
             Contains("output directory 'out' is in use by otfgp md (pid"));
  // The first run's outputs are whole: it wrote its restart and summary on the signal.
  CHECK(std::filesystem::exists(dir / "out" / "restart.h5"));
  CHECK(std::filesystem::exists(dir / "out" / "summary.json"));
  CHECK_FALSE(std::filesystem::exists(dir / "out" / ".otfgp.lock"));
}
