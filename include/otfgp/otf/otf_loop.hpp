#pragma once
// The on-the-fly active-learning loop (`otfgp otf`): MD runs on the GP; every
// check_interval steps the per-atom uncertainty is computed, and when its
// largest value exceeds std_threshold (and min_steps_between_calls passed) the
// frame goes to the oracle; the labelled frame is appended to the training
// database, its least represented atoms join the sparse set, the model is
// updated incrementally (hyperparameters on a schedule), remapped, and MD
// continues from the same state. The first frame of the run is always labelled.
//
// Nothing an oracle produced is lost: frames are on disk before they are used,
// and after every update the model, the MD state and the loop state are
// checkpointed atomically (output/checkpoint/state.json, written last, names
// the model and MD files of that moment). `resume` continues after a kill at
// any point: MD replays from the checkpoint, and frames the database already
// holds are taken from it instead of calling the oracle again (a frame whose
// call was in flight is labelled anew). See docs/otf.md.

#include <nlohmann/json.hpp>

#include "otfgp/md/engine.hpp"
#include "otfgp/otf/otf_config.hpp"

namespace otfgp::otf {

inline constexpr int checkpoint_format_version = 2;

// Runs (or, with `resume`, continues) the loop the config describes. Writes
// everything under config.output; returns the summary also written to
// output/summary.json. `progress` (may be null) observes the MD of each stage.
// A fresh run refuses an output folder holding files it did not write and
// removes an earlier run's outputs first (output_folder.hpp); --resume refuses
// a config whose md: or model: settings the checkpoint depends on differ,
// naming the key. Both refusals leave the folder as it was. Once the run has
// begun, a failure writes summary.json with "finished": false and "error"
// before the exception goes on; SIGINT/SIGTERM (under the InterruptGuard the
// loop holds) stop it with a checkpoint in MD, or keeping the last one inside
// an oracle call, write summary.json with "interrupted", and throw
// InterruptedError saying to continue with --resume.
nlohmann::json run_otf(const OtfConfig& config, bool resume, md::StepObserver* progress = nullptr);

}  // namespace otfgp::otf
