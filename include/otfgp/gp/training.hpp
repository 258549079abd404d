#pragma once
// Training a sparse GP from labelled frames, offline (`otfgp train`) or one
// frame at a time (on the fly).
//
// Offline, the sparse set is chosen first and the frames then stream through
// the factorisation once (O(N·M²)). `uncertain` and `threshold` judge each
// frame's atoms, frame after frame, by how little the sparse set chosen so far
// represents them (SparseGp::least_represented_atoms: a label-free residual
// variance, greedy within the frame). With `replay` they instead replay the
// frames as on the fly — each frame's atoms judged by the DTC uncertainty of
// the model trained on the frames before it — which recomputes the
// descriptors of every earlier frame at every step (O(frames²) descriptor work).

#include <array>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include "otfgp/gp/hyperparameter_optimizer.hpp"
#include "otfgp/gp/sparse_gp.hpp"
#include "otfgp/gp/sparse_selection.hpp"

namespace otfgp {

struct GpTrainingSettings {
  GpHyperparameters hyperparameters;
  bool optimize_hyperparameters = true;
  HyperparameterOptimization optimization;
  LabelSelection labels;
  SparseSelection sparse;
  double min_residual = 1e-8;  // see SparseGp::add_sparse_environments
  bool replay = false;         // uncertain/threshold: replay as on the fly (see above)
  // Per descriptor species (eV); fitted by least squares when absent (reference_energies.hpp).
  std::optional<Eigen::VectorXd> reference_energies;
  // Force-uncertainty calibration: this fraction of the frames (every k-th,
  // k = round(1/fraction)) is held out, the model trained on the rest predicts
  // them, the calibration is fitted to its force errors, and the held-out
  // frames then join the model (their sparse atoms chosen as offline and added
  // in one step, then their labels; then the hyperparameters once more).
  // 0: off. Needs at least 5 frames.
  double calibration_holdout = 0.0;
};

struct GpTrainingReport {
  ForceUncertaintyCalibration calibration;  // valid() when calibrated
  int frames = 0;
  int sparse = 0;
  std::array<int, label_kind_count> labels{0, 0, 0};
  Eigen::VectorXd reference_energies;
  double seconds_sparse = 0.0;  // descriptors and sparse columns
  double seconds_frames = 0.0;  // label rows and their factor updates
  double seconds_hyperparameters = 0.0;
  double seconds_total = 0.0;
  std::size_t factor_bytes = 0;  // SparseGp::memory_bytes() at the end
  std::optional<HyperparameterReport> hyperparameters;
};

// Throws otfgp::Error naming the frame (counted from 1) and the atom when a
// frame is inconsistent, carries a non-finite label or has coincident atoms.
void check_training_frames(const std::vector<Structure>& frames);

SparseGp train_sparse_gp(std::shared_ptr<const Descriptor> descriptor,
                         std::shared_ptr<const Kernel> kernel, const std::vector<Structure>& frames,
                         const GpTrainingSettings& settings, GpTrainingReport* report = nullptr);

// Per-atom data of predictions against labelled frames for the force-uncertainty
// calibration: local-energy std (eV, raised to σ for novel atoms as the
// potentials do), |F_pred|, the force error F_pred − F_ref and the atom's
// descriptor species (may be empty: then only the pooled terms are fitted).
struct ForceErrorSample {
  std::vector<double> energy_std;
  std::vector<double> force_norm;
  std::vector<Eigen::Vector3d> error;
  std::vector<int> species;
  // v_i of each atom (mapped_gp.hpp), from the same stds; may be empty (then no g).
  std::vector<double> neighbour_std;
};
// v_i = sqrt(Σ_j w(r_ij) u_j²) for every atom of a frame described with its
// neighbours (describe(frame, true)) by `descriptor`; `energy_std` holds u per
// atom, w is neighbour_std_weight at the pair's cutoff. Throws without neighbours.
Eigen::VectorXd neighbour_energy_std(const DescriptorValues& values,
                                     const Eigen::VectorXd& energy_std,
                                     const Descriptor& descriptor);
// Predicts `frames` (with force labels) with `gp` and collects the samples.
ForceErrorSample force_error_sample(const SparseGp& gp, const std::vector<Structure>& frames,
                                    double novelty_margin = 0.05);
// One frame whose descriptors (with gradients) are computed already; appended to `sample`.
// `energy_std`, when given (one per atom), replaces the model's own u (in its
// units: e.g. a normalised std): the stds some other prediction of the same
// model saw on this frame; the neighbours' v_i are computed once, from
// whichever stds the sample holds.
void add_force_errors(ForceErrorSample& sample, const SparseGp& gp, const Structure& frame,
                      const DescriptorValues& values, double novelty_margin = 0.05,
                      const Eigen::VectorXd* energy_std = nullptr);
// Maximum-likelihood a, b, c of ForceUncertaintyCalibration for the samples,
// with its coverage and Spearman on them. Throws otfgp::Error for fewer than
// 10 atoms. On the fly, each new labelled frame is such a held-out sample for
// the model that has not seen it yet.
// With neighbour stds in the sample, g is fitted too (with `relative_term`).
// With more than one species in the sample, each species with at least
// ForceUncertaintyCalibration::min_species_atoms atoms also gets its own fit.
// Without `relative_term` c is fixed at 0 and only the pooled terms are
// fitted: a·u then has to explain all the error variance above the floor b
// (the on-the-fly trigger's scale, where |F| must not absorb what the std sees).
ForceUncertaintyCalibration fit_force_uncertainty(const ForceErrorSample& sample, int frames,
                                                  bool relative_term = true);
// The calibration's terms, sample size, coverage and Spearman for summary
// files: the scale a under `scale_key` (its units differ between callers), and
// with per-species terms a "species" object keyed by element symbol
// (`elements`: the descriptor's atomic numbers).
nlohmann::json calibration_summary(const ForceUncertaintyCalibration& calibration,
                                   const std::string& scale_key, const std::vector<int>& elements);

// One on-the-fly update: the frame's atoms are judged by the current model,
// the selected ones join the sparse set (new columns on the stored frames),
// then the frame's labels are added (new rows). Returns the atoms added to the
// sparse set.
std::vector<int> add_frame_with_sparse_selection(SparseGp& gp, const Structure& frame,
                                                 const SparseSelection& selection,
                                                 std::mt19937_64& rng,
                                                 const LabelSelection& labels = {},
                                                 double min_residual = 1e-8);

}  // namespace otfgp
