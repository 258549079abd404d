#pragma once
// The GP model file (HDF5, readable with h5py; layout in docs/gp.md): species,
// descriptor settings at full precision, kernel, hyperparameters, reference
// energies, the sparse set and its weights α, the mapped form MD needs (β,
// normalised sparse descriptors, variance factors), and everything needed to
// continue training (the label factors, the solve and the training frames with
// their labels). Written atomically (temporary file, then rename). Loading
// reproduces the saved model's predictions bit for bit.

#include <filesystem>
#include <memory>
#include <string>

#include "otfgp/core/hdf5.hpp"
#include "otfgp/gp/mapped_gp.hpp"
#include "otfgp/gp/sparse_gp.hpp"

namespace otfgp {

// Labelled frames as flat arrays: the layout of a model file's /training group
// and of the on-the-fly training database (otf/training_database.hpp).
struct FrameArrays {
  std::vector<int> natoms, numbers, pbc, labels;
  std::vector<double> positions, cells, energy, forces, stress;

  // The datasets natoms, numbers, positions, cells, pbc, energy, forces,
  // stress, labels_used of `group` (sizes are checked by the caller).
  static FrameArrays read(const hdf5::Group& group);
  // Frame f, whose atoms start at `first_atom`; NaN marks a label it lacks.
  Structure frame(std::size_t f, std::size_t first_atom) const;
  LabelSelection labels_used(std::size_t f) const;
};

// 2: adds /novelty/shortest_pair_distance (computed from /training for version 1)
//    and the optional /calibration group (force-uncertainty calibration).
// 3: adds the optional /descriptor/embedding (species embedding W, channels × species);
//    files without it are species-resolved, as every file of versions 1 and 2.
// 4: adds /descriptor attribute two_body, /kernel attributes two_body_columns and
//    two_body_weight (the kernel's two-body part, kernel.hpp; absent: none), and
//    with it /mapped attribute two_body_weight and /mapped/<El>/two_body, sparse_two_body.
// 5: adds /factors/<kind>/residual (the rest of Qᵀb, growing_qr.hpp), which with
//    the checkpoint's factor journal (factor_journal.hpp) lets a loaded model grow
//    without a rebuild; files without it load as before. Optional /kernel
//    attribute three_body_weight (the kernel's three-body part, kernel.hpp;
//    absent: none) and with it /mapped attribute three_body_weight and
//    /mapped/<El>/three_body, sparse_norm.
// 6: optional /calibration/species_terms (the force std's terms per species);
//    a version-5 reader would apply the pooled terms to every atom instead.
// 7: optional /training/force_noise_scale (one per training atom, the force
//    noise multipliers of LabelSelection; absent: all 1) and /factors attribute
//    force_log_scales (absent: 0); a version-6 reader would drop them and
//    refit those atoms at the plain force noise.
// 8: square triangular and symmetric matrices of 64 rows or more stored packed
//    (hdf5.hpp: the triangle as a vector, dataset attribute `packing`), and
//    no dataset compressed; a version-7 reader would find vectors where it
//    expects matrices.
inline constexpr int gp_model_format_version = 8;

// How one kind of descriptor is written to and read from the model's
// /descriptor group (attribute "type" names it).
class DescriptorFormat {
 public:
  virtual ~DescriptorFormat() = default;
  virtual std::string type() const = 0;
  // Throws otfgp::Error when `descriptor` is not of this format's kind.
  virtual void write(const Descriptor& descriptor, const hdf5::Group& group) const = 0;
  virtual std::shared_ptr<const Descriptor> read(const hdf5::Group& group) const = 0;
};

// The B2 descriptor (b2_descriptor.hpp), the one otfgp trains with.
const DescriptorFormat& b2_descriptor_format();
// B2 settings alone, as stored in a model's /descriptor group.
void write_b2_settings(const B2Settings& settings, const hdf5::Group& group);
B2Settings read_b2_settings(const hdf5::Group& group);

void save_gp_model(const std::filesystem::path& path, const SparseGp& gp,
                   const DescriptorFormat& format = b2_descriptor_format());
// The same without the training frames: /training holds only the attribute
// `external_frames` (their count). The on-the-fly loop keeps its frames in the
// append-only training database, so that a checkpoint never rewrites them.
// Such a file has no /mapped group either (load_gp_model recomputes the mapped
// form from the solve, bit for bit; load_mapped_gp refuses it).
void save_gp_model_without_frames(const std::filesystem::path& path, const SparseGp& gp,
                                  const DescriptorFormat& format = b2_descriptor_format());
// Throws otfgp::Error naming the file and the object for a missing or
// malformed entry, and for a format_version this build does not know.
SparseGp load_gp_model(const std::filesystem::path& path,
                       const DescriptorFormat& format = b2_descriptor_format());
// A model saved without frames, with its frames (and the labels each was
// trained on) from the training database; their count must match.
SparseGp load_gp_model(const std::filesystem::path& path, std::vector<Structure> frames,
                       std::vector<LabelSelection> labels,
                       const DescriptorFormat& format = b2_descriptor_format());
// Only what MD needs (B2 models with a power-2 kernel): reads the descriptor
// settings, σ, reference energies and the /mapped group.
MappedGp load_mapped_gp(const std::filesystem::path& path);
// The kernel named in a model file, to decide how to evaluate it without
// loading everything.
struct GpModelKernel {
  std::string type;  // "normalized_dot_product"
  int power = 2;
  double two_body_weight = 0.0;    // 0: no two-body part
  double three_body_weight = 0.0;  // 0: no three-body part (/kernel attribute, when present)
  bool mapped_form = false;        // the file holds /mapped
  // Whether the model has the mapped form MD evaluates fast (gp_potential.hpp):
  // a power-2 kernel, and a file that holds it (a three-body model written
  // before that part had a mapped form, or a file saved without its frames,
  // holds none).
  bool mappable() const { return mapped_form && type == "normalized_dot_product" && power == 2; }
  std::string description() const;  // e.g. "normalized_dot_product, power 2, two-body weight 1e-4"
};
GpModelKernel gp_model_kernel(const std::filesystem::path& path);

}  // namespace otfgp
