#pragma once
// The output folder of `otfgp otf` (docs/otf.md "Outputs"): the names the loop
// writes there, how an earlier run's folder is recognised, and what a fresh
// run removes. The loop never removes or overwrites a file it did not write: a
// fresh run into a folder holding other files is refused, naming them.

#include <filesystem>
#include <string>
#include <vector>

namespace otfgp::otf {

// The files the loop writes at the top of its output folder (besides the
// folders checkpoint/ and oracle/).
const std::vector<std::string>& otf_output_files();

// The outputs of a finished run (model.h5, summary.json, the plots): a run in
// progress, interrupted or failed has none of them, so that the folder never
// shows an earlier run's model as its result (summary.json is written again,
// with "finished": false, when the run stops).
const std::vector<std::string>& otf_final_outputs();

// Whether a file name in checkpoint/ is one the loop writes (state.json, the
// numbered model, factor-block and MD-state files, and their temporaries).
bool is_checkpoint_file(const std::string& name);

// True when `folder` holds an otf run: its training.h5 is an otfgp training
// database (the file a fresh run creates first and an earlier run's removal
// deletes last), or one a killed append left unreadable beside its
// training.xyz mirror.
bool holds_otf_run(const std::filesystem::path& folder);

// True when `folder` holds an otf run (holds_otf_run) whose summary.json does
// not say "finished": true — stopped, failed or killed, its frames and
// checkpoint are what --resume continues from.
bool holds_unfinished_otf_run(const std::filesystem::path& folder);

// The entries of `folder` (relative paths, sorted) that the loop does not
// write; checkpoint/ and oracle/ are looked into.
std::vector<std::string> foreign_entries(const std::filesystem::path& folder);

// Before a run writes into `folder` without a checkpoint to continue (a fresh
// run, or --resume that finds none): throws otfgp::Error naming the folder and
// the files when it holds files the loop did not write, or holds files at all
// without being an otf run's folder. A missing or empty folder is fine; that
// it is no file, nor under one, read_otf_config checked.
void check_output_folder(const std::filesystem::path& folder);

// Removes an earlier run's outputs (every file of otf_output_files(), the
// temporaries of killed writes, checkpoint/, oracle/): the training database
// last, so that a removal cut short still leaves the folder recognisable.
// Call check_output_folder first.
void remove_earlier_run(const std::filesystem::path& folder);

// Removes otf_final_outputs() (when present).
void remove_final_outputs(const std::filesystem::path& folder);

}  // namespace otfgp::otf
