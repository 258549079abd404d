#pragma once
// Locating and reading the parameter files of the reference potentials
// (LAMMPS's .eam, .eam.alloy, … and our own potentials/params/*.buck).

#include <filesystem>
#include <string>
#include <vector>

namespace otfgp {

// Directories searched for a parameter file given by a bare name, in order:
// $LAMMPS_POTENTIALS, /usr/share/lammps/potentials (Debian's lammps-data), the
// repository's potentials/params (OTFGP_SOURCE_DIR) and the installed
// share/otfgp/potentials (OTFGP_DATA_DIR).
std::vector<std::filesystem::path> parameter_search_directories();

struct ParameterFileLocation {
  std::filesystem::path path;  // the file to open
  // What a spec should say to find it again: the bare name when it was found
  // on the search path, else the absolute path.
  std::string spec_argument;
};

// For a spec read from a config file (`config_dir` its folder, else empty):
// the file in the config's folder as file_beside_config says
// (core/spec_arguments.hpp). Otherwise `name` itself when it exists (absolute,
// or relative to the working directory), else, for a bare file name, the first
// search directory holding it. Throws otfgp::MissingFileError naming owner
// (e.g. "eam/alloy") and every place looked at, as paths.
ParameterFileLocation find_parameter_file(const std::string& name, const std::string& owner,
                                          const std::filesystem::path& config_dir);

// Line-oriented reading with the rules LAMMPS applies to potential files:
// '#' starts a comment, blank lines are skipped, a table of n numbers is read
// from as many lines as it needs, starting on a fresh line, and a "UNITS:" tag
// on the first line other than metal is an error.
class ParameterFileReader {
 public:
  ParameterFileReader(const std::filesystem::path& path, std::string owner);

  // Skips one physical line whatever it holds (header comment lines of EAM files).
  void skip_line();
  // Words of the next line that has any; throws naming `what` at end of file.
  std::vector<std::string> next_words(const std::string& what);
  // Next non-blank line; false at end of file.
  bool next_words(std::vector<std::string>& words);
  // n numbers (1-based: values[1..n], values[0] unused, as LAMMPS's tables).
  // A line that holds more numbers than the table still needs is an error.
  std::vector<double> next_table(int n, const std::string& what);

  double to_number(const std::string& word, const std::string& what) const;
  int to_integer(const std::string& word, const std::string& what) const;
  // "owner: path line N: " for messages, N the line last read.
  std::string where() const;
  // 1-based number of the line last read (0 before the first).
  int line_number() const { return static_cast<int>(next_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::string owner_;
  std::vector<std::string> lines_;
  std::size_t next_ = 0;
};

}  // namespace otfgp
