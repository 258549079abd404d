// The process runner: exit codes, timeouts that kill the whole process group,
// stderr tail, working directory, environment, redirection, start failures.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "otfgp/core/error.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/process.hpp"
#include "support/environment.hpp"
#include "support/files.hpp"
#include "support/temporary_directory.hpp"

using otfgp::ProcessOptions;
using otfgp::run_process;
using otfgp::testing::read_text;
using otfgp::testing::TemporaryDirectory;

namespace {

// True when the process is gone (or a zombie waiting for init to reap it).
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

}  // namespace

TEST_CASE("run_process reports exit codes and signals", "[process]") {
  CHECK(run_process({"true"}, {}).exit_status == 0);
  CHECK(run_process({"false"}, {}).exit_status == 1);
  const auto result = run_process({"sh", "-c", "exit 42"}, {});
  CHECK(result.exit_status == 42);
  CHECK_FALSE(result.timed_out);
  CHECK(run_process({"sh", "-c", "kill -KILL $$"}, {}).exit_status == 128 + SIGKILL);
}

TEST_CASE("run_process passes arguments without a shell", "[process]") {
  TemporaryDirectory directory("otfgp-process");
  ProcessOptions options;
  options.stdout_file = directory / "out.txt";
  // Spaces, quotes and shell syntax arrive as they are.
  run_process({"printf", "%s|%s|%s", "a b", "$HOME", "'x';"}, options);
  CHECK(read_text(directory / "out.txt") == "a b|$HOME|'x';");
}

TEST_CASE("run_process keeps the tail of stderr", "[process]") {
  ProcessOptions options;
  options.stderr_tail_bytes = 10;
  const auto result =
      run_process({"sh", "-c",
                   "i=0; while [ $i -lt 5000 ]; do echo line$i >&2; i=$((i+1)); done; "
                   "printf END4567890 >&2; exit 3"},
                  options);
  CHECK(result.exit_status == 3);
  CHECK(result.stderr_tail == "END4567890");
  options.stderr_tail_bytes = 4096;
  CHECK(run_process({"sh", "-c", "echo oops >&2"}, options).stderr_tail == "oops\n");
}

TEST_CASE("run_process runs in a working directory with stdin and stdout files", "[process]") {
  TemporaryDirectory directory("otfgp-process");
  std::filesystem::create_directory(directory / "work");
  std::ofstream(directory / "in.txt") << "hello from stdin\n";
  ProcessOptions options;
  options.working_directory = directory / "work";
  options.stdin_file = directory / "in.txt";
  options.stdout_file = directory / "out.txt";
  const auto result = run_process({"sh", "-c", "cat; pwd; touch made-here"}, options);
  CHECK(result.exit_status == 0);
  CHECK(read_text(directory / "out.txt") ==
        "hello from stdin\n" + std::filesystem::canonical(directory / "work").string() + "\n");
  CHECK(std::filesystem::exists(directory / "work" / "made-here"));
  // Without a stdin file the program reads an empty /dev/null, not the terminal.
  ProcessOptions plain;
  plain.stdout_file = directory / "empty.txt";
  CHECK(run_process({"cat"}, plain).exit_status == 0);
  CHECK(read_text(directory / "empty.txt").empty());
}

TEST_CASE("run_process adds and replaces environment variables", "[process]") {
  TemporaryDirectory directory("otfgp-process");
  const otfgp::testing::ScopedEnvironment inherited("OTFGP_PROCESS_TEST_INHERITED", "kept");
  const otfgp::testing::ScopedEnvironment replaced("OTFGP_PROCESS_TEST_REPLACED", "old");
  ProcessOptions options;
  options.environment = {{"OTFGP_PROCESS_TEST_REPLACED", "new"}, {"OMP_NUM_THREADS", "1"}};
  options.stdout_file = directory / "env.txt";
  run_process({"sh", "-c",
               "echo $OTFGP_PROCESS_TEST_INHERITED $OTFGP_PROCESS_TEST_REPLACED $OMP_NUM_THREADS"},
              options);
  CHECK(read_text(directory / "env.txt") == "kept new 1\n");
}

TEST_CASE("run_process kills the whole process group after the timeout", "[process]") {
  TemporaryDirectory directory("otfgp-process");
  ProcessOptions options;
  options.working_directory = directory.path();
  options.timeout = std::chrono::duration<double>(0.5);
  // The shell and its background child both ignore SIGTERM: only SIGKILL to
  // the group ends them, after the grace period.
  const auto start = std::chrono::steady_clock::now();
  const auto result = run_process(
      {"sh", "-c", "trap '' TERM; sleep 60 & echo $! > child.pid; wait; wait"}, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(result.timed_out);
  CHECK(result.exit_status == 128 + SIGKILL);
  CHECK(seconds >= 0.5);
  CHECK(seconds < 5.0);
  const pid_t child = std::stoi(read_text(directory / "child.pid"));
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = process_gone(child);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(gone);
}

TEST_CASE("run_process ends a cooperative program with SIGTERM", "[process]") {
  ProcessOptions options;
  options.timeout = std::chrono::duration<double>(0.3);
  const auto start = std::chrono::steady_clock::now();
  const auto result = run_process({"sleep", "30"}, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(result.timed_out);
  CHECK(result.exit_status == 128 + SIGTERM);
  CHECK(seconds < 1.5);
  CHECK(result.seconds == Approx(seconds).margin(0.1));
}

TEST_CASE("run_process looks the program up on the PATH its environment sets", "[process]") {
  TemporaryDirectory directory("otfgp-process");
  std::ofstream(directory / "otfgp-only-here") << "#!/bin/sh\necho found > found.txt\n";
  std::filesystem::permissions(directory / "otfgp-only-here", std::filesystem::perms::owner_all);
  const std::string path = directory.path().string() + ":/usr/bin:/bin";
  CHECK(otfgp::find_executable("otfgp-only-here", path) == directory / "otfgp-only-here");
  CHECK_FALSE(otfgp::find_executable("otfgp-only-here"));
  ProcessOptions options;
  options.working_directory = directory.path();
  options.environment["PATH"] = path;
  CHECK(run_process({"otfgp-only-here"}, options).exit_status == 0);
  CHECK(read_text(directory / "found.txt") == "found\n");
  options.environment["PATH"] = "/usr/bin:/bin";
  CHECK_THROWS_WITH(run_process({"otfgp-only-here"}, options),
                    Catch::Matchers::Contains("not found on the PATH it is given (/usr/bin:/bin)"));
}

TEST_CASE("run_process ends the program and throws on Ctrl-C", "[process]") {
  {
    otfgp::InterruptGuard guard;
    std::thread signaller([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      ::kill(::getpid(), SIGINT);
    });
    const auto start = std::chrono::steady_clock::now();
    try {
      const otfgp::InterruptGuard nested;  // keeps the outer guard's signal
      run_process({"sleep", "30"}, {});
      FAIL("no interrupt");
    } catch (const otfgp::InterruptedError& error) {
      CHECK(error.signal() == SIGINT);
    }
    signaller.join();
    CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 3.0);
    CHECK(otfgp::interrupt_signal() == SIGINT);
  }
  // After the guard the signal is gone: a later program in this process (the
  // next test, when all run in one) runs.
  CHECK_FALSE(otfgp::interrupt_requested());
  CHECK(run_process({"true"}, {}).exit_status == 0);
}

TEST_CASE("run_process does not leave background helpers behind", "[process]") {
  TemporaryDirectory directory("otfgp-process");
  ProcessOptions options;
  options.working_directory = directory.path();
  const auto result = run_process({"sh", "-c", "sleep 60 & echo $! > child.pid; exit 0"}, options);
  CHECK(result.exit_status == 0);
  CHECK_FALSE(result.timed_out);
  CHECK(result.seconds < 5.0);
  const pid_t child = std::stoi(read_text(directory / "child.pid"));
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = process_gone(child);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(gone);
}

TEST_CASE("run_process throws otfgp::Error when the program cannot start", "[process]") {
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(run_process({"otfgp-no-such-program-xyz"}, {}),
                    Contains("otfgp-no-such-program-xyz") && Contains("not found"));
  CHECK_THROWS_AS(run_process({"/nonexistent/dir/prog"}, {}), otfgp::Error);
  CHECK_THROWS_AS(run_process({}, {}), otfgp::Error);
  TemporaryDirectory directory("otfgp-process");
  // A file without execute permission is not a program.
  std::ofstream(directory / "script.sh") << "#!/bin/sh\nexit 0\n";
  CHECK_THROWS_WITH(run_process({(directory / "script.sh").string()}, {}), Contains("script.sh"));
  // Executable, but the interpreter is missing: execve fails, reported as an Error.
  std::ofstream(directory / "broken.sh") << "#!/nonexistent/interpreter\n";
  std::filesystem::permissions(directory / "broken.sh", std::filesystem::perms::owner_all);
  CHECK_THROWS_WITH(run_process({(directory / "broken.sh").string()}, {}),
                    Contains("broken.sh") && Contains("No such file"));
  ProcessOptions options;
  options.working_directory = directory / "missing";
  CHECK_THROWS_WITH(run_process({"true"}, options), Contains("missing"));
  options = {};
  options.stdin_file = directory / "no-input.txt";
  CHECK_THROWS_WITH(run_process({"true"}, options), Contains("no-input.txt"));
}

TEST_CASE("find_executable and split_command", "[process]") {
  const auto sh = otfgp::find_executable("sh");
  REQUIRE(sh);
  CHECK(sh->is_absolute());
  CHECK(otfgp::find_executable(sh->string()) == *sh);
  CHECK_FALSE(otfgp::find_executable("otfgp-no-such-program-xyz"));
  CHECK_FALSE(otfgp::find_executable("/etc/passwd"));
  CHECK_FALSE(otfgp::find_executable(""));

  using Words = std::vector<std::string>;
  CHECK(otfgp::split_command("mpirun -np 2 pw.x") == Words{"mpirun", "-np", "2", "pw.x"});
  CHECK(otfgp::split_command("  a  'b c'\t\"d 'e'\" f''g ''") ==
        Words{"a", "b c", "d 'e'", "fg", ""});
  CHECK(otfgp::split_command("").empty());
  CHECK_THROWS_AS(otfgp::split_command("echo 'open"), otfgp::Error);
  // join_command writes words that split_command reads back.
  CHECK(otfgp::join_command({"mpirun", "-np", "2", "pw.x"}) == "mpirun -np 2 pw.x");
  for (const Words& words : {Words{"a", "b c", "d 'e'", "fg", ""}, Words{"it's \"x\""},
                             Words{"'", "\"", "\t", "a'b\"c d"}, Words{}})
    CHECK(otfgp::split_command(otfgp::join_command(words)) == words);
  CHECK(otfgp::join_command({"b c", "it's"}) == "'b c' 'it'\"'\"'s'");
}

TEST_CASE("run_process's program stops when otfgp is killed with SIGKILL", "[process]") {
  // otfgp (here a forked copy of the test) killed while the program runs: the
  // program gets SIGTERM instead of running on as an orphan.
  TemporaryDirectory directory("otfgp-process");
  const std::string pid_file = (directory / "program.pid").string();
  const pid_t runner = ::fork();
  REQUIRE(runner >= 0);
  if (runner == 0) {
    otfgp::InterruptGuard guard;  // as otfgp runs oracles (and clears an earlier test's flag)
    ProcessOptions options;
    options.working_directory = directory.path();
    try {
      run_process({"sh", "-c", "echo $$ > program.pid; exec sleep 60"}, options);
    } catch (...) {
    }
    ::_exit(0);
  }
  pid_t program = 0;
  for (int i = 0; i < 500 && program == 0; ++i) {
    std::ifstream in(pid_file);
    if (!(in >> program)) program = 0;
    if (program == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(program > 0);
  REQUIRE_FALSE(process_gone(program));
  ::kill(runner, SIGKILL);
  ::waitpid(runner, nullptr, 0);
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = process_gone(program);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!gone) ::kill(program, SIGKILL);
  CHECK(gone);
}
