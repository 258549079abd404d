// The otfgp command line: one subcommand per verb, each in its own file.

#include <CLI/CLI.hpp>
#include <Kokkos_Core.hpp>
#include <csignal>
#include <exception>
#include <filesystem>
#include <iostream>
#include <new>
#include <string>

#include "commands.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/version.hpp"

int main(int argc, char* argv[]) {
  // A reader of stdout that goes away (`otfgp md run.yaml | head`, quitting
  // less) must not kill a run before it writes its restart and summary: the
  // writes to the closed pipe fail and are dropped, the run goes on. Child
  // processes get the default action back (process.cpp).
  std::signal(SIGPIPE, SIG_IGN);
  // Likewise a file-size limit (ulimit -f): the write that passes it fails
  // with EFBIG, is undone and reported, instead of the signal killing otfgp
  // with half a frame appended.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"otfgp: on-the-fly Gaussian-process interatomic potentials"};
  app.set_version_flag("--version", otfgp::build_description());
  app.require_subcommand(1);
  bool verbose = false, quiet = false;
  app.add_flag("-v,--verbose", verbose, "Log debugging detail");
  app.add_flag("-q,--quiet", quiet, "Log only warnings and errors");
  otfgp::cli::Commands commands;
  otfgp::cli::add_eval_command(app, commands);
  otfgp::cli::add_hull_command(app, commands);
  otfgp::cli::add_label_command(app, commands);
  otfgp::cli::add_relax_command(app, commands);
  otfgp::cli::add_md_command(app, commands);
  otfgp::cli::add_train_command(app, commands);
  otfgp::cli::add_otf_command(app, commands);
  otfgp::cli::add_search_command(app, commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& done) {
    return app.exit(done);  // --help, --version
  } catch (const CLI::ParseError& error) {
    // One line in the form of every other error, and exit 1 as documented
    // (CLI11's own codes are 100 and up).
    std::cerr << "otfgp: error: " << error.what()
              << " (run 'otfgp --help' or 'otfgp VERB --help')\n";
    return 1;
  }
  otfgp::logger().set_level(verbose ? spdlog::level::debug
                                    : (quiet ? spdlog::level::warn : spdlog::level::info));
  // Kokkos reads its own --kokkos-* options; the CLI passes none of ours.
  int kokkos_argc = 1;
  Kokkos::ScopeGuard kokkos(kokkos_argc, argv);
  try {
    for (const auto& [command, action] : commands)
      if (command->parsed()) action();
  } catch (const otfgp::InterruptedError& error) {
    std::cerr << "otfgp: interrupted: " << error.what() << "\n";
    return 128 + error.signal();
  } catch (const otfgp::Error& error) {
    std::cerr << "otfgp: error: " << error.what() << "\n";
    return 1;
  } catch (const std::filesystem::filesystem_error& error) {
    // A path the user gave that cannot be made or written (a file where a
    // folder should be, no permission, a full disk): their input, not a bug.
    std::cerr << "otfgp: error: " << error.code().message() << ": '" << error.path1().string()
              << "'" << (error.path2().empty() ? "" : " -> '" + error.path2().string() + "'")
              << " (" << error.what() << ")\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "otfgp: error: out of memory (the structure, cutoff or data set is too large "
                 "for this machine)\n";
    return 1;
  } catch (const std::exception& error) {
    // Kokkos reports a failed allocation as a runtime_error, not bad_alloc.
    if (std::string(error.what()).find("Kokkos failed to allocate memory") != std::string::npos) {
      std::cerr << "otfgp: error: out of memory (the structure, cutoff or data set is too large "
                   "for this machine): "
                << error.what() << "\n";
      return 1;
    }
    // A bug, not the input's fault; still exit 1, the one failure status.
    std::cerr << "otfgp: internal error: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
