#pragma once
// The PNG plots of an `otfgp otf` run, drawn with gnuplot from the CSV files
// the loop wrote in its output directory:
//   uncertainty.png  largest per-atom std vs MD step, oracle calls marked, threshold line
//   learning.png     vs number of oracle calls: the force RMSE of the model on each
//                    newly labelled frame before it learnt it, and the held-out force MAE
//                    (with a held-out set)
//   parity.png       predicted vs reference force components of the final model on the
//                    held-out frames (or, without them, on the training frames)
// A plot that cannot be drawn is a logged warning; the CSV files hold the data.

#include <filesystem>
#include <string>
#include <vector>

#include "otfgp/core/structure.hpp"
#include "otfgp/potentials/potential.hpp"

namespace otfgp::otf {

// `std_label` names the plotted uncertainty and its unit.
void plot_otf_run(const std::filesystem::path& output, const std::string& std_label,
                  const std::vector<Structure>& parity_frames, Potential& model);

}  // namespace otfgp::otf
