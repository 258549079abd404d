#include "otfgp/search/search_folder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "otfgp/core/error.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/output_lock.hpp"
#include "otfgp/core/output_paths.hpp"

namespace otfgp::search {

namespace {

namespace fs = std::filesystem;

// The files a search writes at the top of its folder, and the folders it
// writes with the names of their entries (search_report.cpp, search.cpp's
// recheck, active_learning.cpp).
bool own_file(const std::string& name) {
  static const std::regex own(
      R"(checkpoint\.json|ranking\.(txt|csv)|summary\.json|minima\.xyz|best_enthalpy\.png|)"
      R"(energy_volume\.png|training\.(h5|xyz)|model-\d+\.h5|factors-\d+\.h5)");
  return std::regex_match(name, own) || is_temporary_name(name);
}
const std::regex* own_folder_entries(const std::string& name) {
  static const std::regex top(R"(rank\d+_candidate\d+\.(vasp|xyz|cif))");
  static const std::regex recheck(R"(candidate\d+)");
  static const std::regex oracle(R"(call\d+)");
  if (name == "top") return &top;
  if (name == "recheck") return &recheck;
  if (name == "oracle") return &oracle;
  return nullptr;
}

// The entries of `folder` a search does not write (relative paths, sorted).
std::vector<std::string> foreign_entries(const fs::path& folder) {
  std::vector<std::string> foreign;
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (name == OutputLock::folder_file_name()) continue;
    if (const std::regex* inner = entry.is_directory() ? own_folder_entries(name) : nullptr) {
      for (const auto& item : fs::directory_iterator(entry.path())) {
        const std::string item_name = item.path().filename().string();
        if (!std::regex_match(item_name, *inner) && !is_temporary_name(item_name))
          foreign.push_back(name + "/" + item_name);
      }
      continue;
    }
    if (entry.is_directory() || !own_file(name)) foreign.push_back(name);
  }
  std::sort(foreign.begin(), foreign.end());
  return foreign;
}

}  // namespace

bool check_fresh_search_folder(const fs::path& folder) {
  std::error_code error;
  if (!fs::is_directory(folder, error)) return false;
  const auto refuse = [&](const std::vector<std::string>& names, const std::string& what) {
    throw Error("output folder '" + folder.string() + "' holds " + what + ": " +
                listed_names(names) +
                "; a fresh search would overwrite or delete them: give another output folder "
                "(-o or output:), or move them away");
  };
  const std::vector<std::string> foreign = foreign_entries(folder);
  if (!foreign.empty()) refuse(foreign, "files a search does not write");
  const fs::path checkpoint = folder / "checkpoint.json";
  if (!fs::exists(checkpoint, error)) {
    // A search writes its checkpoint before any other output: files of a
    // search's names without one are not a search's (a summary.json of one's own).
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder))
      if (entry.path().filename() != OutputLock::folder_file_name())
        names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    if (!names.empty()) refuse(names, "files and no search checkpoint (checkpoint.json)");
    return false;
  }
  std::string phase;
  long steps = 0;
  try {
    const nlohmann::json state = nlohmann::json::parse(std::ifstream(checkpoint));
    phase = state.at("phase").get<std::string>();
    steps = state.at("total_steps").get<long>();
  } catch (const nlohmann::json::exception& failure) {
    throw Error("output folder '" + folder.string() + "': unreadable checkpoint.json (" +
                failure.what() + "); delete the folder, or give another output folder");
  }
  if (phase != "done")
    throw Error(
        fmt::format("output folder '{}' holds an unfinished search (checkpoint.json at "
                    "phase '{}', {} optimisation steps): --resume continues it; to start "
                    "over, delete the folder or give another output folder",
                    folder.string(), phase, steps));
  return true;
}

void remove_search_outputs(const fs::path& folder) {
  std::error_code error;
  if (!fs::is_directory(folder, error)) return;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.path().filename() != OutputLock::folder_file_name()) fs::remove_all(entry.path());
}

}  // namespace otfgp::search
