#pragma once
// One check, made by every verb before it writes anything: no output file may
// be an input file or another output, after resolving relative paths, `..`,
// symbolic links and hard links. A collision is an otfgp::Error naming both
// roles, so a typo can never interleave two outputs or replace an input.

#include <filesystem>
#include <string>
#include <vector>

namespace otfgp {

struct NamedPath {
  std::string role;  // how the user gave it: "-o", "--summary", "trajectory_file", …
  std::filesystem::path path;
};

// Empty paths are skipped (an output that is not asked for).
void check_output_paths(const std::vector<NamedPath>& inputs,
                        const std::vector<NamedPath>& outputs);

// For folders a verb empties before filling them (search's top/, otf's
// checkpoint/): no input may lie in `folder` (or be it), nor contain it.
void check_inputs_outside_folder(const std::vector<NamedPath>& inputs, const NamedPath& folder);

// Names (of files found in an output folder) for an error: the first 12,
// comma-separated, then "and N more".
std::string listed_names(const std::vector<std::string>& names);

// The file a potential spec reads ("sw:/path/Si.sw" → /path/Si.sw, "gp:model.h5,mapped=no"
// → model.h5), or an empty path when the spec names no existing file.
std::filesystem::path potential_spec_file(const std::string& spec);

}  // namespace otfgp
