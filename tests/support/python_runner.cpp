#include "support/python_runner.hpp"

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace otfgp::testing {

namespace {

std::filesystem::path scratch_file(const std::string& stem) {
  static int counter = 0;
  return std::filesystem::temp_directory_path() / ("otfgp_python_" + std::to_string(::getpid()) +
                                                   "_" + std::to_string(counter++) + "_" + stem);
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream stream(path);
  std::stringstream text;
  text << stream.rdbuf();
  return text.str();
}

}  // namespace

std::string run_python(const std::string& script, const std::string& input) {
  const auto script_path = scratch_file("script.py");
  const auto input_path = scratch_file("input.txt");
  const auto output_path = scratch_file("output.txt");
  const auto error_path = scratch_file("error.txt");
  std::ofstream(script_path) << script;
  std::ofstream(input_path) << input;
  const std::string command = std::string(system_python) + " " + script_path.string() + " < " +
                              input_path.string() + " > " + output_path.string() + " 2> " +
                              error_path.string();
  const int status = std::system(command.c_str());
  const std::string output = slurp(output_path);
  const std::string error = slurp(error_path);
  for (const auto& path : {script_path, input_path, output_path, error_path})
    std::filesystem::remove(path);
  if (status != 0)
    throw std::runtime_error("python script failed (status " + std::to_string(status) + "):\n" +
                             error);
  return output;
}

bool python_has_modules(const std::string& modules) {
  std::string script = "import sys\n";
  std::stringstream names(modules);
  std::string name;
  while (names >> name) script += "import " + name + "\n";
  try {
    run_python(script);
    return true;
  } catch (const std::runtime_error&) {
    return false;
  }
}

}  // namespace otfgp::testing
