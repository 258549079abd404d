#pragma once
// The on-the-fly loop's force-uncertainty calibration. Every frame the MD sends
// to the oracle is, before the model learns it, a held-out test of that model:
// its per-atom normalised local-energy std n = u/σ, predicted |F| and force
// error are kept, and the calibration σ_F² = (a n)² + b² + (c|F|)² of
// fit_force_uncertainty (gp/training.hpp) is refitted after each call. Frames
// are kept per group (the otf loop's stages): the last `window` of each, so
// that σ_F, which the model carries to eval and md, is fitted over every
// composition and condition the run labelled, not only the latest stage's (a
// window of the last stage alone, where the model was poor, gave σ_F of 6 eV/Å
// to the atoms of an earlier stage it fitted to 0.3; docs/otf.md "Online
// calibration"). The normalised std is kept, not u in eV, because σ changes
// whenever the hyperparameters are re-optimised while n does not depend on σ:
// samples from before and after stay comparable. The loop's trigger is a model
// part a′·n (eV/Å), the force error more data removes, with a′ from a second
// fit on the latest `window` frames (any group) without the |F| term,
// σ² = (a′ n)² + b′²: an underfit model's errors grow with |F|, and with c
// free the fit gives the std nothing (a → 0) even where n does rank the errors
// across frames (docs/otf.md "When the oracle is called"). a′ is bounded below
// by the force scale, so that a window in which n ranks nothing cannot silence
// the trigger.

#include <algorithm>
#include <deque>

#include <nlohmann/json.hpp>

#include "otfgp/gp/training.hpp"

namespace otfgp::otf {

class OnlineCalibration {
 public:
  OnlineCalibration(int min_frames, int window) : min_frames_(min_frames), window_(window) {}

  // Adds the samples of one frame of `group`, `energy_std` holding the
  // normalised std n (dropping the group's oldest frame beyond the window),
  // and refits once at least min_frames frames are held in all.
  void add(ForceErrorSample frame, int group = 0);
  // The frame (with forces; descriptors with gradients computed already) tests
  // `gp` before it learns it: its normalised sample is added. Returns the
  // model's force error |F_i − F̂_i| per atom (eV/Å), empty without forces
  // (force_rmse gives the component RMSE).
  // `trigger_std`, when given (one n per atom), replaces the model's exact n:
  // the std the caller's trigger saw on this frame (a truncated variance,
  // otf.variance_rank), so that the fit maps that std to the errors.
  Eigen::VectorXd test(const SparseGp& gp, const Structure& frame, const DescriptorValues& values,
                       int group = 0, const Eigen::VectorXd* trigger_std = nullptr);
  bool ready() const { return calibration_.valid(); }
  // a in eV/Å per unit of n.
  const ForceUncertaintyCalibration& calibration() const { return calibration_; }
  // The same for u = σ n in eV (a/σ per eV), the form the GP potential applies.
  ForceUncertaintyCalibration for_signal_std(double signal_std) const;
  // The trigger's scale (eV/Å per unit of n): a′ of the fit without the |F|
  // term on the latest `window` frames, but at least the per-component RMS of
  // their predicted forces (the error an environment unlike any seen, n = 1,
  // may have).
  double trigger_scale() const { return std::max(fitted_trigger_scale_, trigger_scale_floor_); }
  double fitted_trigger_scale() const { return fitted_trigger_scale_; }
  bool trigger_scale_at_floor() const { return trigger_scale_floor_ > fitted_trigger_scale_; }
  int frames() const { return static_cast<int>(frames_.size()); }

  // Exact round trip (shortest decimal form of every double), for checkpoints.
  nlohmann::json to_json() const;
  void restore(const nlohmann::json& state);  // throws otfgp::Error when malformed

 private:
  void fit();

  int min_frames_;
  int window_;
  struct Frame {
    ForceErrorSample sample;
    int group;
  };
  std::deque<Frame> frames_;  // in the order they were added
  ForceUncertaintyCalibration calibration_;
  double fitted_trigger_scale_ = 0.0;
  double trigger_scale_floor_ = 0.0;
};

// The force-component RMSE (eV/Å) from per-atom error norms |ΔF_i| (what
// OnlineCalibration::test returns); NaN for none.
double force_rmse(const Eigen::VectorXd& atom_error);

// Whether the largest per-atom normalised std flags a novel atom: the GP
// potential raises a novel atom's std to σ (normalised std 1), which no atom
// the training data covers reaches. The otf loop's relax stages and the
// search's active learning stop on it.
inline bool novel_std(double largest_normalised) {
  return largest_normalised >= 1.0 - 1e-9;
}

}  // namespace otfgp::otf
