#pragma once
// The sparse Gaussian process (SoR/DTC) force field of DESIGN.md §6; equations
// and conventions in docs/gp.md.
//
// Local energies ε(d_i) with kernel k = σ² k̃ over a sparse set U of M
// environments. Labels of three kinds, each with its own noise: total energies
// (noise σ_e·√N_atoms: σ_e is the noise per atom, independent between atoms),
// force components (σ_f) and stress components (σ_s). Per-species reference
// energies are subtracted from the energy labels first, so that frames of
// different compositions share one GP of the residual.
//
// Memory is O(N·M) for N labels: the labels of each kind live in a GrowingQr
// (R_g with R_gᵀR_g = K̃_ufΛ_g⁻¹K̃_fu at unit noise and signal); descriptors and
// their gradients are never kept for the history — they are recomputed frame
// by frame when new sparse columns need values on old frames. The three
// per-kind factors and the Cholesky factor of K̃_uu are merged by one O(M³)
// triangular–pentagonal QR into Σ⁻¹ = RᵀR for any σ and noises, so that
// changing hyperparameters never touches the labels.
//
// The SparseGp knows neither the descriptor's nor the kernel's internals.
// The solve is cached on first use after a change (so const methods fill a
// cache): one SparseGp must not be used from several threads at once.
//
// On the fly: construct with the reference energies (fit_reference_energies
// on the first frames, or given), then add_frame_with_sparse_selection
// (gp/training.hpp) per DFT frame, optimize_hyperparameters now and then,
// mapped() for the MD potential (GpPotential::remap) and save_gp_model.

#include <Eigen/Core>
#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "otfgp/core/structure.hpp"
#include "otfgp/gp/descriptor.hpp"
#include "otfgp/gp/growing_qr.hpp"
#include "otfgp/gp/kernel.hpp"
#include "otfgp/gp/mapped_gp.hpp"

namespace otfgp {

struct GpHyperparameters {
  double signal_std = 1.0;     // σ (eV)
  double energy_noise = 1e-3;  // σ_e (eV per √atom): a total energy of N atoms has noise σ_e√N
  double force_noise = 0.05;   // σ_f (eV/Å)
  double stress_noise = 1e-3;  // σ_s (eV/Å³)
};

enum class LabelKind { energy = 0, force = 1, stress = 2 };
inline constexpr int label_kind_count = 3;
const char* label_kind_name(LabelKind kind);

// Which labels of a frame to learn from (those present in the frame), and
// how far to trust each atom's forces: force_noise_scale, one per atom or
// empty (all 1), multiplies the force noise σ_f of that atom's three
// components (the on-the-fly loop's robust force weights, docs/otf.md).
struct LabelSelection {
  bool energy = true;
  bool forces = true;
  bool stress = true;
  std::vector<double> force_noise_scale;
};

// The labels a model learns of `frame` when asked for `asked`: those the frame
// has (a stress only in a cell periodic in all three directions).
LabelSelection learnt_labels(const Structure& frame, const LabelSelection& asked);

// Where a sparse environment came from: atom `atom` of training frame `frame`
// (−1 for environments given directly).
struct SparseEnvironmentSource {
  int frame = -1;
  int atom = -1;
};

struct GpPrediction {
  double energy = 0.0;           // eV, reference energies included
  Positions forces;              // eV/Å
  Voigt virial = Voigt::Zero();  // W = −Σ_pairs r_ij ⊗ ∂E/∂r_ij (eV), pair form, Voigt order
  std::optional<Voigt> stress;   // σ = −W/V (eV/Å³, ASE sign), for cells periodic in 3D
  Eigen::VectorXd local_energy;  // eV per atom, reference energy included
  // With uncertainty requested:
  Eigen::VectorXd atom_std;          // per-atom DTC standard deviation of ε_i divided by σ
  std::optional<double> energy_std;  // DTC standard deviation of the total energy (eV)
};

// The log marginal likelihood and what went into it (for logs and tests).
struct LikelihoodTerms {
  double value = 0.0;
  double data_fit = 0.0;    // yᵀ(Q_ff + Λ)⁻¹y
  double complexity = 0.0;  // log|Q_ff + Λ|
  // ∂ value / ∂ log of (σ, σ_e, σ_f, σ_s)
  Eigen::Vector4d gradient = Eigen::Vector4d::Zero();
};

// What the novelty check compares atoms against, from the training frames
// (docs/gp.md "Novelty"): per pair of species indices the shortest distance
// between an atom and a neighbour within their pair cutoff (S × S, symmetric,
// Å; +∞ where none was seen) and per species the range of the neighbour
// density ρ of the atoms that have neighbours (S × 2: min, max, Å²; +∞, 0
// where none was seen), and per species how many atoms had no neighbour within
// their cutoffs (S: an isolated atom of a species never seen alone is novel).
struct NoveltyReference {
  Eigen::MatrixXd shortest_pair_distance, density_range;
  Eigen::VectorXd isolated_atoms;
  explicit NoveltyReference(int species = 0);  // nothing seen yet
  // Takes in one structure's descriptor entries (`values` need not hold gradients).
  void add(const DescriptorValues& values, const Descriptor& descriptor);
};

class SparseGp {
 public:
  // reference_energies: one per descriptor species (eV).
  SparseGp(std::shared_ptr<const Descriptor> descriptor, std::shared_ptr<const Kernel> kernel,
           GpHyperparameters hyperparameters, Eigen::VectorXd reference_energies);

  const Descriptor& descriptor() const { return *descriptor_; }
  std::shared_ptr<const Descriptor> descriptor_ptr() const { return descriptor_; }
  const Kernel& kernel() const { return *kernel_; }
  std::shared_ptr<const Kernel> kernel_ptr() const { return kernel_; }
  int num_species() const { return static_cast<int>(descriptor_->species().size()); }
  const GpHyperparameters& hyperparameters() const { return hyperparameters_; }
  // O(M³) on the next use; the labels are untouched. Throws otfgp::Error for
  // non-positive or non-finite values.
  void set_hyperparameters(const GpHyperparameters& hyperparameters);
  const Eigen::VectorXd& reference_energies() const { return reference_energies_; }

  // --- training data ---
  int num_frames() const { return static_cast<int>(frames_.size()); }
  const Structure& frame(int index) const { return frames_.at(index); }
  const LabelSelection& frame_labels(int index) const { return frame_labels_.at(index); }
  int num_labels() const;
  int num_labels(LabelKind kind) const { return factors_.labels[static_cast<int>(kind)].rows(); }
  int num_sparse() const { return static_cast<int>(sparse_species_.size()); }
  const Eigen::MatrixXd& sparse_descriptors() const { return sparse_descriptors_; }
  const std::vector<int>& sparse_species() const { return sparse_species_; }
  const std::vector<SparseEnvironmentSource>& sparse_sources() const { return sparse_sources_; }

  // The frame's descriptors (with gradients when asked) on a fresh neighbour list.
  DescriptorValues describe(const Structure& structure, bool gradients) const;

  // Novelty: per pair of species indices (a, b), symmetric, the shortest
  // distance between an atom of a and a neighbour of b within their pair
  // cutoff over every training frame (Å); +∞ where no such pair was seen.
  // Kept up to date by add_frame and recomputed by restore.
  const Eigen::MatrixXd& shortest_pair_distance() const { return novelty_.shortest_pair_distance; }
  // Novelty, second part: per species index the range of the neighbour
  // density ρ_i = Σ_j (r_c(s_i, s_j) − r_ij)² (Å², the descriptor's own
  // cutoff weight, over the neighbours within their pair cutoff; the scale a
  // normalised kernel does not see) over the training atoms that have
  // neighbours, S × 2 (min, max; +∞, 0 for a species never seen with
  // neighbours). Kept like shortest_pair_distance().
  const Eigen::MatrixXd& density_range() const { return novelty_.density_range; }
  // Per species index the number of training atoms without a neighbour within
  // their cutoffs (an isolated atom's energy is its reference energy, which the
  // fit sets from condensed frames unless it saw isolated atoms).
  const Eigen::VectorXd& isolated_atoms() const { return novelty_.isolated_atoms; }
  // Per atom 1 when it is novel (docs/gp.md "Novelty"): a neighbour closer than
  // (1 − margin) × the shortest training distance of that pair, or, with
  // neighbours, ρ below (1 − margin) × the species' smallest or above
  // (1 + margin) × its largest training ρ, or, without neighbours, a species
  // no training atom of which was isolated; else 0.
  Eigen::VectorXd novel_atoms(const DescriptorValues& values, double margin) const;

  // The force-uncertainty calibration (mapped_gp.hpp), kept with the model and
  // passed on by mapped(); set by training (calibrate_force_uncertainty).
  const ForceUncertaintyCalibration& force_calibration() const { return force_calibration_; }
  void set_force_calibration(const ForceUncertaintyCalibration& calibration) {
    force_calibration_ = calibration;
  }

  // Adds a labelled frame: one row per selected label present (energy, 3N force
  // components, 6 stress components for cells periodic in 3D), with the current
  // sparse set as columns; O(rows·M²). `values` must hold gradients.
  // Returns the frame's index.
  int add_frame(const Structure& frame, const LabelSelection& labels = {});
  int add_frame(const Structure& frame, const DescriptorValues& values,
                const LabelSelection& labels = {});

  // Adds sparse environments: descriptor rows (k × D) with their species
  // indices. Their kernel columns on every stored frame are computed by
  // recomputing those frames' descriptors one at a time; O(N·M·k) flops plus the
  // descriptors. Environments whose residual kernel variance given the current
  // sparse set is below `min_residual` (relative to k̃(x,x)) would make K_uu
  // singular and are skipped; a negative min_residual keeps every one (with
  // jitter on K_uu as the fallback for duplicates). Returns the number added.
  int add_sparse_environments(const Eigen::MatrixXd& descriptors, const std::vector<int>& species,
                              const std::vector<SparseEnvironmentSource>& sources = {},
                              double min_residual = 1e-8);
  // Atoms `atoms` of stored frame `frame_index` as sparse environments.
  int add_sparse_atoms(int frame_index, const std::vector<int>& atoms, double min_residual = 1e-8);
  // The same from the frame's descriptor values (computed already; the frame
  // may be added as `frame_index` only afterwards).
  int add_sparse_atoms(const DescriptorValues& values, int frame_index,
                       const std::vector<int>& atoms, double min_residual = 1e-8);

  // --- prediction ---
  GpPrediction predict(const Structure& structure, bool uncertainty = false) const;
  GpPrediction predict(const Structure& structure, const DescriptorValues& values,
                       bool uncertainty = false) const;
  // Per-atom normalised DTC standard deviation from descriptors alone (no gradients needed).
  Eigen::VectorXd atom_std(const DescriptorValues& values) const;
  // Per-atom, per-component DTC standard deviation of the force (N × 3),
  // divided by σ: the posterior of F_iα = −∂E/∂x_iα itself, over every local
  // energy that depends on x_i (docs/gp.md, "Force variance"). Needs gradients;
  // O(N·(n_nb·M·D + M²)) for n_nb neighbours per atom.
  Positions force_std(const DescriptorValues& values) const;
  // Greedy choice of new sparse environments among a frame's atoms, without
  // labels: repeatedly the atom whose environment the sparse set (with the
  // atoms already chosen) represents least, i.e. with the largest residual
  // √(k̃(x,x) − k̃_xᵀK̃⁻¹k̃_x) (a pivoted Cholesky over the frame), until
  // `max_count` atoms are chosen (0: no limit) or the largest residual falls to
  // `min_residual_std` (dimensionless, like the normalised std). O(N_atoms·M)
  // per atom chosen after one O(N_atoms·M²) solve.
  std::vector<int> least_represented_atoms(const DescriptorValues& values, int max_count,
                                           double min_residual_std) const;

  // --- solution and likelihood ---
  // Weights of the sparse environments: ε(x) = Σ_m k(x, u_m) α_m (+ reference energy).
  const Eigen::VectorXd& alpha() const;
  // Log marginal likelihood log N(y | 0, Q_ff + Λ) at the current or given
  // hyperparameters, with its gradient in log space. O(M³), independent of N.
  LikelihoodTerms log_marginal_likelihood() const;
  LikelihoodTerms log_marginal_likelihood(const GpHyperparameters& hyperparameters) const;
  // Only the value at the current hyperparameters, from the cached solve:
  // O(M) once solved (the terms above solve afresh and take the gradient,
  // O(M³)); bit for bit log_marginal_likelihood().value.
  double log_marginal_likelihood_value() const;

  // What MD needs (kernel with a quadratic map only): β, reference energies,
  // normalised sparse descriptors and the variance factor per species. The
  // descriptor settings are left for the caller, who knows the descriptor.
  // O(M³) (eigendecompositions) once per solve: the result is cached with the
  // solve, so that the MD potential, checks and the model file share it.
  MappedGp mapped() const;

  // --- state for the model file ---
  // The solve at the current hyperparameters: Σ⁻¹ = RᵀR, Rα = z.
  struct Solution {
    Eigen::MatrixXd r;  // M × M upper triangular
    Eigen::VectorXd z;
    Eigen::VectorXd alpha;
    double data_fit = 0.0;  // yᵀ(Q_ff + Λ)⁻¹y
    // Σ⁻¹ with the split conditions below folded in (M × M upper triangular);
    // the variances use it. Empty when there are none (then r serves).
    Eigen::MatrixXd r_variance;
    bool valid = false;
  };
  const Solution& solution() const;

  // The split of a frame's energy between its species is fixed by no label:
  // forces and total energies do not change when the local energies of one
  // species in a compound rise and another's fall by the same total. The DTC
  // variance of a local energy therefore keeps much of its prior variance
  // along such splits in every compound, and that part, which says nothing
  // about forces, swamps the uncertainty that does. With split conditioning on
  // (the default) the variances — never the mean — are conditioned on each
  // training frame's split being that of the reference energies: for every
  // direction c orthogonal to the frame's composition (over the species it
  // contains), the pseudo-label Σ_i c_{s_i} ε_i = 0 with the energy noise
  // σ_e√N. Single-species frames have none. Costs one more small per-kind
  // factor and one more O(M³) merge per solve.
  void set_split_conditioning(bool on);
  bool split_conditioning() const { return split_conditioning_; }
  struct Factors {
    std::array<GrowingQr, label_kind_count> labels;
    GrowingQr splits;  // the split pseudo-labels (see set_split_conditioning), unit noise
    Eigen::MatrixXd kernel_factor;  // upper triangular F with FᵀF = K̃_uu
    double energy_log_atoms = 0.0;  // Σ over energy rows of log N_atoms (enters log|Λ|)
    double force_log_scales = 0.0;  // Σ over force rows of log s² (force_noise_scale s; log|Λ|)
    // Factor g of factor_count: the label kinds in LabelKind order, then the splits.
    static constexpr int factor_count = label_kind_count + 1;
    const GrowingQr& factor(int g) const { return g < label_kind_count ? labels[g] : splits; }
    GrowingQr& factor(int g) { return g < label_kind_count ? labels[g] : splits; }
    // "energy", "force", "stress", "splits": their groups in files.
    static const char* factor_name(int g);
  };
  const Factors& factors() const { return factors_; }
  // Every Householder block of each factor (Factors::factor order): what a
  // checkpoint keeps beside the model file (factor_journal.hpp) so that the
  // model loaded from it grows bit for bit as this one would.
  using FactorBlocks = std::array<std::vector<GrowingQr::Block>, Factors::factor_count>;
  // Makes a model restored from a version-5 file growable again with every
  // block the saved one had, instead of rebuilding at its first update.
  // Throws otfgp::Error when the file had no residuals or the blocks do not fit.
  void resume_factors(FactorBlocks blocks);
  // A model restored from its file: frames, sparse set, factors and solution
  // as saved, so that predictions are bit for bit those of the saved model. The factors cannot
  // grow; the first add_frame or add_sparse_* rebuilds them from the stored frames (O(N·M²),
  // once) unless resume_factors() gave them their blocks back.
  void restore(std::vector<Structure> frames, std::vector<LabelSelection> labels,
               Eigen::MatrixXd sparse_descriptors, std::vector<int> sparse_species,
               std::vector<SparseEnvironmentSource> sources, Factors factors,
               std::optional<Solution> solution);
  // Recomputes every factor from the stored frames and sparse set.
  void rebuild();
  // Bytes held by the factors (the O(N·M) part of the memory).
  std::size_t memory_bytes() const;

 private:
  // k̃(sparse u, atom i) of every atom of `values` (M × atoms; zero across species).
  Eigen::MatrixXd sparse_kernel_columns(const DescriptorValues& values) const;
  // Kernel rows of one frame's labels against sparse columns `columns`.
  struct LabelRows {
    std::array<Eigen::MatrixXd, label_kind_count> kernel;  // weighted k̃ rows per label kind
    std::array<Eigen::VectorXd, label_kind_count> target;  // weighted targets
    Eigen::MatrixXd splits;  // weighted k̃ rows of the split pseudo-labels
  };
  // Force and stress rows come from the gradients in `values`, or, when
  // `pull_back` is given (values then need no gradients), from the
  // descriptor's pull-back of the kernel gradients.
  LabelRows label_rows(const Structure& frame, const DescriptorValues& values,
                       const LabelSelection& labels, const Eigen::MatrixXd& sparse,
                       const std::vector<int>& species,
                       const DescriptorPullBack& pull_back = {}) const;
  // Appends the kernel columns of new sparse environments to every factor,
  // recomputing the label rows of each stored frame against them (through
  // the pull-back when there are few columns per species).
  void add_kernel_columns(const Eigen::MatrixXd& new_descriptors,
                          const std::vector<int>& new_species);
  Solution solve(const GpHyperparameters& hyperparameters) const;
  // The likelihood's value (no gradient) for a solve at `hyperparameters`.
  LikelihoodTerms likelihood_value(const GpHyperparameters& hyperparameters,
                                   const Solution& solution) const;
  // mapped()'s O(M³) part: β, sparse descriptors and variance factors.
  MappedGp compute_mapped() const;
  void make_growable();

  std::shared_ptr<const Descriptor> descriptor_;
  std::shared_ptr<const Kernel> kernel_;
  GpHyperparameters hyperparameters_;
  Eigen::VectorXd reference_energies_;

  std::vector<Structure> frames_;
  std::vector<LabelSelection> frame_labels_;
  Eigen::MatrixXd sparse_descriptors_;  // M × D, as the descriptor gave them
  std::vector<int> sparse_species_;
  std::vector<SparseEnvironmentSource> sparse_sources_;
  Factors factors_;
  NoveltyReference novelty_;  // see shortest_pair_distance(), density_range()
  ForceUncertaintyCalibration force_calibration_;

  mutable Solution solution_;  // for hyperparameters_, computed on first use
  // mapped()'s matrices (β, sparse descriptors, variance factors) for the solve
  // numbered mapped_solve_; solves are numbered by solve_count_.
  mutable long solve_count_ = 0, mapped_solve_ = -1;
  mutable MappedGp mapped_cache_;
  bool split_conditioning_ = true;
};

// Checks that σ and the noises are positive and finite; names the bad one.
void validate(const GpHyperparameters& hyperparameters);

// Per atom ρ_i = Σ_j (r_c(s_i, s_j) − r_ij)² over the descriptor entries (Å²).
Eigen::VectorXd neighbour_density(const DescriptorValues& values, const Descriptor& descriptor);

}  // namespace otfgp
