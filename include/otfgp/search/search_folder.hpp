#pragma once
// The output folder of one search (docs/search.md): what a fresh search may
// write over. A search never overwrites or deletes a file it did not write,
// and does not start over on top of an unfinished search's checkpoint.

#include <filesystem>

namespace otfgp::search {

// Before a fresh search (no --resume, or --resume without a checkpoint)
// writes into `folder`: fine when it is missing or empty (its lock file
// aside); throws otfgp::Error naming the files when it holds any that a
// search does not write, or pointing at --resume when it holds an unfinished
// search (checkpoint.json not at phase "done"), and refusing files without a
// checkpoint (a search writes it first). Returns true when it holds a
// finished search, whose outputs remove_search_outputs then removes.
bool check_fresh_search_folder(const std::filesystem::path& folder);

// Removes every output of a search from `folder` (call
// check_fresh_search_folder first): the lock file stays.
void remove_search_outputs(const std::filesystem::path& folder);

}  // namespace otfgp::search
