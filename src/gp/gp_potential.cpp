// The mapped GP force field (see include/otfgp/gp/gp_potential.hpp). One team per
// atom: density A, power spectrum d, the quadratic form with β_s, its adjoint
// back to ∂ε/∂A, and the per-neighbour contraction that scatters forces. On the
// host a team is one thread and its scratch stays in cache from atom to atom; on
// a GPU the team's threads share the neighbours, channels and rows of β.

#include "otfgp/gp/gp_potential.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>

#include "otfgp/core/device_copy.hpp"
#include "otfgp/core/elements.hpp"
#include "otfgp/core/environment_error.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/grown_view.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/gp/novelty_repulsion.hpp"
#include "otfgp/gp/team_product.hpp"
#include "otfgp/potentials/added_potential.hpp"
#include "otfgp/potentials/compute_support.hpp"

namespace otfgp {

namespace {

using gp_batched::group_by_species;
using gp_batched::largest_team_size;
using gp_batched::Member;
using gp_batched::ScratchView;
using gp_batched::TeamPolicy;

// Atoms of one species whose uncertainty one team computes together, so that
// each row of R_s is read once per block rather than once per atom.
constexpr int uncertainty_block = 32;
// How much faster the row form runs as BLAS products than the packed quadratic
// forms' loop, per flop, on a CPU core: 9× at rank 32, 18× at rank 256 (Si,
// M = 2407, D = 144; docs/BENCHMARKS.md, "MD overhead of the uncertainty").
// It weighs the automatic choice between them in host memory; on a device
// (cuBLAS against the forms' kernel) it has not been measured, and the choice
// weighs flops alike, as it did for the team kernel.
constexpr double products_speedup = host_memory ? 9.0 : 1.0;

std::string describe_shape(const Eigen::MatrixXd& m) {
  return std::to_string(m.rows()) + "×" + std::to_string(m.cols());
}

void validate_three_body(const MappedGp& model) {
  if (model.three_body_weight == 0.0) return;
  const std::string where = "mapped GP model: ";
  if (!(std::isfinite(model.three_body_weight) && model.three_body_weight > 0.0))
    throw Error(where + "the three-body weight must be finite and ≥ 0");
  const std::size_t n = model.descriptor.species.size();
  if (model.three_body.size() != n || model.sparse_norm.size() != n)
    throw Error(where + "the three-body map needs one entry per species");
  for (std::size_t s = 0; s < n; ++s)
    if (model.three_body[s].size() != model.descriptor.power_spectrum_size() ||
        model.sparse_norm[s].size() != model.sparse_normalised[s].rows() ||
        !model.three_body[s].allFinite() || !model.sparse_norm[s].allFinite())
      throw Error(where + "the three-body map of " +
                  std::string(element(model.descriptor.species[s]).symbol) + " must have " +
                  std::to_string(model.descriptor.power_spectrum_size()) +
                  " finite numbers and one norm per sparse point");
}

void validate(const MappedGp& model) {
  model.descriptor.validate();
  const std::size_t n = model.descriptor.species.size();
  const Eigen::Index size = model.descriptor.power_spectrum_size();
  const Eigen::Index pairs = model.descriptor.two_body_size();
  const std::string where = "mapped GP model: ";
  if (!std::isfinite(model.signal_std) || model.signal_std <= 0.0)
    throw Error(where + "signal_std must be positive");
  if (model.reference_energy.size() != n)
    throw Error(where + "expected " + std::to_string(n) + " reference energies, got " +
                std::to_string(model.reference_energy.size()));
  if (model.beta.size() != n || model.sparse_normalised.size() != n ||
      model.variance_factor.size() != n)
    throw Error(where + "beta, sparse_normalised and variance_factor need one entry per species (" +
                std::to_string(n) + ")");
  const Eigen::MatrixXd& shortest = model.shortest_pair_distance;
  if (shortest.size() > 0 &&
      (shortest.rows() != Eigen::Index(n) || shortest.cols() != Eigen::Index(n)))
    throw Error(where + "shortest_pair_distance is " + describe_shape(shortest) + ", expected " +
                std::to_string(n) + "×" + std::to_string(n));
  if (shortest.size() > 0 && !(shortest.array() >= 0.0).all())
    throw Error(where + "shortest_pair_distance must be non-negative (+inf for unseen pairs)");
  const Eigen::MatrixXd& densities = model.density_range;
  if (densities.size() > 0 && (densities.rows() != Eigen::Index(n) || densities.cols() != 2 ||
                               !(densities.array() >= 0.0).all()))
    throw Error(where + "density_range is " + describe_shape(densities) + ", expected " +
                std::to_string(n) + "×2 of non-negative (min, max)");
  if (model.isolated_atoms.size() > 0 && (model.isolated_atoms.size() != Eigen::Index(n) ||
                                          !(model.isolated_atoms.array() >= 0.0).all()))
    throw Error(where + "isolated_atoms needs one count (≥ 0) per species");
  if (!(model.novelty_margin >= 0.0 && model.novelty_margin < 1.0))
    throw Error(where + "novelty_margin must lie in [0, 1)");
  if (pairs > 0 && !(std::isfinite(model.two_body_weight) && model.two_body_weight > 0.0))
    throw Error(where + "the two-body weight must be finite and positive");
  for (std::size_t s = 0; s < n; ++s) {
    const std::string name = element(model.descriptor.species[s]).symbol;
    if (model.beta[s].rows() != size || model.beta[s].cols() != size)
      throw Error(where + "beta of " + name + " is " + describe_shape(model.beta[s]) +
                  ", the descriptor has size " + std::to_string(size));
    if (model.sparse_normalised[s].rows() > 0 && model.sparse_normalised[s].cols() != size)
      throw Error(where + "sparse_normalised of " + name + " is " +
                  describe_shape(model.sparse_normalised[s]) + ", expected " +
                  std::to_string(size) + " columns");
    if (model.variance_factor[s].size() > 0 &&
        model.variance_factor[s].cols() != model.sparse_normalised[s].rows())
      throw Error(where + "variance_factor of " + name + " is " +
                  describe_shape(model.variance_factor[s]) + ", expected " +
                  std::to_string(model.sparse_normalised[s].rows()) + " columns (sparse points)");
    if (!model.beta[s].allFinite() || !model.variance_factor[s].allFinite() ||
        !model.sparse_normalised[s].allFinite())
      throw Error(where + "matrices of " + name + " contain non-finite numbers");
    if (pairs == 0) continue;
    if (s >= model.two_body.size() || s >= model.sparse_two_body.size() ||
        model.two_body[s].size() != pairs ||
        model.sparse_two_body[s].rows() != model.sparse_normalised[s].rows() ||
        (model.sparse_two_body[s].rows() > 0 && model.sparse_two_body[s].cols() != pairs))
      throw Error(where + "the two-body map of " + name + " must have " + std::to_string(pairs) +
                  " numbers and one row of as many per sparse point");
    if (!model.two_body[s].allFinite() || !model.sparse_two_body[s].allFinite())
      throw Error(where + "the two-body map of " + name + " contains non-finite numbers");
  }
  validate_three_body(model);
}

}  // namespace

namespace {

// OTFGP_GP_FORCE_FORM: fused or batched, optionally with a team size
// (`batched:64`), for measurements (docs/gpu.md); unset: automatic.
std::pair<GpPotential::ForceForm, int> force_form_from_environment() {
  const char* value = std::getenv("OTFGP_GP_FORCE_FORM");
  const std::string text = value != nullptr ? value : "";
  if (text.empty()) return {GpPotential::ForceForm::automatic, 0};
  const std::size_t colon = text.find(':');
  const std::string form = text.substr(0, colon);
  if (form != "fused" && form != "batched")
    throw EnvironmentError("OTFGP_GP_FORCE_FORM", "fused or batched (optionally :team size)", text);
  int team_size = 0;
  if (colon != std::string::npos) {
    const std::string size = text.substr(colon + 1);
    const bool digits =
        !size.empty() && size.size() <= 9 &&
        std::all_of(size.begin(), size.end(), [](char c) { return c >= '0' && c <= '9'; });
    team_size = digits ? std::stoi(size) : 0;
    if (team_size <= 0 || team_size > largest_team_size())
      throw EnvironmentError("OTFGP_GP_FORCE_FORM",
                             "fused or batched with a team size after ':' from 1 to " +
                                 std::to_string(largest_team_size()) + " on this backend (" +
                                 ExecSpace::name() + ")",
                             text);
  }
  return {form == "fused" ? GpPotential::ForceForm::fused : GpPotential::ForceForm::batched,
          team_size};
}

// OTFGP_GP_PAIR_SCRATCH: shared or global, for measurements (docs/gpu.md);
// unset: automatic.
GpPotential::PairScratch pair_scratch_from_environment() {
  const char* value = std::getenv("OTFGP_GP_PAIR_SCRATCH");
  const std::string text = value != nullptr ? value : "";
  if (text.empty()) return GpPotential::PairScratch::automatic;
  if (text == "shared") return GpPotential::PairScratch::shared;
  if (text == "global") return GpPotential::PairScratch::global;
  throw EnvironmentError("OTFGP_GP_PAIR_SCRATCH", "shared or global", text);
}

}  // namespace

GpPotential::GpPotential(MappedGp model, std::string spec, std::filesystem::path model_file)
    : spec_(std::move(spec)), model_file_(std::move(model_file)) {
  const auto [form, team_size] = force_form_from_environment();
  set_force_form(form, team_size);
  set_pair_scratch(pair_scratch_from_environment());
  remap(std::move(model));
}

void GpPotential::set_pair_scratch(PairScratch place) {
  pass_.pair_scratch_level = place == PairScratch::automatic ? -1
                             : place == PairScratch::shared  ? 0
                                                             : 1;
}

void GpPotential::set_force_form(ForceForm form, int team_size) {
  if (team_size < 0 || team_size > largest_team_size())
    throw Error("GpPotential: a team size must be between 0 (the backend's) and " +
                std::to_string(largest_team_size()) + " here, not " + std::to_string(team_size));
  force_form_ = form;
  pass_.team_size = team_size;
}

void GpPotential::remap(MappedGp model) {
  validate(model);
  // Everything that can throw happens before the potential changes.
  b2::B2Basis basis = b2::B2Basis::create(model.descriptor);
  if (bound_) basis.bind(model.descriptor, bound_species_);
  if (model.variance_rank < 0)
    throw Error("mapped GP model: variance_rank must be ≥ 0 (0: exact), got " +
                std::to_string(model.variance_rank));
  std::vector<TruncatedVarianceFactor> truncated;
  for (std::size_t s = 0; s < model.variance_factor.size(); ++s) {
    // A rank at or above the factor's keeps it exact, unrotated (no O(M³) work).
    const int rows = static_cast<int>(model.variance_factor[s].rows());
    const int rank = model.variance_rank < rows ? model.variance_rank : 0;
    truncated.push_back(truncate_variance_factor(
        model.variance_factor[s], model.sparse_normalised[s], model.signal_std, rank,
        model.descriptor.two_body ? model.sparse_two_body[s] : Eigen::MatrixXd(),
        model.two_body_weight,
        model.three_body_weight > 0.0 ? model.sparse_norm[s] : Eigen::VectorXd(),
        model.three_body_weight));
  }
  std::unique_ptr<Potential> repulsion;
  if (model.repulsion) {
    repulsion = novelty_repulsion(model.descriptor.species, model.shortest_pair_distance,
                                  model.novelty_margin, model.descriptor.max_cutoff());
    if (repulsion && bound_) repulsion->bind(bound_species_);
  }
  model_ = std::move(model);
  basis_ = basis;
  truncated_ = std::move(truncated);
  repulsion_ = std::move(repulsion);
  upload();
}

void GpPotential::upload() {
  const int n = basis_.n_species, size = basis_.power_size, full = basis_.size;
  const int pairs = full - size;

  beta_ = decltype(beta_)("GpPotential::beta", n, size, size);
  auto beta = Kokkos::create_mirror_view(beta_);
  for (int s = 0; s < n; ++s)
    for (int a = 0; a < size; ++a)
      for (int b = 0; b < size; ++b)
        // The kernels use ∂(d̂ᵀβd̂)/∂d̂ = 2βd̂, true for the symmetric part, which is all the form
        // sees.
        beta(s, a, b) = 0.5 * (model_.beta[s](a, b) + model_.beta[s](b, a));
  Kokkos::deep_copy(beta_, beta);
  two_body_ = decltype(two_body_)("GpPotential::two_body", pairs > 0 ? n : 0, pairs);
  auto two_body = Kokkos::create_mirror_view(two_body_);
  for (std::size_t s = 0; s < two_body.extent(0); ++s)
    for (int p = 0; p < pairs; ++p) two_body(s, p) = model_.two_body[s][p];
  Kokkos::deep_copy(two_body_, two_body);
  const bool three_body = model_.three_body_weight > 0.0;
  three_body_ = decltype(three_body_)("GpPotential::three_body", three_body ? n : 0, size);
  auto three = Kokkos::create_mirror_view(three_body_);
  for (std::size_t s = 0; s < three.extent(0); ++s)
    for (int a = 0; a < size; ++a) three(s, a) = model_.three_body[s][a];
  Kokkos::deep_copy(three_body_, three);

  reference_energy_ = ScalarView("GpPotential::reference_energy", n);
  auto reference = Kokkos::create_mirror_view(reference_energy_);
  for (int s = 0; s < n; ++s) reference(s) = model_.reference_energy[s];
  Kokkos::deep_copy(reference_energy_, reference);

  const ForceUncertaintyCalibration& calibration = model_.force_calibration;
  force_std_terms_ =
      decltype(force_std_terms_)("GpPotential::force_std_terms", calibration.valid() ? n : 0, 4);
  auto terms = Kokkos::create_mirror_view(force_std_terms_);
  for (std::size_t s = 0; s < terms.extent(0); ++s) {
    const ForceStdTerms t = calibration.terms(static_cast<int>(s));
    terms(s, 0) = t.energy_scale;
    terms(s, 1) = t.floor;
    terms(s, 2) = t.relative;
    terms(s, 3) = t.neighbour_scale;
  }
  Kokkos::deep_copy(force_std_terms_, terms);

  const Eigen::MatrixXd& shortest = model_.shortest_pair_distance;
  novelty_distance_ = decltype(novelty_distance_)("GpPotential::novelty_distance",
                                                  shortest.size() ? n : 0, shortest.size() ? n : 0);
  auto novelty = Kokkos::create_mirror_view(novelty_distance_);
  for (std::size_t a = 0; a < novelty.extent(0); ++a)
    for (std::size_t b = 0; b < novelty.extent(1); ++b)
      novelty(a, b) = (1.0 - model_.novelty_margin) * shortest(a, b);
  Kokkos::deep_copy(novelty_distance_, novelty);
  const Eigen::MatrixXd& densities = model_.density_range;
  novelty_density_ =
      decltype(novelty_density_)("GpPotential::novelty_density", densities.size() ? n : 0, 3);
  auto density_bounds = Kokkos::create_mirror_view(novelty_density_);
  for (std::size_t a = 0; a < density_bounds.extent(0); ++a) {
    density_bounds(a, 0) = (1.0 - model_.novelty_margin) * densities(a, 0);
    density_bounds(a, 1) = (1.0 + model_.novelty_margin) * densities(a, 1);
    // Isolated training atoms of the species (without the count: taken as seen, no check).
    density_bounds(a, 2) =
        model_.isolated_atoms.size() > 0 ? model_.isolated_atoms(Eigen::Index(a)) : 1.0;
  }
  Kokkos::deep_copy(novelty_density_, density_bounds);

  upload_variance_rows();
  upload_quadratic_forms();
}

void GpPotential::upload_variance_rows() {
  const int n = basis_.n_species, size = basis_.power_size, full = basis_.size;
  const int pairs = full - size;
  sparse_offset_.assign(n + 1, 0);
  factor_offset_.assign(n + 1, 0);
  rank_.assign(n, 0);
  for (int s = 0; s < n; ++s) {
    sparse_offset_[s + 1] =
        sparse_offset_[s] + static_cast<int>(model_.sparse_normalised[s].rows());
    rank_[s] = static_cast<int>(truncated_[s].factor.rows());
    factor_offset_[s + 1] = factor_offset_[s] + static_cast<int>(truncated_[s].factor.size());
  }
  sparse_offsets_device_ = to_device("GpPotential::sparse_offsets", sparse_offset_);
  factor_offsets_device_ = to_device("GpPotential::factor_offsets", factor_offset_);
  species_bounds_ = Kokkos::View<int*, MemSpace>("GpPotential::species_bounds", 2 * (n + 1));
  species_bounds_host_ = Kokkos::create_mirror_view(species_bounds_);
  sparse_ = decltype(sparse_)("GpPotential::sparse", sparse_offset_[n], full);
  sparse_norm_ = ScalarView("GpPotential::sparse_norm",
                            model_.three_body_weight > 0.0 ? sparse_offset_[n] : 0);
  auto sparse_norm = Kokkos::create_mirror_view(sparse_norm_);
  if (sparse_norm.extent(0) > 0)
    for (int s = 0; s < n; ++s)
      for (int j = sparse_offset_[s]; j < sparse_offset_[s + 1]; ++j)
        sparse_norm(j) = model_.sparse_norm[s][j - sparse_offset_[s]];
  Kokkos::deep_copy(sparse_norm_, sparse_norm);
  factor_ = decltype(factor_)("GpPotential::variance_factor", factor_offset_[n]);
  auto sparse = Kokkos::create_mirror_view(sparse_);
  auto factor = Kokkos::create_mirror_view(factor_);
  for (int s = 0; s < n; ++s) {
    const Eigen::MatrixXd& u = model_.sparse_normalised[s];
    for (Eigen::Index j = 0; j < u.rows(); ++j) {
      for (int e = 0; e < size; ++e) sparse(sparse_offset_[s] + j, e) = u(j, e);
      for (int p = 0; p < pairs; ++p)
        sparse(sparse_offset_[s] + j, size + p) = model_.sparse_two_body[s](j, p);
    }
    const Eigen::MatrixXd& r = truncated_[s].factor;
    for (Eigen::Index a = 0; a < r.rows(); ++a)
      for (Eigen::Index j = 0; j < r.cols(); ++j)
        factor(factor_offset_[s] + a * r.cols() + j) = r(a, j);
  }
  Kokkos::deep_copy(sparse_, sparse);
  Kokkos::deep_copy(factor_, factor);
}

void GpPotential::upload_quadratic_forms() {
  const int n = basis_.n_species, size = basis_.power_size;
  const int pairs = basis_.size - basis_.power_size;
  const long packed_size = long(size) * (size + 1) / 2;
  quadratic_species_.assign(n, 0);
  quadratic_offset_.assign(n + 1, 0);
  std::vector<Eigen::MatrixXd> forms(n);
  for (int s = 0; s < n; ++s) {
    const long m_s = sparse_offset_[s + 1] - sparse_offset_[s], r = rank_[s];
    // Flops per atom of each form, the rows weighted by how much faster they run as BLAS products.
    const double row_speed = products_form() ? products_speedup : 1.0;
    const bool cheaper = double(r) * packed_size < double(m_s) * (size + r) / row_speed;
    // The packed forms hold the many-body part only: a two- or three-body part needs the rows.
    quadratic_species_[s] = r > 0 && pairs == 0 && model_.three_body_weight == 0.0 &&
                            (variance_form_ == VarianceForm::quadratic ||
                             (variance_form_ == VarianceForm::automatic && cheaper));
    if (quadratic_species_[s])
      forms[s] = packed_quadratic_forms(truncated_[s].factor, model_.sparse_normalised[s]);
    quadratic_offset_[s + 1] = quadratic_offset_[s] + static_cast<int>(forms[s].rows());
  }
  quadratic_offsets_device_ = to_device("GpPotential::quadratic_offsets", quadratic_offset_);
  quadratic_ = decltype(quadratic_)("GpPotential::quadratic_forms", quadratic_offset_[n],
                                    quadratic_offset_[n] > 0 ? packed_size : 0);
  auto quadratic = Kokkos::create_mirror_view(quadratic_);
  for (int s = 0; s < n; ++s)
    for (Eigen::Index q = 0; q < forms[s].rows(); ++q)
      for (long k = 0; k < packed_size; ++k)
        quadratic(quadratic_offset_[s] + q, k) = forms[s](q, k);
  Kokkos::deep_copy(quadratic_, quadratic);
}

namespace {

// The core's share of cache that the fused form's per-atom reads of every β_s
// come from: its L2 (sysconf), 512 KiB where the system does not say.
std::size_t core_cache_bytes() {
  static const long bytes = ::sysconf(_SC_LEVEL2_CACHE_SIZE);
  return bytes > 0 ? std::size_t(bytes) : std::size_t(512) << 10;
}

}  // namespace

bool GpPotential::batched_form() const {
  if (force_form_ != ForceForm::automatic) return force_form_ == ForceForm::batched;
  // On the host the fused form wins while β fits the core's cache, the
  // batched form's BLAS products once it does not (docs/gp.md, "Speed notes").
  return !host_memory || beta_.size() * sizeof(double) > core_cache_bytes();
}

bool GpPotential::products_form() const {
  return has_dense_products &&
         (variance_form_ == VarianceForm::automatic || variance_form_ == VarianceForm::products);
}

void GpPotential::set_variance_form(VarianceForm form) {
  if (form == VarianceForm::quadratic &&
      (model_.descriptor.two_body || model_.three_body_weight > 0.0))
    throw Error(
        "GpPotential: the packed quadratic forms hold no two- or three-body part; use the rows");
  if (form == VarianceForm::products && !has_dense_products)
    throw Error(
        "GpPotential: the BLAS products need host memory or a CUDA device; use the rows here");
  variance_form_ = form;
  upload();
}

void GpPotential::bind(const std::vector<int>& species) {
  basis_.bind(model_.descriptor, species);
  if (repulsion_) repulsion_->bind(species);
  bound_species_ = species;
  bound_ = true;
}

// The energy pass: one team per atom computes its density, descriptor d and
// d̂ = d/|d|, the local energy d̂ᵀβ_s d̂ (+ v_s·q + t_s·d) + e_ref, and scatters the forces; keeps
// d̂ and |d| in `unit` and `norm` with `keep_unit` (for the uncertainty pass).
// Per-atom energies and virials go where `per_atom`, `per_atom_virial` are
// allocated. The total energy and virial go to `result`, or to sums.totals on
// the device (reduce_energy_and_virial). One kernel, kept apart from compute's
// set-up and uncertainty outputs (a free function: docs/gpu.md).
void gp_energy_kernel(const b2::B2Basis& basis, const NeighborList& list, const AtomState& state,
                      const Kokkos::View<double***, Kokkos::LayoutRight, MemSpace>& beta,
                      const gp_batched::ForceMaps& maps,
                      const Kokkos::View<const int*, MemSpace>& centres, const ScalarView& per_atom,
                      const VirialView& per_atom_virial, const ForceScatter& forces, bool keep_unit,
                      const Kokkos::View<double**, Kokkos::LayoutRight, MemSpace>& unit,
                      const ScalarView& norm, const ComputeRequest& sums, ComputeResult& result,
                      int team_size) {
  const int natoms = state.natoms;
  const NeighborView neighbors = list.view();
  const VecView x = state.x;
  const IntView type = state.type;
  const bool all_centres = centres.extent(0) == 0;
  // size: the power spectrum b; the two-body block q = A_{p,00} follows it in `unit`.
  const int size = basis.power_size, density_size = basis.density_size;
  const int pairs = basis.size - basis.power_size, harmonics = basis.n_harmonics;
  // The per-team cache of every listed pair's terms, sized for a team of any
  // size (the host's one thread caches the most).
  const int max_pairs = list.max_neighbors();
  const int largest_stride = basis.terms_size(b2::B2Basis::cached_terms(false));
  const std::size_t scratch_bytes =
      ScratchView::shmem_size(density_size) * 2 + ScratchView::shmem_size(size) * 2 +
      ScratchView::shmem_size(std::size_t(max_pairs) * largest_stride);
  const int level = b2::scratch_level(scratch_bytes);
  const auto reference = maps.reference;
  const auto kernel = KOKKOS_LAMBDA(const Member& team, EnergyVirial& sum) {
    const int i = team.league_rank();
    if (!all_centres && !centres(i)) {
      Kokkos::single(Kokkos::PerTeam(team), [&]() {
        if (keep_unit) norm(i) = 0.0;
      });
      return;
    }
    const int s_i = basis.type_map(type(i));
    const int begin = neighbors.offsets(i), end = neighbors.offsets(i + 1);
    ScratchView A(team.team_scratch(level), density_size);
    ScratchView dE_dA(team.team_scratch(level), density_size);
    ScratchView d(team.team_scratch(level), size);
    ScratchView w(team.team_scratch(level), size);
    const int stride = basis.cache_stride(team);
    ScratchView cache(team.team_scratch(level), std::size_t(max_pairs) * stride);

    // Terms once per neighbour, kept for the force pass.
    basis.density_and_terms(
        team, neighbors, x, type, i, s_i, begin, end, [](int k) { return k; }, cache.data(),
        A.data());
    basis.power_spectrum(team, A.data(), d.data());
    double norm_squared = 0.0;
    Kokkos::parallel_reduce(
        Kokkos::TeamThreadRange(team, size), [&](int e, double& s) { s += d(e) * d(e); },
        norm_squared);
    if (norm_squared <= gp_batched::empty_norm_squared) {
      Kokkos::single(Kokkos::PerTeam(team), [&]() {
        sum.energy += reference(s_i);
        if (per_atom.extent(0) > 0) per_atom(i) = reference(s_i);
        if (keep_unit) norm(i) = 0.0;
      });
      return;
    }
    const double inv_norm = 1.0 / kmath::sqrt(norm_squared);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, size), [&](int e) { d(e) *= inv_norm; });
    team.team_barrier();

    symmetric_product(team, &beta(s_i, 0, 0), d.data(), w.data(), size);
    team.team_barrier();
    if (keep_unit) {
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, size), [&](int e) { unit(i, e) = d(e); });
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, pairs),
                           [&](int p) { unit(i, size + p) = A(p * harmonics); });
    }
    // The pairs' terms, cached by density_and_terms.
    const auto with_terms = [&](int k, const auto& use) {
      const double* t = &cache(std::size_t(k - begin) * stride);
      if (t[3] >= 0.0) use(t);
    };
    gp_batched::atom_energy_and_forces(team, basis, maps, i, s_i, inv_norm, d.data(), w.data(),
                                       A.data(), w.data(), dE_dA.data(), begin, end, with_terms,
                                       forces, per_atom, per_atom_virial, sum);
    if (keep_unit) Kokkos::single(Kokkos::PerTeam(team), [&]() { norm(i) = 1.0 / inv_norm; });
  };
  reduce_energy_and_virial("GpPotential::compute",
                           gp_batched::checked_policy<Kokkos::ParallelReduceTag>(
                               natoms, team_size, b2::TeamScratch().per_team(level, scratch_bytes),
                               kernel, "GpPotential::compute"),
                           kernel, sums, result);
}

// The calibrated force std per component (mapped_gp.hpp):
// sqrt((a u)² + (g v)² + b² + (c |F|)²) with the terms of the atom's species,
// v² = Σ_j w(r_ij) u_j² over its neighbours within their pair cutoffs
// (neighbour_std_weight, mapped_gp.hpp).
void gp_force_uncertainty_kernel(const Kokkos::View<double**, Kokkos::LayoutRight, MemSpace>& terms,
                                 const b2::B2Basis& basis, const NeighborView& neighbors,
                                 const VecView& x, const IntView& type,
                                 const ScalarView& energy_std, const VecView& f,
                                 const ScalarView& force_std) {
  Kokkos::parallel_for(
      "GpPotential::force_uncertainty", RangePolicy(0, int(energy_std.extent(0))),
      KOKKOS_LAMBDA(int i) {
        const int s = basis.type_map(type(i));
        double v2 = 0.0;
        const int end = neighbors.offsets(i + 1);
        for (int k = neighbors.offsets(i); k < end; ++k) {
          const int j = neighbors.index(k);
          const double rc = basis.cutoff(s, basis.type_map(type(j)));
          double r[3];
          neighbors.delta(x, i, k, r);
          const double r2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
          if (r2 >= rc * rc) continue;
          v2 += neighbour_std_weight(kmath::sqrt(r2), rc) * energy_std(j) * energy_std(j);
        }
        const double au = terms(s, 0) * energy_std(i), b = terms(s, 1), c = terms(s, 2);
        const double g2 = terms(s, 3) * terms(s, 3) * v2;
        const double force2 = f(i, 0) * f(i, 0) + f(i, 1) * f(i, 1) + f(i, 2) * f(i, 2);
        force_std(i) = kmath::sqrt(au * au + g2 + b * b + c * c * force2);
      });
}

ComputeResult GpPotential::compute(AtomState& state, const NeighborList& list,
                                   const ComputeRequest& request) {
  const ForceScatter forces = forces_.begin("gp", bound_, list, cutoff(), state);
  ComputeResult result;
  const int natoms = state.natoms;
  if (request.per_atom_energy)
    result.per_atom_energy = ScalarView("GpPotential::per_atom_energy", natoms);
  if (request.per_atom_virial)
    result.per_atom_virial = VirialView("GpPotential::per_atom_virial", natoms);
  const bool keep_unit = request.uncertainty || request.energy_uncertainty;
  // The repulsion adds its energy and virial on the host: then the GP's are there too.
  ComputeRequest sums;
  if (!repulsion_) sums.totals = request.totals;
  if (batched_form()) {
    pass_.resize(natoms, basis_);
    gp_batched::descriptors_and_products(basis_, list, state, request.centres, beta_, pass_);
    gp_batched::energy_and_forces(
        basis_, list, state, request.centres, {two_body_, three_body_, reference_energy_}, pass_,
        result.per_atom_energy, result.per_atom_virial, forces, sums, result);
  } else {
    if (keep_unit) pass_.resize_unit(natoms, basis_);
    gp_energy_kernel(basis_, list, state, beta_, {two_body_, three_body_, reference_energy_},
                     request.centres, result.per_atom_energy, result.per_atom_virial, forces,
                     keep_unit, pass_.unit, pass_.norm, sums, result, pass_.team_size);
  }
  forces_.finish(state);

  if (repulsion_) add_potential(*repulsion_, state, list, request, result);
  if (request.uncertainty) add_uncertainty(state, list, request.centres, result);
  if (request.energy_uncertainty) result.energy_uncertainty = total_energy_std(state);
  return result;
}

void GpPotential::add_uncertainty(const AtomState& state, const NeighborList& list,
                                  Kokkos::View<const int*, MemSpace> centres,
                                  ComputeResult& result) {
  const int natoms = state.natoms;
  result.uncertainty = ScalarView("GpPotential::uncertainty", natoms);
  result.uncertainty_normalised = ScalarView("GpPotential::uncertainty_normalised", natoms);
  compute_uncertainty(state, centres, result.uncertainty, result.uncertainty_normalised);
  result.novel = ScalarView("GpPotential::novel", natoms);
  flag_novel(state, list, result.uncertainty, result.uncertainty_normalised, result.novel);
  if (model_.force_calibration.valid()) {
    result.force_uncertainty = ScalarView("GpPotential::force_uncertainty", natoms);
    gp_force_uncertainty_kernel(force_std_terms_, basis_, list.view(), state.x, state.type,
                                result.uncertainty, state.f, result.force_uncertainty);
  }
}

// S_s = Σ_{i∈s} d̂_i d̂_iᵀ over the centres with neighbours (species × D × D).
void gp_descriptor_outer_kernel(
    const Kokkos::View<double**, Kokkos::LayoutRight, MemSpace>& unit, const ScalarView& norm,
    const IntView& type, const Kokkos::View<const int*, MemSpace>& type_map,
    const Kokkos::View<double***, Kokkos::LayoutRight, MemSpace>& outer);

Eigen::MatrixXd GpPotential::species_sums(const AtomState& state) const {
  const int size = basis_.power_size, full = basis_.size;
  Eigen::MatrixXd sums = Eigen::MatrixXd::Zero(basis_.n_species, full);
  // Without a two- or three-body part nothing reads them: no copy to the host.
  if (full == size && model_.three_body_weight == 0.0) return sums;
  auto unit = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pass_.unit);
  auto norm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pass_.norm);
  auto type = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state.type);
  auto map = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), basis_.type_map);
  for (std::size_t i = 0; i < unit.extent(0); ++i) {
    if (!(norm(i) > 0.0)) continue;
    const int s = map(type(i));
    for (int e = 0; e < size; ++e) sums(s, e) += norm(i) * unit(i, e);  // b = |b| b̂
    for (int e = size; e < full; ++e) sums(s, e) += unit(i, e);
  }
  return sums;
}

std::optional<double> GpPotential::total_energy_std(const AtomState& state) {
  const int n_species = basis_.n_species, size = basis_.power_size;
  const int pairs = basis_.size - basis_.power_size;
  const bool single = n_species == 1;
  if (!single && model_.energy_variance_factor.size() == 0) {
    Eigen::Index total = 0;
    for (const Eigen::MatrixXd& sparse : model_.sparse_normalised) total += sparse.rows();
    if (total > 0) return std::nullopt;  // a model file without R_E: no total-energy std
  }
  Kokkos::View<double***, Kokkos::LayoutRight, MemSpace> outer("GpPotential::descriptor_outer",
                                                               n_species, size, size);
  gp_descriptor_outer_kernel(pass_.unit, pass_.norm, state.type, basis_.type_map, outer);
  auto outer_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), outer);
  const double variance = model_.signal_std * model_.signal_std;
  // Prior: σ² Σ_ij (b̂_i·b̂_j)² over same-species pairs = σ² Σ_s ‖S_s‖_F², plus with
  // a two-body part σ² w Σ_s |Q_s|², Q_s = Σ_{i∈s} q_i, and with a three-body part
  // σ² w₃ Σ_s |B_s|², B_s = Σ_{i∈s} b_i.
  double prior = 0.0;
  for (std::size_t k = 0; k < outer_host.size(); ++k)
    prior += outer_host.data()[k] * outer_host.data()[k];
  const Eigen::MatrixXd sums = species_sums(state);  // S × [B_s Q_s]
  const double w3 = model_.three_body_weight;
  prior += model_.two_body_weight * sums.rightCols(pairs).squaredNorm() +
           w3 * sums.leftCols(size).squaredNorm();
  prior *= variance;
  // k_E,u = σ² Σ_i k̃(u, i) = σ² d̂_uᵀ S_s d̂_u (+ the linear parts), stacked species by species.
  Eigen::Index total = 0;
  for (const Eigen::MatrixXd& sparse : model_.sparse_normalised) total += sparse.rows();
  Eigen::VectorXd k_energy(total);
  Eigen::Index offset = 0;
  for (int s = 0; s < n_species; ++s) {
    const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>
        outer_s(&outer_host(s, 0, 0), size, size);
    const Eigen::MatrixXd& sparse = model_.sparse_normalised[s];
    if (sparse.rows() == 0) continue;
    const Eigen::MatrixXd projected = sparse * outer_s;
    k_energy.segment(offset, sparse.rows()) =
        variance * (projected.cwiseProduct(sparse)).rowwise().sum();
    if (pairs > 0)
      k_energy.segment(offset, sparse.rows()) += variance * model_.two_body_weight *
                                                 model_.sparse_two_body[s] *
                                                 sums.row(s).tail(pairs).transpose();
    if (w3 > 0.0)  // σ² w₃ b_u·B_s = σ² w₃ |b_u| (b̂_u·B_s)
      k_energy.segment(offset, sparse.rows()) +=
          variance * w3 *
          model_.sparse_norm[s].cwiseProduct(sparse * sums.row(s).head(size).transpose());
    offset += sparse.rows();
  }
  const Eigen::MatrixXd& factor =
      single ? model_.variance_factor[0] : model_.energy_variance_factor;
  const double explained = total > 0 ? (factor * k_energy).squaredNorm() : 0.0;
  return std::sqrt(std::max(prior - explained, 0.0));
}

void gp_descriptor_outer_kernel(
    const Kokkos::View<double**, Kokkos::LayoutRight, MemSpace>& unit, const ScalarView& norm,
    const IntView& type, const Kokkos::View<const int*, MemSpace>& type_map,
    const Kokkos::View<double***, Kokkos::LayoutRight, MemSpace>& outer) {
  const int natoms = int(unit.extent(0)), size = int(outer.extent(1));
  const int n_species = int(outer.extent(0));
  Kokkos::parallel_for(
      "GpPotential::descriptor_outer",
      Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<3>>({0, 0, 0}, {n_species, size, size}),
      KOKKOS_LAMBDA(int s, int a, int b) {
        double sum = 0.0;
        for (int i = 0; i < natoms; ++i)
          if (norm(i) > 0.0 && type_map(type(i)) == s) sum += unit(i, a) * unit(i, b);
        outer(s, a, b) = sum;
      });
}

// The uncertainty kernel as a free function of the views it reads and writes: nvcc
// does not allow a KOKKOS_LAMBDA in a private member function (docs/gpu.md).
void gp_uncertainty_kernel(
    const Kokkos::View<double**, Kokkos::LayoutRight, MemSpace>& unit, const ScalarView& norm,
    const Kokkos::View<double**, Kokkos::LayoutRight, MemSpace>& sparse,
    const Kokkos::View<double*, MemSpace>& factor, const Kokkos::View<int*, MemSpace>& order,
    const Kokkos::View<int* [3], Kokkos::LayoutRight, MemSpace>& blocks, int n_blocks,
    const Kokkos::View<int*, MemSpace>& sparse_offset,
    const Kokkos::View<int*, MemSpace>& factor_offset, int max_sparse, int size, int pairs,
    double two_body_weight, const ScalarView& sparse_norm, double three_body_weight,
    double signal_std, const ScalarView& uncertainty, const ScalarView& normalised) {
  const double signal_variance = signal_std * signal_std;
  const double inv_signal_std = 1.0 / signal_std;
  constexpr int block = uncertainty_block;
  const std::size_t scratch_bytes =
      ScratchView::shmem_size(std::size_t(max_sparse) * block) + ScratchView::shmem_size(block);
  Kokkos::parallel_for(
      "GpPotential::uncertainty",
      b2::TeamScratch()
          .per_team(1, scratch_bytes)
          .on(TeamPolicy(n_blocks, Kokkos::AUTO), 0, "GpPotential::uncertainty"),
      KOKKOS_LAMBDA(const Member& team) {
        const int s = blocks(team.league_rank(), 0), first = blocks(team.league_rank(), 1);
        const int count = blocks(team.league_rank(), 2);
        const int m_s = sparse_offset(s + 1) - sparse_offset(s);
        const int rank = m_s > 0 ? (factor_offset(s + 1) - factor_offset(s)) / m_s : 0;
        ScratchView kernel(team.team_scratch(1), std::size_t(m_s > 0 ? m_s : 1) * block);
        ScratchView explained(team.team_scratch(1), block);
        // k_u(x_b) = σ²[(b̂_b·b̂_u)² + w q_b·q_u + w₃|b_b||b_u|(b̂_b·b̂_u)], stored
        // u-major so the R_s pass runs over atoms innermost.
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, m_s), [&](int u) {
          const double* du = &sparse(sparse_offset(s) + u, 0);
          const double norm_u = three_body_weight > 0.0 ? sparse_norm(sparse_offset(s) + u) : 0.0;
          for (int b = 0; b < block; ++b) {
            double dot = 0.0, pair_dot = 0.0, norms = 0.0;
            if (b < count) {
              const double* db = &unit(order(first + b), 0);
              for (int e = 0; e < size; ++e) dot += db[e] * du[e];
              for (int e = size; e < size + pairs; ++e) pair_dot += db[e] * du[e];
              norms = norm(order(first + b)) * norm_u;
            }
            kernel(u * block + b) = signal_variance * (dot * dot + two_body_weight * pair_dot +
                                                       three_body_weight * norms * dot);
          }
        });
        team.team_barrier();
        // ‖R_s k‖² = Σ_a (Σ_u R_au k_u)² for every atom of the block.
        squared_projections<block>(team, &factor(factor_offset(s)), rank, m_s, kernel.data(), count,
                                   explained.data());
        team.team_barrier();
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, count), [&](int b) {
          const int i = order(first + b);
          // The prior σ² k̃(x,x) = σ²(1 + w|q|² + w₃|b|²).
          double q2 = 0.0;
          for (int e = size; e < size + pairs; ++e) q2 += unit(i, e) * unit(i, e);
          const double prior = 1.0 + two_body_weight * q2 + three_body_weight * norm(i) * norm(i);
          const double variance = signal_variance * prior - explained(b);
          const double std = norm(i) > 0.0 ? kmath::sqrt(variance > 0.0 ? variance : 0.0) : 0.0;
          uncertainty(i) = std;
          normalised(i) = std * inv_signal_std;
        });
      });
}

void gp_uncertainty_quadratic_kernel(
    const Kokkos::View<double**, Kokkos::LayoutRight, MemSpace>& unit, const ScalarView& norm,
    const IntView& type, const Kokkos::View<const int*, MemSpace>& type_map,
    const Kokkos::View<int*, MemSpace>& atoms, int count,
    const Kokkos::View<double**, Kokkos::LayoutRight, MemSpace>& forms,
    const Kokkos::View<int*, MemSpace>& offset, double signal_std, const ScalarView& uncertainty,
    const ScalarView& normalised);

// The novelty flag as a free function too (same reason).
void gp_novelty_kernel(const b2::B2Basis& basis, const NeighborView& neighbors, const VecView& x,
                       const IntView& type,
                       const Kokkos::View<double**, Kokkos::LayoutRight, MemSpace>& closest,
                       const Kokkos::View<double**, Kokkos::LayoutRight, MemSpace>& density_bounds,
                       double sigma, const ScalarView& uncertainty, const ScalarView& normalised,
                       const ScalarView& novel);

// blocks(k) = {species, first position, count}: each species' atoms of
// `first` cut into blocks of up to uncertainty_block, in order; `bounds` holds
// first (n_species + 1 numbers) then each species' first block (n_species + 1),
// its host mirror is filled here. Returns the number of blocks.
int species_blocks(const std::vector<int>& first, const Kokkos::View<int*, MemSpace>& bounds,
                   const Kokkos::View<int*, MemSpace>::HostMirror& bounds_host,
                   const Kokkos::View<int* [3], Kokkos::LayoutRight, MemSpace>& blocks) {
  const int n_species = int(first.size()) - 1;
  int n_blocks = 0;
  for (int s = 0; s <= n_species; ++s) {
    bounds_host(s) = first[s];
    bounds_host(n_species + 1 + s) = n_blocks;
    if (s < n_species)
      n_blocks += (first[s + 1] - first[s] + uncertainty_block - 1) / uncertainty_block;
  }
  Kokkos::deep_copy(bounds, bounds_host);
  Kokkos::parallel_for(
      "GpPotential::species_blocks", RangePolicy(0, n_blocks), KOKKOS_LAMBDA(int k) {
        int s = 0;
        while (k >= bounds(n_species + 2 + s)) ++s;
        const int start = bounds(s) + (k - bounds(n_species + 1 + s)) * uncertainty_block;
        const int end = bounds(s + 1);
        blocks(k, 0) = s;
        blocks(k, 1) = start;
        blocks(k, 2) = end - start < uncertainty_block ? end - start : uncertainty_block;
      });
  return n_blocks;
}

void GpPotential::compute_uncertainty(const AtomState& state,
                                      Kokkos::View<const int*, MemSpace> centres,
                                      ScalarView uncertainty, ScalarView normalised) {
  const int natoms = state.natoms, n_species = basis_.n_species;
  if (grouped_atoms_.extent(0) < std::size_t(natoms))
    grouped_atoms_ = Kokkos::View<int*, MemSpace>("GpPotential::grouped_atoms", natoms);
  std::vector<char> rows(n_species);
  for (int s = 0; s < n_species; ++s) rows[s] = !quadratic_species_[s];
  const std::vector<int> first =
      group_by_species(state.type, basis_.type_map, centres, rows, natoms, grouped_atoms_);
  if (products_form()) {
    uncertainty_by_products(first, uncertainty, normalised);
  } else {
    const std::size_t most_blocks = natoms / uncertainty_block + n_species + 1;
    if (uncertainty_blocks_.extent(0) < most_blocks)
      uncertainty_blocks_ =
          decltype(uncertainty_blocks_)("GpPotential::uncertainty_blocks", most_blocks);
    const int n_blocks =
        species_blocks(first, species_bounds_, species_bounds_host_, uncertainty_blocks_);
    int max_sparse = 0;
    for (int s = 0; s < n_species; ++s)
      max_sparse = std::max(max_sparse, sparse_offset_[s + 1] - sparse_offset_[s]);
    gp_uncertainty_kernel(pass_.unit, pass_.norm, sparse_, factor_, grouped_atoms_,
                          uncertainty_blocks_, n_blocks, sparse_offsets_device_,
                          factor_offsets_device_, max_sparse, basis_.power_size,
                          basis_.size - basis_.power_size, model_.two_body_weight, sparse_norm_,
                          model_.three_body_weight, model_.signal_std, uncertainty, normalised);
  }
  if (std::none_of(quadratic_species_.begin(), quadratic_species_.end(),
                   [](char q) { return q != 0; }))
    return;
  // The quadratic forms' atoms, grouped the same way (after the rows' kernel
  // has read its grouping: one buffer serves both).
  const int count = group_by_species(state.type, basis_.type_map, centres, quadratic_species_,
                                     natoms, grouped_atoms_)
                        .back();
  gp_uncertainty_quadratic_kernel(pass_.unit, pass_.norm, state.type, basis_.type_map,
                                  grouped_atoms_, count, quadratic_, quadratic_offsets_device_,
                                  model_.signal_std, uncertainty, normalised);
}

namespace {

// K(u, b) = σ² k (k + w₃|b_u||x_b|) (w₃ > 0: the three-body part) or σ² k² in
// place, for the m × n kernel block of the chunk of atoms order(start …)
// (GpPotential::uncertainty_by_products).
void square_kernel_block(const gp_batched::Matrix& kernel, int m, int n, double variance, double w3,
                         const ScalarView& sparse_norm, int sparse_first, const ScalarView& norm,
                         const Kokkos::View<const int*, MemSpace>& order, int start) {
  Kokkos::parallel_for(
      "GpPotential::variance_kernel_block", RangePolicy(0, m * n), KOKKOS_LAMBDA(int k) {
        const int u = k / n, b = k % n;
        double& value = kernel(u, b);
        value = w3 > 0.0 ? variance * value *
                               (value + w3 * sparse_norm(sparse_first + u) * norm(order(start + b)))
                         : variance * value * value;
      });
}

// The std of each atom b of the chunk from its projections P(·, b) (rank
// rows) and its row x_b = [b̂; q] (width numbers, b̂ the first size):
// σ²(1 + w|q|² + w₃|b|²) − |P(·, b)|².
void finish_variance_block(const gp_batched::Matrix& projection, int rank,
                           const gp_batched::Matrix& rows, int n, int size, int width,
                           double variance, double w, double w3, double inv_signal_std,
                           const ScalarView& norm, const Kokkos::View<const int*, MemSpace>& order,
                           int start, const ScalarView& uncertainty, const ScalarView& normalised) {
  Kokkos::parallel_for(
      "GpPotential::variance_finish", RangePolicy(0, n), KOKKOS_LAMBDA(int b) {
        double explained = 0.0, q2 = 0.0;
        for (int a = 0; a < rank; ++a) explained += projection(a, b) * projection(a, b);
        for (int e = size; e < width; ++e) q2 += rows(b, e) * rows(b, e);
        const int i = order(start + b);
        // The prior σ² k̃(x,x) = σ²(1 + w|q|² + w₃|b|²).
        const double norm_i = norm(i);
        const double v = variance * (1.0 + w * q2 + w3 * norm_i * norm_i) - explained;
        const double std = norm_i > 0.0 ? kmath::sqrt(v > 0.0 ? v : 0.0) : 0.0;
        uncertainty(i) = std;
        normalised(i) = std * inv_signal_std;
      });
}

}  // namespace

void GpPotential::uncertainty_by_products(const std::vector<int>& first, ScalarView uncertainty,
                                          ScalarView normalised) {
  const int size = basis_.power_size, width = basis_.size, pairs = width - size;
  const double variance = model_.signal_std * model_.signal_std, w = model_.two_body_weight;
  const double w3 = model_.three_body_weight;
  const int sparse_stride = int(sparse_.stride(0));
  // The largest M_s and rank, and the most atoms of one species.
  int sparse_max = 1, rank_max = 1, atoms_max = 0;
  for (int s = 0; s < basis_.n_species; ++s) {
    sparse_max = std::max(sparse_max, sparse_offset_[s + 1] - sparse_offset_[s]);
    rank_max = std::max(rank_max, rank_[s]);
    atoms_max = std::max(atoms_max, first[s + 1] - first[s]);
  }
  if (atoms_max == 0) return;
  // Atoms per product: on the host 256 (the M_s × chunk kernel block stays
  // in cache: 6 MB at M_s = 3000), on a device enough to fill it, each
  // buffer (rows, kernel block, projections) at most 2²⁴ numbers (128 MB).
  const int widest = std::max({sparse_max, rank_max, width});
  const int chunk = std::min(atoms_max, host_memory ? 256 : std::max(256, (1 << 24) / widest));
  // The buffers only grow, so that a call allocates nothing once they fit.
  variance_rows_ = grown(variance_rows_, "GpPotential::variance_rows", chunk, width);
  variance_kernel_ = grown(variance_kernel_, "GpPotential::variance_kernel", sparse_max, chunk);
  variance_projection_ =
      grown(variance_projection_, "GpPotential::variance_projection", rank_max, chunk);
  const gp_batched::Matrix rows = variance_rows_, kernel = variance_kernel_;
  const gp_batched::Matrix projection = variance_projection_;
  const int row_ld = int(rows.extent(1)), kernel_ld = int(kernel.extent(1));
  const int projection_ld = int(projection.extent(1));
  const Kokkos::View<const int*, MemSpace> grouped = grouped_atoms_;
  for (int s = 0; s < basis_.n_species; ++s) {
    const int m_s = sparse_offset_[s + 1] - sparse_offset_[s];
    const int rank = m_s > 0 ? rank_[s] : 0;
    const double* sparse_s = sparse_.data() + std::size_t(sparse_offset_[s]) * sparse_stride;
    const double* factor_s = factor_.data() + factor_offset_[s];
    for (int start = first[s]; start < first[s + 1]; start += chunk) {
      const int n = std::min(chunk, first[s + 1] - start);
      // The chunk's [b̂; q] rows.
      gp_batched::gather_rows(pass_.unit, grouped, start, n, width, rows);
      if (rank > 0) {
        // K = σ²[(B̂_s X̂ᵀ)∘(B̂_s X̂ᵀ) + w Q_s X_qᵀ] (M_s × n): the product,
        // squared in place, then the two-body part added; then P = R_s K.
        pass_.blas.multiply(false, true, m_s, n, size, 1.0, sparse_s, sparse_stride, rows.data(),
                            row_ld, 0.0, kernel.data(), kernel_ld);
        square_kernel_block(kernel, m_s, n, variance, w3, sparse_norm_, sparse_offset_[s],
                            pass_.norm, grouped, start);
        if (pairs > 0)
          pass_.blas.multiply(false, true, m_s, n, pairs, variance * w, sparse_s + size,
                              sparse_stride, rows.data() + size, row_ld, 1.0, kernel.data(),
                              kernel_ld);
        pass_.blas.multiply(false, false, rank, n, m_s, 1.0, factor_s, m_s, kernel.data(),
                            kernel_ld, 0.0, projection.data(), projection_ld);
      }
      finish_variance_block(projection, rank, rows, n, size, width, variance, w, w3,
                            1.0 / model_.signal_std, pass_.norm, grouped, start, uncertainty,
                            normalised);
    }
  }
}

// Σ_q (σ² ⟨W_q, x̂x̂ᵀ⟩)² with the packed forms, one atom per thread.
void gp_uncertainty_quadratic_kernel(
    const Kokkos::View<double**, Kokkos::LayoutRight, MemSpace>& unit, const ScalarView& norm,
    const IntView& type, const Kokkos::View<const int*, MemSpace>& type_map,
    const Kokkos::View<int*, MemSpace>& atoms, int count,
    const Kokkos::View<double**, Kokkos::LayoutRight, MemSpace>& forms,
    const Kokkos::View<int*, MemSpace>& offset, double signal_std, const ScalarView& uncertainty,
    const ScalarView& normalised) {
  const int size = int(unit.extent(1));
  const double signal_variance = signal_std * signal_std, inv_signal_std = 1.0 / signal_std;
  Kokkos::parallel_for(
      "GpPotential::uncertainty_quadratic", RangePolicy(0, count), KOKKOS_LAMBDA(int k) {
        const int i = atoms(k), s = type_map(type(i));
        const double* x = &unit(i, 0);
        double explained = 0.0;
        for (int q = offset(s); q < offset(s + 1); ++q) {
          const double* w = &forms(q, 0);
          double value = 0.0;
          for (int a = 0; a < size; ++a) {
            // Four partial sums: independent chains instead of one latency-bound sum.
            const double* KOKKOS_RESTRICT wa = w - a;
            double r0 = 0.0, r1 = 0.0, r2 = 0.0, r3 = 0.0;
            int b = a;
            for (; b + 4 <= size; b += 4) {
              r0 += wa[b] * x[b];
              r1 += wa[b + 1] * x[b + 1];
              r2 += wa[b + 2] * x[b + 2];
              r3 += wa[b + 3] * x[b + 3];
            }
            for (; b < size; ++b) r0 += wa[b] * x[b];
            value += x[a] * ((r0 + r1) + (r2 + r3));
            w += size - a;
          }
          value *= signal_variance;
          explained += value * value;
        }
        const double variance = signal_variance - explained;
        const double std = norm(i) > 0.0 ? kmath::sqrt(variance > 0.0 ? variance : 0.0) : 0.0;
        uncertainty(i) = std;
        normalised(i) = std * inv_signal_std;
      });
}

void GpPotential::flag_novel(const AtomState& state, const NeighborList& list,
                             ScalarView uncertainty, ScalarView normalised, ScalarView novel) {
  if (novelty_distance_.extent(0) == 0) return;  // zeros: the model has no training distances
  gp_novelty_kernel(basis_, list.view(), state.x, state.type, novelty_distance_, novelty_density_,
                    model_.signal_std, uncertainty, normalised, novel);
}

void gp_novelty_kernel(const b2::B2Basis& basis, const NeighborView& neighbors, const VecView& x,
                       const IntView& type,
                       const Kokkos::View<double**, Kokkos::LayoutRight, MemSpace>& closest,
                       const Kokkos::View<double**, Kokkos::LayoutRight, MemSpace>& density_bounds,
                       double sigma, const ScalarView& uncertainty, const ScalarView& normalised,
                       const ScalarView& novel) {
  const int natoms = int(novel.extent(0));
  const bool check_density = density_bounds.extent(0) > 0;
  Kokkos::parallel_for(
      "GpPotential::novel", RangePolicy(0, natoms), KOKKOS_LAMBDA(int i) {
        const int s_i = basis.type_map(type(i));
        bool flagged = false;
        double density = 0.0;  // Σ_j (r_c − r_ij)² over the neighbours within their pair cutoff
        for (int k = neighbors.offsets(i); k < neighbors.offsets(i + 1) && !flagged; ++k) {
          double r[3];
          neighbors.delta(x, i, k, r);
          const int s_j = basis.type_map(type(neighbors.index(k)));
          const double r2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
          const double rc = basis.cutoff(s_i, s_j), limit = closest(s_i, s_j);
          if (!(r2 < rc * rc)) continue;
          flagged = r2 < limit * limit;
          const double gap = rc - kmath::sqrt(r2);
          density += gap * gap;
        }
        // With neighbours: ρ outside the training range; without: a species
        // no training atom of which was isolated (column 2 counts them).
        flagged = flagged || (check_density && (density > 0.0 ? density < density_bounds(s_i, 0) ||
                                                                    density > density_bounds(s_i, 1)
                                                              : density_bounds(s_i, 2) == 0.0));
        if (!flagged) return;
        novel(i) = 1.0;
        if (uncertainty(i) < sigma) uncertainty(i) = sigma;
        if (normalised(i) < 1.0) normalised(i) = 1.0;
      });
}

std::unique_ptr<Potential> make_gp_potential(MappedGp model, std::string spec,
                                             std::filesystem::path model_file) {
  return std::make_unique<GpPotential>(std::move(model), std::move(spec), std::move(model_file));
}

}  // namespace otfgp
