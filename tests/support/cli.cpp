#include "support/cli.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <stdexcept>
#include <utility>

#include "support/spawn.hpp"

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

pid_t spawn_otfgp(const std::vector<std::string>& arguments) {
  std::vector<std::string> words = {OTFGP_CLI_PATH};
  words.insert(words.end(), arguments.begin(), arguments.end());
  return spawn_program(std::move(words), "/dev/null", "/dev/null");
}

}  // namespace otfgp::testing
