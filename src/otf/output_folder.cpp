#include "otfgp/otf/output_folder.hpp"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "otfgp/core/error.hpp"
#include "otfgp/core/hdf5.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/output_lock.hpp"
#include "otfgp/core/output_paths.hpp"

namespace otfgp::otf {

namespace {

namespace fs = std::filesystem;

bool top_level_file(const std::string& name) {
  for (const std::string& own : otf_output_files())
    if (name == own || is_temporary_name(name, own)) return true;
  return false;
}

bool empty_folder(const fs::path& path) {
  std::error_code error;
  return fs::is_directory(path, error) && fs::is_empty(path, error);
}

std::vector<std::string> entries_of(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) {
    std::string name = entry.path().filename().string();
    // An empty checkpoint/ or oracle/ holds nothing to lose (a run killed
    // before its first file, or a build that made them before the database).
    if ((name == "checkpoint" || name == "oracle") && empty_folder(entry.path())) continue;
    // The lock of the run that is looking (output_lock.hpp).
    if (name == OutputLock::folder_file_name()) continue;
    if (entry.is_directory()) name += "/";
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

bool is_checkpoint_file(const std::string& name) {
  static const std::regex own(
      R"(state\.json|model-\d+\.h5|factors-\d+\.h5|md-stage\d+-step\d+\.h5)");
  return std::regex_match(name, own) || is_temporary_name(name);
}

const std::vector<std::string>& otf_output_files() {
  static const std::vector<std::string> files = {
      "training.h5",     "training.xyz", "model.h5",     "summary.json",
      "uncertainty.csv", "calls.csv",    "held_out.csv", "trajectory.xyz",
      "uncertainty.png", "learning.png", "parity.png"};
  return files;
}

const std::vector<std::string>& otf_final_outputs() {
  static const std::vector<std::string> files = {"model.h5", "summary.json", "uncertainty.png",
                                                 "learning.png", "parity.png"};
  return files;
}

bool holds_otf_run(const fs::path& folder) {
  const fs::path database = folder / "training.h5";
  if (!fs::is_regular_file(database)) return false;
  try {
    const hdf5::File file = hdf5::File::open(database);
    return file.has_attribute("kind") && file.string_attribute("kind") == "otfgp training database";
  } catch (const Error&) {
    // A database a killed append left unreadable: with its extended-XYZ
    // mirror beside it, it is the loop's, and opening it rebuilds it.
    return fs::is_regular_file(folder / "training.xyz");
  }
}

bool holds_unfinished_otf_run(const fs::path& folder) {
  if (!holds_otf_run(folder)) return false;
  try {
    const nlohmann::json summary = nlohmann::json::parse(std::ifstream(folder / "summary.json"));
    return !summary.value("finished", false);
  } catch (const nlohmann::json::exception&) {
    return true;  // no summary (killed), or one cut short
  }
}

std::vector<std::string> foreign_entries(const fs::path& folder) {
  std::vector<std::string> foreign;
  for (const std::string& name : entries_of(folder)) {
    if (name == "checkpoint/") {
      for (const auto& entry : fs::directory_iterator(folder / "checkpoint")) {
        const std::string inner = entry.path().filename().string();
        if (!entry.is_regular_file() || !is_checkpoint_file(inner))
          foreign.push_back("checkpoint/" + inner + (entry.is_directory() ? "/" : ""));
      }
    } else if (name == "oracle/") {
      static const std::regex call(R"(call-\d+-attempt-\d+)");
      for (const auto& entry : fs::directory_iterator(folder / "oracle")) {
        const std::string inner = entry.path().filename().string();
        if (!entry.is_directory() || !std::regex_match(inner, call))
          foreign.push_back("oracle/" + inner + (entry.is_directory() ? "/" : ""));
      }
    } else if (name.back() == '/' || !top_level_file(name)) {
      foreign.push_back(name);
    }
  }
  std::sort(foreign.begin(), foreign.end());
  return foreign;
}

void check_output_folder(const fs::path& folder) {
  std::error_code error;
  if (!fs::exists(folder, error)) return;
  const std::vector<std::string> entries = entries_of(folder);
  if (entries.empty()) return;
  if (!holds_otf_run(folder))
    throw Error("output folder '" + folder.string() +
                "' holds files that otfgp otf did not write (it holds no otf run: no training.h5 "
                "of one): " +
                listed_names(entries) +
                "; a fresh run would overwrite or delete them: give another output folder, or "
                "move them away");
  const std::vector<std::string> foreign = foreign_entries(folder);
  if (!foreign.empty())
    throw Error(
        "output folder '" + folder.string() +
        "' holds an earlier otf run and files otfgp otf did not write: " + listed_names(foreign) +
        "; a fresh run replaces the earlier run and would delete them: move them away, "
        "or give another output folder");
}

void remove_earlier_run(const fs::path& folder) {
  if (!fs::is_directory(folder)) return;
  fs::remove_all(folder / "checkpoint");
  fs::remove_all(folder / "oracle");
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind('.', 0) == 0 && top_level_file(name)) fs::remove(entry.path());
  }
  for (const std::string& name : otf_output_files())
    if (name.rfind("training.", 0) != 0) fs::remove(folder / name);
  // The database last: until it goes, the folder is still recognised as an otf run's.
  fs::remove(folder / "training.xyz");
  fs::remove(folder / "training.h5");
}

void remove_final_outputs(const fs::path& folder) {
  for (const std::string& name : otf_final_outputs()) fs::remove(folder / name);
}

}  // namespace otfgp::otf
