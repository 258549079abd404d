#pragma once
// Parameter files by content: a resumed or continued run compares what the
// files hold, not the path text, so a file edited under its name is noticed
// and a moved one is not.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace otfgp {

// "content fnv1a64 HEX" of the file's bytes ("missing PATH" when it cannot be read).
std::string content_fingerprint(const std::filesystem::path& file);

// A settings key per file: "files.NAME", NAME the file's name ("files.NAME#2"
// for a second file of that name; a path given twice counts once).
std::vector<std::pair<std::string, std::filesystem::path>> named_files(
    const std::vector<std::filesystem::path>& files);

}  // namespace otfgp
