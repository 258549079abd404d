#include "support/cli.hpp"

#include <sys/wait.h>
#include <cstdio>
#include <stdexcept>

namespace otfgp::testing {

CommandResult run_otfgp(const std::string& arguments) {
  const std::string command = std::string(OTFGP_CLI_PATH) + " " + arguments + " 2>&1 < /dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot start: " + command);
  CommandResult result;
  char buffer[4096];
  std::size_t count;
  while ((count = std::fread(buffer, 1, sizeof buffer, pipe)) > 0)
    result.output.append(buffer, count);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace otfgp::testing
