#pragma once
// Parameter files by content: a resumed or continued run compares what the
// files hold, so a file edited under its name is noticed.

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

// Settings texts ("key: value" lines) and their file lines, those whose key
// starts with `prefix` ("oracle.files.", "potential.files."): the text
// without them, and `now` as a `recorded` text is to be compared with —
// without its file lines when the record holds none (a build before
// 2026-12-02 kept none; the caller warns that contents go uncompared), else
// as it is.
std::string without_file_lines(const std::string& settings, const std::string& prefix);
std::string file_lines_as_recorded(const std::string& recorded, const std::string& now,
                                   const std::string& prefix);

}  // namespace otfgp
