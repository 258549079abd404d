#include "otfgp/otf/online_calibration.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "otfgp/core/error.hpp"

namespace otfgp::otf {

void OnlineCalibration::add(ForceErrorSample frame, int group) {
  if (frame.energy_std.empty()) return;
  frames_.push_back({std::move(frame), group});
  const auto in_group = [group](const Frame& f) { return f.group == group; };
  if (std::count_if(frames_.begin(), frames_.end(), in_group) > window_)
    frames_.erase(std::find_if(frames_.begin(), frames_.end(), in_group));
  fit();
}

Eigen::VectorXd OnlineCalibration::test(const SparseGp& gp, const Structure& frame,
                                        const DescriptorValues& values, int group,
                                        const Eigen::VectorXd* trigger_std) {
  if (!frame.forces) return {};
  if (trigger_std && trigger_std->size() != frame.size())
    throw Error("force-std calibration: " + std::to_string(trigger_std->size()) +
                " trigger stds for a frame of " + std::to_string(frame.size()) + " atoms");
  ForceErrorSample sample;
  add_force_errors(sample, gp, frame, values, 0.05, trigger_std);
  Eigen::VectorXd atom_error(frame.size());
  for (int i = 0; i < frame.size(); ++i) atom_error[i] = sample.error[i].norm();
  if (!trigger_std) {
    for (double& u : sample.energy_std) u /= gp.hyperparameters().signal_std;
    for (double& v : sample.neighbour_std) v /= gp.hyperparameters().signal_std;
  }
  add(std::move(sample), group);
  return atom_error;
}

double force_rmse(const Eigen::VectorXd& atom_error) {
  if (atom_error.size() == 0) return std::numeric_limits<double>::quiet_NaN();
  return std::sqrt(atom_error.squaredNorm() / (3.0 * atom_error.size()));
}

namespace {

// The samples of frames[first …] in one (species and neighbour stds left out
// where a frame restored from an older checkpoint lacks them).
template <class Frames>
ForceErrorSample pooled(const Frames& frames, std::size_t first) {
  ForceErrorSample all;
  for (std::size_t k = first; k < frames.size(); ++k) {
    const ForceErrorSample& f = frames[k].sample;
    all.energy_std.insert(all.energy_std.end(), f.energy_std.begin(), f.energy_std.end());
    all.force_norm.insert(all.force_norm.end(), f.force_norm.begin(), f.force_norm.end());
    all.error.insert(all.error.end(), f.error.begin(), f.error.end());
    all.species.insert(all.species.end(), f.species.begin(), f.species.end());
    all.neighbour_std.insert(all.neighbour_std.end(), f.neighbour_std.begin(),
                             f.neighbour_std.end());
  }
  if (all.species.size() != all.energy_std.size()) all.species.clear();
  if (all.neighbour_std.size() != all.energy_std.size()) all.neighbour_std.clear();
  return all;
}

}  // namespace

void OnlineCalibration::fit() {
  if (frames() < min_frames_) return;
  const ForceErrorSample all = pooled(frames_, 0);
  if (all.energy_std.size() < 10) return;
  calibration_ = fit_force_uncertainty(all, frames());
  // The trigger asks whether the current MD needs a label: its scale comes
  // from the latest `window` frames (whatever their stage), those of the
  // regime the MD is in. Every stage's frames would tie the std to errors
  // across stages the model learnt apart (a B-C-N campaign then called 178
  // times instead of 100, 30 minutes instead of 2, for a 15 % smaller error
  // on the stages it could not fit).
  const std::size_t first = frames_.size() > std::size_t(window_) ? frames_.size() - window_ : 0;
  const ForceErrorSample recent = first > 0 ? pooled(frames_, first) : ForceErrorSample();
  const ForceErrorSample& latest = recent.energy_std.size() >= 10 ? recent : all;
  fitted_trigger_scale_ = fit_force_uncertainty(latest, frames(), false).pooled.energy_scale;
  // n = 1 is an environment the model knows nothing of: its force may be off
  // by as much as the forces themselves. A fit that ties no error to n (a few
  // similar frames, e.g. the warm-up of a small cluster) would otherwise give
  // a′ → 0 and silence the trigger for the rest of the run.
  double squared = 0.0;
  for (double f : latest.force_norm) squared += f * f / 3.0;
  trigger_scale_floor_ = std::sqrt(squared / static_cast<double>(latest.force_norm.size()));
}

ForceUncertaintyCalibration OnlineCalibration::for_signal_std(double signal_std) const {
  ForceUncertaintyCalibration c = calibration_;
  c.pooled.energy_scale /= signal_std;
  c.pooled.neighbour_scale /= signal_std;
  for (ForceStdTerms& t : c.species) {
    t.energy_scale /= signal_std;
    t.neighbour_scale /= signal_std;
  }
  return c;
}

nlohmann::json OnlineCalibration::to_json() const {
  nlohmann::json frames = nlohmann::json::array();
  for (const auto& [f, group] : frames_) {
    nlohmann::json error = nlohmann::json::array();
    for (const Eigen::Vector3d& e : f.error) error.push_back({e[0], e[1], e[2]});
    frames.push_back({{"energy_std", f.energy_std},
                      {"force_norm", f.force_norm},
                      {"error", error},
                      {"species", f.species},
                      {"neighbour_std", f.neighbour_std},
                      {"group", group}});
  }
  return frames;
}

void OnlineCalibration::restore(const nlohmann::json& state) {
  frames_.clear();
  calibration_ = {};
  fitted_trigger_scale_ = trigger_scale_floor_ = 0.0;
  try {
    for (const auto& f : state) {
      ForceErrorSample sample;
      sample.energy_std = f.at("energy_std").get<std::vector<double>>();
      sample.force_norm = f.at("force_norm").get<std::vector<double>>();
      for (const auto& e : f.at("error")) {
        const auto v = e.get<std::vector<double>>();
        if (v.size() != 3) throw Error("a force error is not 3 numbers");
        sample.error.emplace_back(v[0], v[1], v[2]);
      }
      if (f.contains("species")) sample.species = f.at("species").get<std::vector<int>>();
      if (f.contains("neighbour_std"))
        sample.neighbour_std = f.at("neighbour_std").get<std::vector<double>>();
      if (sample.force_norm.size() != sample.energy_std.size() ||
          sample.error.size() != sample.energy_std.size() ||
          (!sample.species.empty() && sample.species.size() != sample.energy_std.size()) ||
          (!sample.neighbour_std.empty() &&
           sample.neighbour_std.size() != sample.energy_std.size()))
        throw Error("arrays of different lengths");
      for (int s : sample.species)
        if (s < 0) throw Error("a negative species index");
      // Checkpoints written before the window was kept per group: one group
      // of their own (-1), which no later frame joins.
      frames_.push_back({std::move(sample), f.value("group", -1)});
    }
  } catch (const nlohmann::json::exception& error) {
    throw Error(std::string("calibration sample: ") + error.what());
  }
  fit();
}

}  // namespace otfgp::otf
