#include "parameter_file.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "otfgp/core/error.hpp"
#include "otfgp/core/spec_arguments.hpp"

namespace otfgp {

namespace fs = std::filesystem;

std::vector<fs::path> parameter_search_directories() {
  std::vector<fs::path> directories;
  if (const char* lammps = std::getenv("LAMMPS_POTENTIALS"); lammps && *lammps)
    directories.emplace_back(lammps);
  directories.emplace_back("/usr/share/lammps/potentials");
  directories.emplace_back(fs::path(OTFGP_SOURCE_DIR) / "potentials" / "params");
#ifdef OTFGP_DATA_DIR
  directories.emplace_back(fs::path(OTFGP_DATA_DIR) / "potentials");
#endif
  return directories;
}

ParameterFileLocation find_parameter_file(const std::string& name, const std::string& owner,
                                          const fs::path& config_dir) {
  if (name.empty()) throw Error(owner + ": no parameter file given");
  std::error_code ignored;
  fs::path given(name);
  // The config's folder is looked at first, and named first when nothing is found.
  std::string config_folder;
  if (const auto beside = file_beside_config(name, config_dir))
    given = *beside;
  else if (!config_dir.empty() && given.is_relative())
    config_folder = fs::absolute(config_dir / given).lexically_normal().string();
  if (fs::is_regular_file(given, ignored))
    return {fs::absolute(given), fs::absolute(given).string()};
  if (fs::is_directory(given, ignored))
    throw Error(owner + ": '" + name + "' is a directory, not a parameter file");
  // Every place looked at, in order, as a path the reader can check.
  std::string tried =
      config_folder.empty() ? std::string() : config_folder + " (the config's folder), ";
  tried += fs::absolute(given).lexically_normal().string();
  if (given.is_relative() && !given.has_parent_path()) {
    for (const auto& directory : parameter_search_directories()) {
      const fs::path candidate = directory / given;
      if (fs::is_regular_file(candidate, ignored)) return {candidate, name};
      tried += ", " + candidate.string();
    }
  } else if (given.is_relative()) {
    tried += " (a name with a folder is not looked up in the parameter folders)";
  }
  throw MissingFileError(owner + ": cannot find the parameter file '" + name + "': looked at " +
                         tried);
}

ParameterFileReader::ParameterFileReader(const fs::path& path, std::string owner)
    : path_(path), owner_(std::move(owner)) {
  std::ifstream in(path);
  if (!in) throw Error(owner_ + ": cannot open '" + path.string() + "'");
  std::string line;
  while (std::getline(in, line)) lines_.push_back(line);
  // LAMMPS's PotentialFileReader honours a "UNITS:" tag on the first line; we read metal only.
  if (!lines_.empty()) {
    if (const auto tag = lines_[0].find("UNITS:"); tag != std::string::npos) {
      std::istringstream rest(lines_[0].substr(tag + 6));
      std::string units;
      rest >> units;
      if (units != "metal")
        throw Error(owner_ + ": " + path_.string() + " line 1: the file is in LAMMPS '" + units +
                    "' units; only metal units (eV, Å) are supported");
    }
  }
}

std::string ParameterFileReader::where() const {
  return owner_ + ": " + path_.string() + " line " + std::to_string(next_) + ": ";
}

void ParameterFileReader::skip_line() {
  if (next_ >= lines_.size())
    throw Error(owner_ + ": " + path_.string() + " ends inside its header");
  ++next_;
}

bool ParameterFileReader::next_words(std::vector<std::string>& words) {
  while (next_ < lines_.size()) {
    std::string line = lines_[next_++];
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream stream(line);
    words.clear();
    for (std::string word; stream >> word;) words.push_back(word);
    if (!words.empty()) return true;
  }
  return false;
}

std::vector<std::string> ParameterFileReader::next_words(const std::string& what) {
  std::vector<std::string> words;
  if (!next_words(words))
    throw Error(owner_ + ": " + path_.string() + " ends where " + what + " was expected");
  return words;
}

std::vector<double> ParameterFileReader::next_table(int n, const std::string& what) {
  std::vector<double> values(static_cast<std::size_t>(n) + 1, 0.0);
  int filled = 0;
  std::vector<std::string> words;
  while (filled < n) {
    if (!next_words(words))
      throw Error(owner_ + ": " + path_.string() + " ends after " + std::to_string(filled) +
                  " of the " + std::to_string(n) + " values of " + what);
    if (static_cast<int>(words.size()) > n - filled)
      throw Error(where() + std::to_string(words.size()) + " values where " + what +
                  " needs only " + std::to_string(n - filled) + " more");
    for (const auto& word : words) values[++filled] = to_number(word, what);
  }
  return values;
}

double ParameterFileReader::to_number(const std::string& word, const std::string& what) const {
  errno = 0;
  char* end = nullptr;
  // Underflow (ERANGE with a tiny result) is fine: tables hold values like 1e-320.
  const double value = std::strtod(word.c_str(), &end);
  if (word.empty() || *end != '\0' || !std::isfinite(value))
    throw Error(where() + "'" + word + "' is not a number (" + what + ")");
  return value;
}

int ParameterFileReader::to_integer(const std::string& word, const std::string& what) const {
  errno = 0;
  char* end = nullptr;
  const long value = std::strtol(word.c_str(), &end, 10);
  if (word.empty() || *end != '\0' || errno == ERANGE || value < -2147483647L ||
      value > 2147483647L)
    throw Error(where() + "'" + word + "' is not an integer (" + what + ")");
  return static_cast<int>(value);
}

}  // namespace otfgp
