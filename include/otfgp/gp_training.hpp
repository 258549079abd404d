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

#include "otfgp/hyperparameter_optimizer.hpp"
#include "otfgp/sparse_gp.hpp"
#include "otfgp/sparse_selection.hpp"

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
};

struct GpTrainingReport {
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
