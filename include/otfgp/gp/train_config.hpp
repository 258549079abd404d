#pragma once
// The settings of `otfgp train` (train.yaml; every key in docs/gp.md), read
// through the shared ConfigSection: an unknown or misspelled key, a wrong type,
// an invalid value or a key that does not apply (sparse.threshold with method
// random, bounds with optimize: false) is an otfgp::Error naming the file, the
// key and its line.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "otfgp/core/config.hpp"
#include "otfgp/gp/b2_descriptor.hpp"
#include "otfgp/gp/kernel.hpp"
#include "otfgp/gp/training.hpp"

namespace otfgp {

struct GpTrainConfig {
  B2Settings descriptor;  // species filled from the data when the config names none
  int kernel_power = 2;
  // kernel.two_body: the weight w of the kernel's two-body part (kernel.hpp;
  // turns on the descriptor's two_body block); 0: none. With two_body_auto
  // (`two_body: auto`), w is chosen by the marginal likelihood when training.
  double two_body_weight = 0.0;
  bool two_body_auto = false;
  // kernel.three_body: the weight w₃ of the kernel's three-body part (kernel.hpp);
  // 0: none.
  double three_body_weight = 0.0;
  GpTrainingSettings training;
  // True while sparse.count is not given: train_sparse_gp then takes
  // auto_sparse_count(species, frames) atoms per frame.
  bool sparse_count_auto = true;
  // Given per atomic number; fitted when empty.
  std::map<int, double> reference_energies;
};

// Defaults for every key, species from `data_species` (atomic numbers). The
// descriptor's defaults depend on the number of species S (docs/gp.md
// "Defaults", measured in docs/BENCHMARKS.md "Training defaults"): one species
// n_max 8, l_max 3 (D = 144); two n_max 6, l_max 3 (D = 312); three or more
// an embedding of two channels (elements, contrast 1) with n_max 4, l_max 4
// (D = 180 for any S). Sparse selection: uncertain, auto_sparse_count atoms
// per frame.
GpTrainConfig default_gp_train_config(const std::vector<int>& data_species);
// The default sparse.count (atoms per frame) for `species` species and
// `frames` training frames: 10 per species, but no more than gives 600 per
// species over all frames, and at least one per species.
int auto_sparse_count(int species, int frames);
// Reads a config file over the defaults. `data_species` are the elements of
// the training data, which the config's species (if any) must include.
GpTrainConfig read_gp_train_config(const std::filesystem::path& path,
                                   const std::vector<int>& data_species);
GpTrainConfig parse_gp_train_config(const std::string& text, const std::string& source,
                                    const std::vector<int>& data_species);
// The same from a section of a larger config (the `model:` section of
// `otfgp otf`): exactly the keys of a train.yaml.
GpTrainConfig read_gp_train_config(ConfigSection section, const std::vector<int>& data_species);

// What a config builds, shared by `otfgp train` and the on-the-fly loop: the
// B2 descriptor, the kernel, and the training settings with the given
// reference energies (if any) in descriptor-species order.
std::shared_ptr<const B2Descriptor> make_gp_descriptor(const GpTrainConfig& config);
std::shared_ptr<const Kernel> make_gp_kernel(const GpTrainConfig& config);
GpTrainingSettings gp_training_settings(const GpTrainConfig& config);
// A sparse GP trained on `frames` as the config says (the descriptor, kernel
// and settings above); see train_sparse_gp in training.hpp. With
// `two_body: auto` the two-body weight w is chosen by the marginal likelihood
// (choose_two_body_weight) and the model of the chosen w is returned.
SparseGp train_sparse_gp(const GpTrainConfig& config, const std::vector<Structure>& frames,
                         GpTrainingReport* report = nullptr);

// One candidate of the two-body weight scan: w and the log marginal
// likelihood of the model trained with it (hyperparameters optimised when the
// config says so).
struct TwoBodyWeightTrial {
  double weight = 0.0;
  double log_likelihood = 0.0;
  GpHyperparameters hyperparameters;  // as trained (optimised when the config says so)
};
// The scan behind `two_body: auto`: a profile of the marginal likelihood over
// w. The scale w₀ = 1/⟨|q|²⟩ over the training atoms' two-body blocks makes
// the two parts' prior variances equal; the candidates are w₀·10^k for
// k = −3 … 1, then w₀·10^(k*±½) around the best k*. Every candidate trains the
// whole model, so this costs 7 trainings. The likelihood counts every label
// alike, so with many more force than energy labels it may prefer a w that
// fits the forces and leaves the energies to a large fitted energy noise
// (measured on CuNi, docs/BENCHMARKS.md): a warning says so when the chosen
// trial's energy noise exceeds 10× the smallest of the trials'. Returns the trials in the order
// tried and leaves the model with the highest likelihood in `best` (and its
// training report in `report`). Throws otfgp::Error when the frames have no
// pairs within the cutoff or no candidate gives a finite likelihood.
std::vector<TwoBodyWeightTrial> choose_two_body_weight(const GpTrainConfig& config,
                                                       const std::vector<Structure>& frames,
                                                       std::optional<SparseGp>& best,
                                                       GpTrainingReport* report = nullptr);
// One log line: species, descriptor size, kernel, sparse selection.
std::string describe_gp_config(const GpTrainConfig& config);

}  // namespace otfgp
