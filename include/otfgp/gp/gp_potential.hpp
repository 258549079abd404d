#pragma once
// The GP force field in MD: a mapped sparse GP (mapped_gp.hpp) evaluated in
// Kokkos kernels. Per atom: B2 descriptor d, d̂ = d/|d|, local energy
// ε = d̂ᵀβ_s d̂ + e_ref(s) (eV); forces and virial through the adjoint
// ∂ε/∂d = 2(β_s d̂ − (d̂ᵀβ_s d̂) d̂)/|d| contracted with the descriptor's chain
// rule neighbour by neighbour, so the pairs × 3 × D gradient never exists and
// the cost per atom does not depend on the number of sparse points M. On
// request, the per-atom local-energy std √(σ² − ‖R_s k‖²) (eV) with
// k_u = σ²(d̂·d̂_u)² over the species' sparse points, and the same divided by σ
// (dimensionless); cost O(M·(D + rank R_s)) per atom, independent of the number
// of training labels, with R_s truncated to MappedGp::variance_rank terms
// (variance_truncation.hpp). On request, also the std of the total energy (eV),
// exact: σ²Σ_s‖S_s‖_F² − ‖R_E k_E‖² with S_s = Σ_{i∈s} d̂_i d̂_iᵀ and
// k_E,u = σ² d̂_uᵀ S_s d̂_u, O(N·D² + M·D² + M·rank R_E) per call.
// With the kernel's two-body part (kernel.hpp) d̂ is the normalised power
// spectrum b̂ and the l = 0 densities q add v_s·q to ε and w q_u·q to k_u
// (docs/gp.md, "Two-body part"). Unless the model turns it off, a ZBL
// repulsion acts on pairs closer than the training data (novelty_repulsion.hpp).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "otfgp/gp/b2_kernels.hpp"
#include "otfgp/gp/gp_batched_force.hpp"
#include "otfgp/gp/mapped_gp.hpp"
#include "otfgp/gp/variance_truncation.hpp"
#include "otfgp/potentials/many_body.hpp"
#include "otfgp/potentials/potential.hpp"

namespace otfgp {

class GpPotential final : public Potential {
 public:
  // spec: what spec() returns (the file the model came from, e.g. "gp:model.h5");
  // model_file: that file as read (parameter_files; empty for a model made in
  // memory). Throws otfgp::Error when the model's matrices disagree in size.
  explicit GpPotential(MappedGp model, std::string spec = "gp",
                       std::filesystem::path model_file = {});

  // Swaps in a retrained model (on-the-fly learning) and keeps the species
  // binding, so MD resumes from the same state with the new β.
  void remap(MappedGp model);
  const MappedGp& model() const { return model_; }
  // Per species: the variance factor MD evaluates (model().variance_rank
  // terms, or all) and the bound on the variance it adds (eV²).
  const std::vector<TruncatedVarianceFactor>& variance_truncation() const { return truncated_; }
  // How MD evaluates Σ_q (σ² t_q·k̃)² per species: through the rows against every
  // sparse point, O(M_s·(D + r)) per atom — in a team kernel (`rows`, every
  // backend) or as two matrix products per species and chunk of atoms
  // (`products`: the system's BLAS in host memory, ~10× the team kernel's speed
  // on a CPU core; cuBLAS on a CUDA device; dense_products.hpp) — or through
  // the packed quadratic forms (variance_truncation.hpp), O(r·D²/2) per atom
  // whatever M_s is. Automatic (the default) takes the cheaper form, the rows
  // as products where the backend has them. The others are for tests and
  // benchmarks; `products` on a backend without dense products (a GPU other
  // than CUDA) throws otfgp::Error.
  enum class VarianceForm { automatic, rows, products, quadratic };
  void set_variance_form(VarianceForm form);
  // Per species: whether the quadratic forms are in use.
  const std::vector<char>& quadratic_variance() const { return quadratic_species_; }

  // How the energy pass runs: `fused`, one kernel per atom (the host's while
  // β fits a core's L2 cache: its scratch stays in cache), or `batched`, three
  // kernels with β_s d̂ for blocks of atoms (a GPU's, and the host's for a
  // larger β, whose products are then BLAS products: gp_batched_force.hpp).
  // Automatic (the default) chooses so; the environment variable
  // OTFGP_GP_FORCE_FORM=fused|batched overrides it (docs/gpu.md). team_size 0:
  // the backend's choice; tests set one to run a GPU team's code paths (the
  // product kernel included) on a CPU. Results agree to rounding.
  enum class ForceForm { automatic, fused, batched };
  void set_force_form(ForceForm form, int team_size = 0);
  // Where the batched form's kernels keep their pairs' terms: automatic (the
  // team's fast memory while it fits), shared (Kokkos scratch level 0: a GPU's
  // shared memory) or global (level 1: device memory through the caches,
  // which leaves the shared memory free for more teams per SM). The
  // environment variable OTFGP_GP_PAIR_SCRATCH=shared|global overrides it
  // (docs/gpu.md). The numbers are the same in every place.
  enum class PairScratch { automatic, shared, global };
  void set_pair_scratch(PairScratch place);

  std::string spec() const override { return spec_; }
  std::vector<std::filesystem::path> parameter_files() const override {
    return model_file_.empty() ? std::vector<std::filesystem::path>{} : std::vector{model_file_};
  }
  double cutoff() const override { return model_.descriptor.max_cutoff(); }
  std::vector<int> elements() const override { return model_.descriptor.species; }
  void bind(const std::vector<int>& species) override;
  ComputeResult compute(AtomState& state, const NeighborList& list,
                        const ComputeRequest& request) override;
  bool provides_uncertainty() const override { return true; }
  std::optional<double> force_noise() const override {
    return model_.force_noise > 0.0 ? std::optional<double>(model_.force_noise) : std::nullopt;
  }

 private:
  void upload();  // model_ matrices to the device
  // The sparse rows [b̂_u; q_u], their norms and the variance factors (part of upload).
  void upload_variance_rows();
  // The packed quadratic forms of the species whose variance they evaluate (part of upload).
  void upload_quadratic_forms();
  // The uncertainty outputs of compute (std, normalised std, novelty flag and,
  // with a calibration, the force std) after the energy pass.
  void add_uncertainty(const AtomState& state, const NeighborList& list,
                       Kokkos::View<const int*, MemSpace> centres, ComputeResult& result);
  // Fills the std in eV and the std ÷ σ; atoms that are not centres keep the
  // zero the views start with. The atoms are grouped by species on the device;
  // the row form runs as dense products (host memory, a CUDA device) or in a
  // team kernel over blocks of one species' atoms.
  void compute_uncertainty(const AtomState& state, Kokkos::View<const int*, MemSpace> centres,
                           ScalarView uncertainty, ScalarView normalised);
  // The rows as dense products for the atoms grouped in grouped_atoms_, species
  // s from first[s], chunk by chunk (pass_.blas).
  void uncertainty_by_products(const std::vector<int>& first, ScalarView uncertainty,
                               ScalarView normalised);
  // The rows as dense products (where the backend has them, unless told otherwise).
  bool products_form() const;
  bool batched_form() const;  // the energy pass's form (set_force_form)
  // The total energy's std (eV) from the unit descriptors of the last energy
  // pass; empty for a multi-species model without R_E.
  std::optional<double> total_energy_std(const AtomState& state);
  // [B_s Q_s] = Σ_{i∈s} [b_i q_i] (raw power spectrum, two-body block) over the
  // centres of the last energy pass (S × D, host): the linear parts' sums.
  Eigen::MatrixXd species_sums(const AtomState& state) const;
  // Flags novel atoms (a neighbour closer than the training data, or a neighbour density
  // outside its range) and raises their std to σ.
  void flag_novel(const AtomState& state, const NeighborList& list, ScalarView uncertainty,
                  ScalarView normalised, ScalarView novel);

  MappedGp model_;
  std::vector<TruncatedVarianceFactor> truncated_;  // per species, what factor_ holds
  std::string spec_;
  std::filesystem::path model_file_;
  std::vector<int> bound_species_;
  bool bound_ = false;

  b2::B2Basis basis_;
  Kokkos::View<double***, Kokkos::LayoutRight, MemSpace> beta_;  // species × D_b × D_b
  // The two-body map v_s (species × L); extent 0 without a two-body part.
  Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> two_body_;
  // The three-body map t_s (species × D_b); extent 0 without a three-body part.
  Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> three_body_;
  Kokkos::View<double*, MemSpace> reference_energy_;
  // The calibrated force std's terms a, b, c per species (S × 4; extent 0 uncalibrated).
  Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> force_std_terms_;
  // (1 − margin) × the shortest training distance per species pair (Å), S × S;
  // extent 0 when the model has none.
  Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> novelty_distance_;
  // Per species the neighbour density outside which an atom is novel: (1 − margin) ×
  // min and (1 + margin) × max over the training atoms (Å²), and the number of
  // isolated training atoms (0: an atom without neighbours is novel); S × 3,
  // extent 0 without.
  Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> novelty_density_;
  // Sparse points of every species stacked (rows sparse_offset[s] …) as
  // [b̂_u; q_u] (D columns; q_u with a two-body part), and the variance
  // factors R_s packed row-major at factor_offset[s].
  Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> sparse_;
  Kokkos::View<double*, MemSpace> factor_;
  ScalarView sparse_norm_;  // |b_u| of every sparse point (three-body part only; else extent 0)
  std::vector<int> sparse_offset_, factor_offset_, rank_;
  Kokkos::View<int*, MemSpace> sparse_offsets_device_, factor_offsets_device_;
  // The packed quadratic forms of the species that use them, stacked (rows
  // quadratic_offset_[s] …), D(D+1)/2 columns.
  VarianceForm variance_form_ = VarianceForm::automatic;
  std::vector<char> quadratic_species_;
  Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> quadratic_;
  std::vector<int> quadratic_offset_;
  Kokkos::View<int*, MemSpace> quadratic_offsets_device_;
  // The uncertainty's atoms grouped by species and its blocks (compute_uncertainty),
  // kept between calls so that a call allocates nothing once they fit.
  Kokkos::View<int*, MemSpace> grouped_atoms_;
  Kokkos::View<int* [3], Kokkos::LayoutRight, MemSpace> uncertainty_blocks_;
  Kokkos::View<int*, MemSpace> species_bounds_;
  Kokkos::View<int*, MemSpace>::HostMirror species_bounds_host_;
  // The dense products' chunk of rows [b̂; q], kernel block K and projections R_s K.
  gp_batched::Matrix variance_rows_, variance_kernel_, variance_projection_;
  ForceForm force_form_ = ForceForm::automatic;
  // The energy pass's per-atom arrays ([b̂; q] and |b| kept for the uncertainty
  // pass; the batched form's A and β_s d̂) and team size.
  gp_batched::Workspace pass_;
  // ZBL below the training distances (novelty_repulsion.hpp); null when off or no data.
  std::unique_ptr<Potential> repulsion_;
  ManyBodyForces forces_;  // the force scatter, reused while the force view stays the same
};

// The factory the "gp" spec uses once the model file is read.
std::unique_ptr<Potential> make_gp_potential(MappedGp model, std::string spec = "gp",
                                             std::filesystem::path model_file = {});

}  // namespace otfgp
