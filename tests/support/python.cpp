#include "support/python.hpp"

#include <sys/wait.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "support/spawn.hpp"
#include "support/temporary_directory.hpp"

namespace otfgp::testing {

namespace {

std::string read_whole_file(const std::filesystem::path& path) {
  std::ifstream input(path, std::ios::binary);
  std::ostringstream text;
  text << input.rdbuf();
  return text.str();
}

}  // namespace

PythonResult run_python(const std::string& code, const std::vector<std::string>& arguments) {
  // The script and its output go through files: no shell quoting, and no pipe
  // that could fill up while we wait for the process.
  TemporaryDirectory directory("otfgp-python");
  const auto script = directory / "script.py";
  const auto output = directory / "stdout";
  const auto error = directory / "stderr";
  {
    std::ofstream file(script, std::ios::binary);
    file << code;
    if (!file) throw std::runtime_error("cannot write the Python script to " + script.string());
  }

  std::vector<std::string> words{python_interpreter, "-I", script.string()};
  words.insert(words.end(), arguments.begin(), arguments.end());
  const pid_t pid = spawn_program(std::move(words), output.string(), error.string());

  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error("waitpid failed for the Python process");

  PythonResult result;
  result.exit_code =
      WIFEXITED(status) ? WEXITSTATUS(status) : (WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1);
  result.output = read_whole_file(output);
  result.error = read_whole_file(error);
  return result;
}

std::string python_output(const std::string& code, const std::vector<std::string>& arguments) {
  const PythonResult result = run_python(code, arguments);
  if (result.exit_code != 0)
    throw std::runtime_error("Python exited with status " + std::to_string(result.exit_code) +
                             ":\n" + result.error);
  return result.output;
}

}  // namespace otfgp::testing
