#include "otfgp/core/file_fingerprint.hpp"

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "otfgp/core/fnv1a.hpp"

namespace otfgp {

std::string content_fingerprint(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return "missing " + file.string();
  std::uint64_t state = fnv1a_offset;
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0)
    state = fnv1a(buffer, static_cast<std::size_t>(in.gcount()), state);
  return fmt::format("content fnv1a64 {:016x}", state);
}

std::vector<std::pair<std::string, std::filesystem::path>> named_files(
    const std::vector<std::filesystem::path>& files) {
  std::vector<std::pair<std::string, std::filesystem::path>> named;
  std::map<std::string, int> seen;
  std::set<std::filesystem::path> paths;
  for (const auto& file : files) {
    if (!paths.insert(file.lexically_normal()).second) continue;  // named twice: one line
    const std::string name = file.filename().string();
    const int n = ++seen[name];
    named.emplace_back("files." + name + (n > 1 ? "#" + std::to_string(n) : ""), file);
  }
  return named;
}

std::string without_file_lines(const std::string& settings, const std::string& prefix) {
  std::istringstream lines(settings);
  std::string line, kept;
  while (std::getline(lines, line))
    if (line.rfind(prefix, 0) != 0) kept += line + "\n";
  return kept;
}

std::string file_lines_as_recorded(const std::string& recorded, const std::string& now,
                                   const std::string& prefix) {
  const bool holds =
      recorded.rfind(prefix, 0) == 0 || recorded.find("\n" + prefix) != std::string::npos;
  return holds ? now : without_file_lines(now, prefix);
}

}  // namespace otfgp
