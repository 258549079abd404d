#pragma once
// Runs the otfgp command line (the binary built beside the tests) and captures
// what it printed, for end-to-end tests of the verbs.

#include <sys/types.h>

#include <string>
#include <vector>

namespace otfgp::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `otfgp <arguments>` through the shell (quote arguments yourself).
CommandResult run_otfgp(const std::string& arguments);

// Starts `otfgp <arguments>` in the background (no shell), its output
// discarded, for tests that signal or kill it; returns its process id.
pid_t spawn_otfgp(const std::vector<std::string>& arguments);

}  // namespace otfgp::testing
