#include "otfgp/gp/sparse_gp.hpp"

#include <cblas.h>
#include <lapacke.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "otfgp/core/error.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/units.hpp"

namespace otfgp {

namespace {

constexpr int energy_kind = static_cast<int>(LabelKind::energy);
constexpr int force_kind = static_cast<int>(LabelKind::force);
constexpr int stress_kind = static_cast<int>(LabelKind::stress);

std::array<double, label_kind_count> noises(const GpHyperparameters& h) {
  return {h.energy_noise, h.force_noise, h.stress_noise};
}

bool periodic_3d(const Structure& s) {
  return s.pbc[0] && s.pbc[1] && s.pbc[2];
}

struct UsedLabels {
  bool energy, forces, stress;
};

UsedLabels used_labels(const Structure& frame, const LabelSelection& labels) {
  return {labels.energy && frame.energy.has_value(), labels.forces && frame.forces.has_value(),
          labels.stress && frame.stress.has_value() && periodic_3d(frame)};
}

// Folds an upper-trapezoidal block (rows × n, row i zero left of column i)
// into the n × n upper-triangular factor `top`: QR of [top; block].
void merge_trapezoid(Eigen::MatrixXd& top, Eigen::MatrixXd block) {
  const int n = static_cast<int>(top.cols());
  const int rows = static_cast<int>(block.rows());
  if (rows == 0 || n == 0) return;
  const int block_size = std::min(32, n);
  Eigen::MatrixXd t(block_size, n);
  const lapack_int info = LAPACKE_dtpqrt(LAPACK_COL_MAJOR, rows, n, std::min(rows, n), block_size,
                                         top.data(), n, block.data(), rows, t.data(), block_size);
  if (info != 0) throw std::runtime_error("SparseGp: dtpqrt failed, info " + std::to_string(info));
}

// C = A·Bᵀ with B the rows [row, row + rows) of a column-major matrix: the
// hot product of the label rows, through the optimised BLAS (Eigen's own GEMM
// runs with whatever vector width the build targets).
void multiply_by_transposed_rows(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b, int row,
                                 int rows, Eigen::MatrixXd& c) {
  c.resize(a.rows(), rows);
  if (a.rows() == 0 || rows == 0) return;
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, static_cast<int>(a.rows()), rows,
              static_cast<int>(a.cols()), 1.0, a.data(), static_cast<int>(a.rows()), b.data() + row,
              static_cast<int>(b.rows()), 0.0, c.data(), static_cast<int>(a.rows()));
}

// Dense O(M³) steps go through LAPACK/BLAS rather than Eigen's own kernels,
// which run with whatever vector width the build targets.
Eigen::MatrixXd upper_inverse(const Eigen::MatrixXd& r) {
  Eigen::MatrixXd inverse = r.triangularView<Eigen::Upper>();
  if (r.rows() == 0) return inverse;
  const lapack_int info = LAPACKE_dtrtri(LAPACK_COL_MAJOR, 'U', 'N', static_cast<int>(r.rows()),
                                         inverse.data(), static_cast<int>(r.rows()));
  if (info != 0)
    throw std::runtime_error("SparseGp: singular triangular factor (dtrtri info " +
                             std::to_string(info) + ")");
  return inverse;
}

// B := R⁻¹B, or R⁻ᵀB with `transposed`, for upper-triangular R.
void solve_upper(const Eigen::MatrixXd& r, Eigen::MatrixXd& b, bool transposed) {
  if (b.size() == 0) return;
  cblas_dtrsm(CblasColMajor, CblasLeft, CblasUpper, transposed ? CblasTrans : CblasNoTrans,
              CblasNonUnit, static_cast<int>(b.rows()), static_cast<int>(b.cols()), 1.0, r.data(),
              static_cast<int>(r.rows()), b.data(), static_cast<int>(b.rows()));
}

// R·B for upper-triangular R.
Eigen::MatrixXd upper_times(const Eigen::MatrixXd& r, Eigen::MatrixXd b) {
  if (b.size() == 0) return b;
  cblas_dtrmm(CblasColMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasNonUnit,
              static_cast<int>(b.rows()), static_cast<int>(b.cols()), 1.0, r.data(),
              static_cast<int>(r.rows()), b.data(), static_cast<int>(b.rows()));
  return b;
}

// AᵀA (both triangles).
Eigen::MatrixXd gram(const Eigen::MatrixXd& a) {
  const int n = static_cast<int>(a.cols());
  Eigen::MatrixXd c = Eigen::MatrixXd::Zero(n, n);
  if (n == 0 || a.rows() == 0) return c;
  cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, n, static_cast<int>(a.rows()), 1.0, a.data(),
              static_cast<int>(a.rows()), 0.0, c.data(), n);
  c.triangularView<Eigen::StrictlyLower>() = c.transpose();
  return c;
}

// Eigenvalues (ascending) and eigenvectors of a symmetric matrix (LAPACK dsyevd).
void symmetric_eigen(Eigen::MatrixXd& matrix_then_vectors, Eigen::VectorXd& values) {
  const int n = static_cast<int>(matrix_then_vectors.rows());
  values.resize(n);
  if (n == 0) return;
  const lapack_int info =
      LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', n, matrix_then_vectors.data(), n, values.data());
  if (info != 0) throw std::runtime_error("SparseGp: dsyevd failed, info " + std::to_string(info));
}

// Rows `rows` and columns `cols` of a matrix.
Eigen::MatrixXd submatrix(const Eigen::MatrixXd& m, const std::vector<int>& rows,
                          const std::vector<int>& cols) {
  Eigen::MatrixXd out(rows.size(), cols.size());
  for (std::size_t j = 0; j < cols.size(); ++j)
    for (std::size_t i = 0; i < rows.size(); ++i) out(i, j) = m(rows[i], cols[j]);
  return out;
}

Eigen::MatrixXd select_rows(const Eigen::MatrixXd& m, const std::vector<int>& rows) {
  Eigen::MatrixXd out(rows.size(), m.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(i) = m.row(rows[i]);
  return out;
}

std::vector<std::vector<int>> indices_by_species(const std::vector<int>& species, int num_species) {
  std::vector<std::vector<int>> out(num_species);
  for (std::size_t p = 0; p < species.size(); ++p)
    out.at(species[p]).push_back(static_cast<int>(p));
  return out;
}

// Directions orthogonal to a frame's composition (atoms per species, length S)
// over the species it contains: the splits of its energy that no label fixes.
// S × max(p − 1, 0) for p species present.
Eigen::MatrixXd split_directions(const Eigen::VectorXd& counts) {
  std::vector<int> present;
  for (int sp = 0; sp < counts.size(); ++sp)
    if (counts[sp] > 0) present.push_back(sp);
  const int p_count = static_cast<int>(present.size());
  Eigen::MatrixXd directions = Eigen::MatrixXd::Zero(counts.size(), std::max(p_count - 1, 0));
  if (p_count > 1) {
    Eigen::MatrixXd composition(p_count, 1);
    for (int a = 0; a < p_count; ++a) composition(a, 0) = counts[present[a]];
    // The last p − 1 columns of the Householder Q of the composition vector.
    const Eigen::HouseholderQR<Eigen::MatrixXd> qr(composition);
    const Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(p_count, p_count);
    for (int a = 0; a < p_count; ++a) directions.row(present[a]) = q.row(a).tail(p_count - 1);
  }
  return directions;
}

// Unweighted kernel rows of one frame's labels against the sparse
// environments of one species (ms of them), accumulated over that species'
// atoms. The force and stress rows are transposed (ms × rows) so that the
// scatter adds contiguous columns.
struct SpeciesKernelRows {
  Eigen::RowVectorXd energy;  // 1 × ms
  Eigen::MatrixXd splits;     // split directions × ms
  Eigen::MatrixXd forces_t;   // ms × 3N (empty without force labels)
  Eigen::MatrixXd stress_t;   // ms × 6 (empty without stress labels)
};

// Adds atom i's pair derivatives `by_pair` (ms × 3·count, ∂k̃(u, d_i)/∂r_k for
// its entries k) to the force and stress rows.
void scatter_pair_derivatives(const DescriptorValues& values, UsedLabels used, int i,
                              const Eigen::Ref<const Eigen::MatrixXd>& by_pair,
                              SpeciesKernelRows& rows) {
  const int begin = values.offsets[i], count = values.offsets[i + 1] - begin;
  for (int q = 0; q < count; ++q) {
    const int k = begin + q, j = values.neighbor[k];
    const auto d = by_pair.middleCols(3 * q, 3);
    if (used.forces) {
      // F = −∂E/∂x with ∂r_ij/∂x_j = I and ∂r_ij/∂x_i = −I.
      rows.forces_t.middleCols(3 * j, 3) -= d;
      rows.forces_t.middleCols(3 * i, 3) += d;
    }
    if (used.stress) {
      // σ = (1/V) Σ_k r_k ⊗ ∂ε/∂r_k, symmetrised, Voigt xx yy zz yz xz xy.
      const double rx = values.pair_vector(k, 0), ry = values.pair_vector(k, 1),
                   rz = values.pair_vector(k, 2);
      rows.stress_t.col(0) += rx * d.col(0);
      rows.stress_t.col(1) += ry * d.col(1);
      rows.stress_t.col(2) += rz * d.col(2);
      rows.stress_t.col(3) += 0.5 * (ry * d.col(2) + rz * d.col(1));
      rows.stress_t.col(4) += 0.5 * (rx * d.col(2) + rz * d.col(0));
      rows.stress_t.col(5) += 0.5 * (rx * d.col(1) + ry * d.col(0));
    }
  }
}

// Atom i's kernel gradient rows (ms × D) stacked for Descriptor::pull_back,
// which gives ∂k̃(u, d_i)/∂r_k for all of them in one call after the atom loop.
struct PendingPullBack {
  std::vector<int> atoms;
  Eigen::MatrixXd adjoints;  // ms rows per atom
};

// Scatters the pull-back of the pending atoms' kernel gradients.
void scatter_pull_back(const DescriptorValues& values, UsedLabels used,
                       const DescriptorPullBack& pull_back, const PendingPullBack& pending,
                       SpeciesKernelRows& rows) {
  if (pending.atoms.empty()) return;
  const int ms = static_cast<int>(rows.energy.size());
  const Eigen::MatrixXd by_pair =
      pull_back(pending.atoms,
                pending.adjoints.topRows(static_cast<Eigen::Index>(pending.atoms.size()) * ms));
  int column = 0;
  for (int i : pending.atoms) {
    const int count = values.offsets[i + 1] - values.offsets[i];
    scatter_pair_derivatives(values, used, i, by_pair.middleCols(column, 3 * count), rows);
    column += 3 * count;
  }
}

// `prepared` = kernel.prepare(the sparse descriptors of species s). The pair
// derivatives come from values.gradient, or from `pull_back` when given.
SpeciesKernelRows species_kernel_rows(const Kernel& kernel, const DescriptorValues& values,
                                      UsedLabels used, const Eigen::MatrixXd& split_directions,
                                      int s, const Eigen::MatrixXd& prepared,
                                      const DescriptorPullBack& pull_back = {}) {
  const int natoms = static_cast<int>(values.values.rows());
  const int ms = static_cast<int>(prepared.rows());
  const bool derivatives = used.forces || used.stress;
  SpeciesKernelRows rows;
  rows.energy = Eigen::RowVectorXd::Zero(ms);
  rows.splits = Eigen::MatrixXd::Zero(split_directions.cols(), ms);
  rows.forces_t = Eigen::MatrixXd::Zero(ms, used.forces ? 3 * natoms : 0);
  rows.stress_t = Eigen::MatrixXd::Zero(ms, used.stress ? 6 : 0);
  Eigen::VectorXd kernel_values;
  Eigen::MatrixXd kernel_gradient, by_pair;
  PendingPullBack pending;
  if (derivatives && pull_back) {
    const auto atoms = std::count(values.species.begin(), values.species.end(), s);
    pending.adjoints.resize(atoms * ms, values.size);
  }
  for (int i = 0; i < natoms; ++i) {
    if (i % 64 == 63) stop_point("the kernel rows of a " + std::to_string(natoms) + "-atom frame");
    if (values.species[i] != s) continue;
    kernel.value_and_gradient(values.values.row(i).transpose(), prepared, kernel_values,
                              kernel_gradient);
    rows.energy += kernel_values.transpose();
    for (Eigen::Index c = 0; c < split_directions.cols(); ++c)
      rows.splits.row(c) += split_directions(s, c) * kernel_values.transpose();
    const int begin = values.offsets[i], count = values.offsets[i + 1] - begin;
    if (!derivatives || count == 0) continue;
    if (pull_back) {
      pending.adjoints.middleRows(static_cast<Eigen::Index>(pending.atoms.size()) * ms, ms) =
          kernel_gradient;
      pending.atoms.push_back(i);
      continue;
    }
    // ∂k̃(u, d_i)/∂r_k for every entry k of atom i: ms × 3·count.
    multiply_by_transposed_rows(kernel_gradient, values.gradient, 3 * begin, 3 * count, by_pair);
    scatter_pair_derivatives(values, used, i, by_pair, rows);
  }
  scatter_pull_back(values, used, pull_back, pending, rows);
  return rows;
}

// The kernel blocks of candidate sparse environments (rows of `descriptors`,
// species `species`): `block` = K̃_nn among them and `cross` = K̃_on between
// the current sparse set (`old`, `old_species`) and them; kernels vanish
// between species.
void candidate_kernels(const Kernel& kernel, const Eigen::MatrixXd& old,
                       const std::vector<int>& old_species, const Eigen::MatrixXd& descriptors,
                       const std::vector<int>& species, int num_species, Eigen::MatrixXd& cross,
                       Eigen::MatrixXd& block) {
  const int candidates = static_cast<int>(species.size());
  cross = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(old_species.size()), candidates);
  block = Eigen::MatrixXd::Zero(candidates, candidates);
  const auto old_of = indices_by_species(old_species, num_species);
  const auto new_of = indices_by_species(species, num_species);
  for (int s = 0; s < num_species; ++s) {
    if (new_of[s].empty()) continue;
    const Eigen::MatrixXd new_s = select_rows(descriptors, new_of[s]);
    const Eigen::MatrixXd k_nn = kernel.matrix(new_s, new_s);
    for (std::size_t b = 0; b < new_of[s].size(); ++b)
      for (std::size_t a = 0; a < new_of[s].size(); ++a)
        block(new_of[s][a], new_of[s][b]) = k_nn(a, b);
    if (old_of[s].empty()) continue;
    const Eigen::MatrixXd k_on = kernel.matrix(select_rows(old, old_of[s]), new_s);
    for (std::size_t b = 0; b < new_of[s].size(); ++b)
      for (std::size_t a = 0; a < old_of[s].size(); ++a)
        cross(old_of[s][a], new_of[s][b]) = k_on(a, b);
  }
}

// Cholesky of the residual covariance S (`schur`) in the given order,
// skipping candidates whose pivot (the residual variance given everything
// accepted before them) is below min_residual × their prior variance (the
// diagonal of `block`); min_residual < 0 keeps every candidate, with jitter
// as a fallback. Returns the accepted candidates; column a of `lower` is the
// factor column of the a-th accepted one. `old_count` only names them in logs.
std::vector<int> accept_by_residual(const Eigen::MatrixXd& block, const Eigen::MatrixXd& schur,
                                    double min_residual, int old_count, Eigen::MatrixXd& lower) {
  const int candidates = static_cast<int>(block.rows());
  std::vector<int> accepted;
  lower = Eigen::MatrixXd::Zero(candidates, candidates);
  for (int j = 0; j < candidates; ++j) {
    const int a = static_cast<int>(accepted.size());
    const double scale = block(j, j);
    double pivot = schur(j, j) - lower.row(j).head(a).squaredNorm();
    if (!(scale > 0)) continue;
    if (min_residual < 0) {
      // Environments that must be kept (a rebuild): jitter only as a fallback.
      const double jitter = 1e-12 * scale;
      if (!(pivot > jitter)) {
        logger().warn(
            "SparseGp: sparse environment {} is (nearly) a duplicate; adding jitter {:.1e} to K_uu",
            old_count + a, jitter);
        pivot = jitter;
      }
    } else if (!(pivot > min_residual * scale)) {
      continue;
    }
    const double root = std::sqrt(pivot);
    lower(j, a) = root;
    if (j + 1 < candidates)
      lower.col(a).tail(candidates - j - 1) =
          (schur.col(j).tail(candidates - j - 1) -
           lower.bottomLeftCorner(candidates - j - 1, a) * lower.row(j).head(a).transpose()) /
          root;
    accepted.push_back(j);
  }
  const int added = static_cast<int>(accepted.size());
  if (added < candidates)
    logger().debug(
        "SparseGp: {} of {} candidate sparse environments skipped (residual variance below {:.1e})",
        candidates - added, candidates, min_residual);
  return accepted;
}

// The factor F of K̃_uu grown by the accepted candidates: [F F12; 0 F22] with
// the accepted columns of F12 = F⁻ᵀ K̃_on and F22 the transposed rows of their
// residual Cholesky factor `lower` (see accept_by_residual).
Eigen::MatrixXd grown_kernel_factor(const Eigen::MatrixXd& factor, const Eigen::MatrixXd& f12,
                                    const Eigen::MatrixXd& lower,
                                    const std::vector<int>& accepted) {
  const int old_count = static_cast<int>(f12.rows());
  const int added = static_cast<int>(accepted.size());
  Eigen::MatrixXd f22(added, added);
  for (int p = 0; p < added; ++p)
    for (int q = 0; q < added; ++q) f22(q, p) = lower(accepted[p], q);  // transposed: upper
  Eigen::MatrixXd f12_accepted(old_count, added);
  for (int p = 0; p < added; ++p) f12_accepted.col(p) = f12.col(accepted[p]);
  Eigen::MatrixXd grown = Eigen::MatrixXd::Zero(old_count + added, old_count + added);
  grown.topLeftCorner(old_count, old_count) = factor;
  grown.topRightCorner(old_count, added) = f12_accepted;
  grown.bottomRightCorner(added, added) = f22;
  return grown;
}

// Whether new kernel columns (`species`: one entry per column) are cheaper on
// a stored frame through Descriptor::pull_back, whose cost grows with the
// columns per species R (one contraction per column and atom), than through
// the descriptor gradients, a fixed 3·entries × D per atom plus one BLAS
// product with the R columns. Measured with `bench_sparse_gp pull-back` (B2,
// 2-core Xeon VM, 2026-11-28; docs/BENCHMARKS.md): the paths cost the same
// at R ≈ 15–30 for Si (64 atoms, D = 144) and R ≈ 90 for BaRhO₃ (100 atoms,
// 3 species, D = 684), i.e. at R ≈ D/10 … D/5. Below, the pull-back wins
// (for D = 684: 30× at R = 1, 9× at R = 8, 5× at R = 16); above, the
// gradients do (2.7× at R = 512).
bool pull_back_is_cheaper(const std::vector<int>& species, int num_species, int descriptor_size) {
  std::vector<int> per_species(num_species, 0);
  for (int s : species) ++per_species.at(s);
  const int most = *std::max_element(per_species.begin(), per_species.end());
  return 8 * most <= descriptor_size;
}

}  // namespace

LabelSelection learnt_labels(const Structure& frame, const LabelSelection& asked) {
  const UsedLabels used = used_labels(frame, asked);
  LabelSelection learnt = asked;
  learnt.energy = used.energy;
  learnt.forces = used.forces;
  learnt.stress = used.stress;
  return learnt;
}

const char* label_kind_name(LabelKind kind) {
  switch (kind) {
    case LabelKind::energy:
      return "energy";
    case LabelKind::force:
      return "force";
    case LabelKind::stress:
      return "stress";
  }
  return "?";
}

void validate(const GpHyperparameters& h) {
  const std::pair<const char*, double> values[] = {{"signal_std", h.signal_std},
                                                   {"energy_noise", h.energy_noise},
                                                   {"force_noise", h.force_noise},
                                                   {"stress_noise", h.stress_noise}};
  for (const auto& [name, value] : values)
    if (!(value > 0) || !std::isfinite(value))
      throw Error(std::string("GP hyperparameter ") + name + " must be positive and finite, got " +
                  std::to_string(value));
}

SparseGp::SparseGp(std::shared_ptr<const Descriptor> descriptor,
                   std::shared_ptr<const Kernel> kernel, GpHyperparameters hyperparameters,
                   Eigen::VectorXd reference_energies)
    : descriptor_(std::move(descriptor)),
      kernel_(std::move(kernel)),
      hyperparameters_(hyperparameters),
      reference_energies_(std::move(reference_energies)) {
  if (!descriptor_ || !kernel_)
    throw std::invalid_argument("SparseGp: descriptor and kernel are required");
  validate(hyperparameters_);
  if (kernel_->two_body_columns() != descriptor_->two_body_size())
    throw Error("SparseGp: the kernel's two-body part reads " +
                std::to_string(kernel_->two_body_columns()) +
                " columns, the descriptor's two-body block has " +
                std::to_string(descriptor_->two_body_size()));
  if (reference_energies_.size() != num_species())
    throw Error("SparseGp: " + std::to_string(reference_energies_.size()) +
                " reference energies for " + std::to_string(num_species()) + " species");
  sparse_descriptors_.resize(0, descriptor_->size());
  novelty_ = NoveltyReference(num_species());
}

double ForceStdTerms::force_std(double energy_std, double neighbour_std, double force_norm) const {
  const double a = energy_scale * energy_std, g = neighbour_scale * neighbour_std,
               c = relative * force_norm;
  return std::sqrt(a * a + g * g + floor * floor + c * c);
}

ForceStdTerms ForceUncertaintyCalibration::terms(int s) const {
  return s >= 0 && s < static_cast<int>(species.size()) ? species[s] : pooled;
}

Eigen::VectorXd SparseGp::novel_atoms(const DescriptorValues& values, double margin) const {
  const int natoms = static_cast<int>(values.species.size());
  Eigen::VectorXd novel = Eigen::VectorXd::Zero(natoms);
  if (values.offsets.size() != std::size_t(natoms) + 1) return novel;
  const Eigen::VectorXd density = neighbour_density(values, *descriptor_);
  for (int i = 0; i < natoms; ++i) {
    const int a = values.species[i];
    for (int e = values.offsets[i]; e < values.offsets[i + 1]; ++e)
      if (values.pair_vector.row(e).norm() <
          (1.0 - margin) * novelty_.shortest_pair_distance(a, values.species[values.neighbor[e]]))
        novel[i] = 1.0;
    if (values.offsets[i + 1] > values.offsets[i]
            ? density[i] < (1.0 - margin) * novelty_.density_range(a, 0) ||
                  density[i] > (1.0 + margin) * novelty_.density_range(a, 1)
            : novelty_.isolated_atoms(a) == 0.0)
      novel[i] = 1.0;
  }
  return novel;
}

Eigen::VectorXd neighbour_density(const DescriptorValues& values, const Descriptor& descriptor) {
  const int natoms = static_cast<int>(values.species.size());
  Eigen::VectorXd density = Eigen::VectorXd::Zero(natoms);
  if (values.offsets.size() != std::size_t(natoms) + 1) return density;
  for (int i = 0; i < natoms; ++i)
    for (int e = values.offsets[i]; e < values.offsets[i + 1]; ++e) {
      const double gap =
          descriptor.pair_cutoff(values.species[i], values.species[values.neighbor[e]]) -
          values.pair_vector.row(e).norm();
      density[i] += gap * gap;
    }
  return density;
}

NoveltyReference::NoveltyReference(int species)
    : shortest_pair_distance(
          Eigen::MatrixXd::Constant(species, species, std::numeric_limits<double>::infinity())),
      density_range(species, 2),
      isolated_atoms(Eigen::VectorXd::Zero(species)) {
  density_range.col(0).setConstant(std::numeric_limits<double>::infinity());
  density_range.col(1).setZero();
}

void NoveltyReference::add(const DescriptorValues& values, const Descriptor& descriptor) {
  const int natoms = static_cast<int>(values.species.size());
  if (values.offsets.size() != std::size_t(natoms) + 1) return;  // no entries
  const Eigen::VectorXd density = neighbour_density(values, descriptor);
  for (int i = 0; i < natoms; ++i) {
    const int a = values.species[i];
    for (int e = values.offsets[i]; e < values.offsets[i + 1]; ++e) {
      const int b = values.species[values.neighbor[e]];
      const double r = values.pair_vector.row(e).norm();
      if (r < shortest_pair_distance(a, b))
        shortest_pair_distance(a, b) = shortest_pair_distance(b, a) = r;
    }
    if (values.offsets[i + 1] == values.offsets[i]) {  // no neighbours
      isolated_atoms(a) += 1.0;
      continue;
    }
    density_range(a, 0) = std::min(density_range(a, 0), density[i]);
    density_range(a, 1) = std::max(density_range(a, 1), density[i]);
  }
}

void SparseGp::set_hyperparameters(const GpHyperparameters& hyperparameters) {
  validate(hyperparameters);
  hyperparameters_ = hyperparameters;
  solution_.valid = false;
}

int SparseGp::num_labels() const {
  int total = 0;
  for (const auto& f : factors_.labels) total += f.rows();
  return total;
}

DescriptorValues SparseGp::describe(const Structure& structure, bool gradients) const {
  AtomState state = AtomState::from_structure(structure);
  NeighborList list(descriptor_->cutoff(), 0.0);
  list.build(state);
  return descriptor_->compute(state, list, gradients);
}

SparseGp::LabelRows SparseGp::label_rows(const Structure& frame, const DescriptorValues& values,
                                         const LabelSelection& labels,
                                         const Eigen::MatrixXd& sparse,
                                         const std::vector<int>& species,
                                         const DescriptorPullBack& pull_back) const {
  const UsedLabels used = used_labels(frame, labels);
  const int natoms = frame.size();
  const int m = static_cast<int>(species.size());
  const bool derivatives = used.forces || used.stress;
  if (values.values.rows() != natoms)
    throw std::invalid_argument("SparseGp: descriptors do not match the frame");
  if (derivatives && !pull_back && values.gradient.rows() != 3 * values.pair_vector.rows())
    throw std::invalid_argument("SparseGp: force and stress labels need descriptor gradients");

  LabelRows rows;
  rows.kernel[energy_kind] = Eigen::MatrixXd::Zero(used.energy ? 1 : 0, m);
  rows.kernel[force_kind] = Eigen::MatrixXd::Zero(used.forces ? 3 * natoms : 0, m);
  rows.kernel[stress_kind] = Eigen::MatrixXd::Zero(used.stress ? 6 : 0, m);
  const double volume = used.stress ? frame.volume() : 1.0;

  Eigen::VectorXd counts = Eigen::VectorXd::Zero(num_species());
  for (int i = 0; i < natoms; ++i) counts[values.species[i]] += 1.0;
  const Eigen::MatrixXd directions = split_directions(counts);
  rows.splits = Eigen::MatrixXd::Zero(directions.cols(), m);

  const auto columns_of = indices_by_species(species, num_species());
  for (int s = 0; s < num_species(); ++s) {
    const auto& columns = columns_of[s];
    const int ms = static_cast<int>(columns.size());
    if (ms == 0) continue;
    const SpeciesKernelRows species_rows =
        species_kernel_rows(*kernel_, values, used, directions, s,
                            kernel_->prepare(select_rows(sparse, columns)), pull_back);
    for (int p = 0; p < ms; ++p) {
      if (used.energy) rows.kernel[energy_kind](0, columns[p]) = species_rows.energy[p];
      rows.splits.col(columns[p]) =
          species_rows.splits.col(p) / std::sqrt(static_cast<double>(natoms));
      if (used.forces)
        rows.kernel[force_kind].col(columns[p]) = species_rows.forces_t.row(p).transpose();
      if (used.stress)
        rows.kernel[stress_kind].col(columns[p]) =
            species_rows.stress_t.row(p).transpose() / volume;
    }
  }

  // Targets, with the energy row weighted by 1/√N so that its noise is σ_e√N.
  rows.target[energy_kind].resize(used.energy ? 1 : 0);
  if (used.energy) {
    double reference = 0.0;
    for (int i = 0; i < natoms; ++i) reference += reference_energies_[values.species[i]];
    const double weight = 1.0 / std::sqrt(static_cast<double>(natoms));
    rows.target[energy_kind][0] = weight * (*frame.energy - reference);
    rows.kernel[energy_kind] *= weight;
  }
  rows.target[force_kind].resize(used.forces ? 3 * natoms : 0);
  if (used.forces)
    for (int i = 0; i < natoms; ++i)
      for (int c = 0; c < 3; ++c) rows.target[force_kind][3 * i + c] = (*frame.forces)(i, c);
  // Force rows of atoms with a noise scale s: weighted by 1/s (noise s·σ_f).
  if (used.forces && !labels.force_noise_scale.empty())
    for (int i = 0; i < natoms; ++i) {
      const double weight = 1.0 / labels.force_noise_scale[i];
      rows.kernel[force_kind].middleRows(3 * i, 3) *= weight;
      rows.target[force_kind].segment(3 * i, 3) *= weight;
    }
  rows.target[stress_kind] = used.stress ? Eigen::VectorXd(*frame.stress) : Eigen::VectorXd(0);
  return rows;
}

int SparseGp::add_frame(const Structure& frame, const LabelSelection& labels) {
  const UsedLabels used = used_labels(frame, labels);
  return add_frame(frame, describe(frame, used.forces || used.stress), labels);
}

int SparseGp::add_frame(const Structure& frame, const DescriptorValues& values,
                        const LabelSelection& labels) {
  frame.validate();
  make_growable();
  const UsedLabels used = used_labels(frame, labels);
  const std::vector<double>& scales = labels.force_noise_scale;
  if (!scales.empty() && static_cast<int>(scales.size()) != frame.size())
    throw std::invalid_argument("SparseGp: " + std::to_string(scales.size()) +
                                " force noise scales for a frame of " +
                                std::to_string(frame.size()) + " atoms");
  for (double scale : scales)
    if (!(scale > 0.0) || !std::isfinite(scale))
      throw std::invalid_argument("SparseGp: a force noise scale must be positive and finite");
  if (!used.energy && !used.forces && !used.stress)
    logger().warn("SparseGp: frame {} ({}) carries none of the selected labels", frames_.size(),
                  frame.formula());
  // Stop points (core/interrupt.hpp) only where nothing has changed yet.
  stop_point("the descriptors of a " + std::to_string(frame.size()) + "-atom frame");
  LabelRows rows = label_rows(frame, values, labels, sparse_descriptors_, sparse_species_);
  stop_point("the kernel rows of a " + std::to_string(frame.size()) + "-atom frame");
  for (int g = 0; g < label_kind_count; ++g)
    factors_.labels[g].add_rows(rows.kernel[g], rows.target[g]);
  factors_.splits.add_rows(rows.splits, Eigen::VectorXd::Zero(rows.splits.rows()));
  if (used.energy) factors_.energy_log_atoms += std::log(static_cast<double>(frame.size()));
  if (used.forces)
    for (double scale : labels.force_noise_scale)
      factors_.force_log_scales += 6.0 * std::log(scale);
  novelty_.add(values, *descriptor_);
  frames_.push_back(frame);
  frame_labels_.push_back(labels);
  solution_.valid = false;
  return num_frames() - 1;
}

int SparseGp::add_sparse_atoms(int frame_index, const std::vector<int>& atoms,
                               double min_residual) {
  return add_sparse_atoms(describe(frames_.at(frame_index), false), frame_index, atoms,
                          min_residual);
}

int SparseGp::add_sparse_atoms(const DescriptorValues& values, int frame_index,
                               const std::vector<int>& atoms, double min_residual) {
  Eigen::MatrixXd rows(atoms.size(), values.size);
  std::vector<int> species(atoms.size());
  std::vector<SparseEnvironmentSource> sources(atoms.size());
  for (std::size_t a = 0; a < atoms.size(); ++a) {
    const int i = atoms[a];
    if (i < 0 || i >= static_cast<int>(values.species.size()))
      throw std::out_of_range("SparseGp::add_sparse_atoms: atom index");
    rows.row(a) = values.values.row(i);
    species[a] = values.species[i];
    sources[a] = {frame_index, i};
  }
  return add_sparse_environments(rows, species, sources, min_residual);
}

int SparseGp::add_sparse_environments(const Eigen::MatrixXd& descriptors,
                                      const std::vector<int>& species,
                                      const std::vector<SparseEnvironmentSource>& sources,
                                      double min_residual) {
  if (descriptors.cols() != descriptor_->size() ||
      descriptors.rows() != static_cast<Eigen::Index>(species.size()))
    throw std::invalid_argument("SparseGp::add_sparse_environments: sizes disagree");
  if (!sources.empty() && sources.size() != species.size())
    throw std::invalid_argument("SparseGp::add_sparse_environments: one source per environment");
  for (int s : species)
    if (s < 0 || s >= num_species())
      throw std::out_of_range("SparseGp::add_sparse_environments: species index");
  make_growable();
  const int old_count = num_sparse();

  // Residual covariance of the candidates given the current sparse set,
  // S = K̃_nn − F12ᵀF12 with F12 = F⁻ᵀ K̃_on.
  Eigen::MatrixXd cross, block;
  candidate_kernels(*kernel_, sparse_descriptors_, sparse_species_, descriptors, species,
                    num_species(), cross, block);
  Eigen::MatrixXd f12 = cross;
  solve_upper(factors_.kernel_factor, f12, true);
  const Eigen::MatrixXd schur = block - gram(f12);
  Eigen::MatrixXd lower;
  const std::vector<int> accepted =
      accept_by_residual(block, schur, min_residual, old_count, lower);
  const int added = static_cast<int>(accepted.size());
  if (added == 0) return 0;

  Eigen::MatrixXd new_descriptors(added, descriptors.cols());
  std::vector<int> new_species(added);
  std::vector<SparseEnvironmentSource> new_sources(added);
  for (int p = 0; p < added; ++p) {
    new_descriptors.row(p) = descriptors.row(accepted[p]);
    new_species[p] = species[accepted[p]];
    if (!sources.empty()) new_sources[p] = sources[accepted[p]];
  }
  add_kernel_columns(new_descriptors, new_species);
  factors_.kernel_factor = grown_kernel_factor(factors_.kernel_factor, f12, lower, accepted);

  sparse_descriptors_.conservativeResize(old_count + added, Eigen::NoChange);
  sparse_descriptors_.bottomRows(added) = new_descriptors;
  sparse_species_.insert(sparse_species_.end(), new_species.begin(), new_species.end());
  sparse_sources_.insert(sparse_sources_.end(), new_sources.begin(), new_sources.end());
  solution_.valid = false;
  return added;
}

void SparseGp::add_kernel_columns(const Eigen::MatrixXd& new_descriptors,
                                  const std::vector<int>& new_species) {
  // The new columns on every stored frame, recomputed one frame at a time.
  const int added = static_cast<int>(new_species.size());
  std::array<Eigen::MatrixXd, label_kind_count> columns;
  for (int g = 0; g < label_kind_count; ++g) columns[g].resize(factors_.labels[g].rows(), added);
  std::array<int, label_kind_count> offset{0, 0, 0};
  Eigen::MatrixXd split_columns(factors_.splits.rows(), added);
  int split_offset = 0;
  const bool through_pull_back =
      pull_back_is_cheaper(new_species, num_species(), descriptor_->size());
  for (int f = 0; f < num_frames(); ++f) {
    stop_point("the kernel columns of new sparse environments");
    const UsedLabels used = used_labels(frames_[f], frame_labels_[f]);
    const bool derivatives = used.forces || used.stress;
    AtomState state = AtomState::from_structure(frames_[f]);
    NeighborList list(descriptor_->cutoff(), 0.0);
    list.build(state);
    const DescriptorValues values =
        descriptor_->compute(state, list, derivatives && !through_pull_back);
    DescriptorPullBack pull_back;
    if (derivatives && through_pull_back)
      pull_back = [&](const std::vector<int>& atoms, const Eigen::MatrixXd& adjoints) {
        return descriptor_->pull_back(state, list, atoms, adjoints);
      };
    const LabelRows rows =
        label_rows(frames_[f], values, frame_labels_[f], new_descriptors, new_species, pull_back);
    for (int g = 0; g < label_kind_count; ++g) {
      columns[g].middleRows(offset[g], rows.kernel[g].rows()) = rows.kernel[g];
      offset[g] += static_cast<int>(rows.kernel[g].rows());
    }
    split_columns.middleRows(split_offset, rows.splits.rows()) = rows.splits;
    split_offset += static_cast<int>(rows.splits.rows());
  }
  if (split_offset != factors_.splits.rows())
    throw std::logic_error("SparseGp: stored frames and split rows disagree");
  factors_.splits.add_columns(split_columns);
  for (int g = 0; g < label_kind_count; ++g) {
    if (offset[g] != factors_.labels[g].rows())
      throw std::logic_error("SparseGp: stored frames and label rows disagree");
    factors_.labels[g].add_columns(columns[g]);
  }
}

SparseGp::Solution SparseGp::solve(const GpHyperparameters& h) const {
  validate(h);
  const int m = num_sparse();
  const double variance = h.signal_std * h.signal_std;
  const auto noise = noises(h);
  Solution s;
  double residual_fit = 0.0;
  for (int g = 0; g < label_kind_count; ++g)
    residual_fit += factors_.labels[g].residual_squared_norm() / (noise[g] * noise[g]);
  if (m == 0) {
    s.data_fit = residual_fit;
    s.r.resize(0, 0);
    s.z.resize(0);
    s.alpha.resize(0);
    s.valid = true;
    return s;
  }
  // QR of the stacked [Λ^{-½}K_fu | Λ^{-½}y; K_uu^{½} | 0], with each label
  // kind already reduced to its triangle: Σ⁻¹ = RᵀR and Rα = z.
  Eigen::MatrixXd augmented = Eigen::MatrixXd::Zero(m + 1, m + 1);
  for (int g = 0; g < label_kind_count; ++g) {
    const GrowingQr& factor = factors_.labels[g];
    if (factor.rows() == 0) continue;
    const int rows = std::min(factor.rows(), m);  // below that R_g is zero
    Eigen::MatrixXd block = Eigen::MatrixXd::Zero(rows, m + 1);
    block.leftCols(m) = (variance / noise[g]) * factor.r().topRows(rows);
    block.col(m) = factor.z().head(rows) / noise[g];
    merge_trapezoid(augmented, std::move(block));
  }
  Eigen::MatrixXd block = Eigen::MatrixXd::Zero(m, m + 1);
  block.leftCols(m) = h.signal_std * factors_.kernel_factor;
  merge_trapezoid(augmented, std::move(block));

  s.r = augmented.topLeftCorner(m, m).triangularView<Eigen::Upper>();
  s.z = augmented.col(m).head(m);
  s.data_fit = augmented(m, m) * augmented(m, m) + residual_fit;
  s.alpha = s.r.triangularView<Eigen::Upper>().solve(s.z);
  if (split_conditioning_ && factors_.splits.rows() > 0) {
    // The split pseudo-labels (noise σ_e√N; the 1/√N is in the rows) on top of Σ⁻¹.
    s.r_variance = s.r;
    const int rows = std::min(factors_.splits.rows(), m);
    merge_trapezoid(s.r_variance, (variance / h.energy_noise) * factors_.splits.r().topRows(rows));
    s.r_variance = s.r_variance.triangularView<Eigen::Upper>();
  }
  s.valid = true;
  return s;
}

void SparseGp::set_split_conditioning(bool on) {
  if (on != split_conditioning_) solution_.valid = false;
  split_conditioning_ = on;
}

const SparseGp::Solution& SparseGp::solution() const {
  if (!solution_.valid) {
    solution_ = solve(hyperparameters_);
    ++solve_count_;
  }
  return solution_;
}

const Eigen::VectorXd& SparseGp::alpha() const {
  return solution().alpha;
}

LikelihoodTerms SparseGp::log_marginal_likelihood() const {
  return log_marginal_likelihood(hyperparameters_);
}

LikelihoodTerms SparseGp::likelihood_value(const GpHyperparameters& h, const Solution& s) const {
  const int m = num_sparse();
  const double variance = h.signal_std * h.signal_std;
  const auto noise = noises(h);
  const int n = num_labels();

  // log|Q_ff + Λ| = log|Λ| + log|Σ⁻¹| − log|K_uu| (matrix determinant lemma).
  double log_det = factors_.energy_log_atoms + factors_.force_log_scales;
  for (int g = 0; g < label_kind_count; ++g)
    log_det += factors_.labels[g].rows() * std::log(noise[g] * noise[g]);
  for (int i = 0; i < m; ++i)
    log_det += 2.0 * std::log(std::abs(s.r(i, i))) -
               2.0 * std::log(std::abs(factors_.kernel_factor(i, i))) - std::log(variance);

  LikelihoodTerms terms;
  terms.data_fit = s.data_fit;
  terms.complexity = log_det;
  terms.value = -0.5 * s.data_fit - 0.5 * log_det - 0.5 * n * std::log(2.0 * units::pi);
  return terms;
}

double SparseGp::log_marginal_likelihood_value() const {
  return likelihood_value(hyperparameters_, solution()).value;
}

LikelihoodTerms SparseGp::log_marginal_likelihood(const GpHyperparameters& h) const {
  stop_point("a likelihood evaluation");
  const Solution computed = solve(h);
  stop_point("a likelihood evaluation");
  const Solution& s = computed;
  const int m = num_sparse();
  const double variance = h.signal_std * h.signal_std;
  const auto noise = noises(h);
  LikelihoodTerms terms = likelihood_value(h, s);

  // Gradient in log space (docs/gp.md): with A = Σ⁻¹ = vK̃ + v²Σ_g s_g P_g,
  // c = vΣ_g s_g c_g, a = A⁻¹c, s_g = 1/σ_g², v = σ².
  if (m == 0) {
    for (int g = 0; g < label_kind_count; ++g)
      terms.gradient[1 + g] =
          factors_.labels[g].rhs_squared_norm() / (noise[g] * noise[g]) - factors_.labels[g].rows();
    return terms;
  }
  const Eigen::MatrixXd r_inverse = upper_inverse(s.r);
  const Eigen::VectorXd& a = s.alpha;
  double d_signal = 2.0 * s.z.squaredNorm() + m;
  const Eigen::MatrixXd kernel_times_inverse = upper_times(factors_.kernel_factor, r_inverse);
  d_signal -= variance * (factors_.kernel_factor.triangularView<Eigen::Upper>() * a).squaredNorm();
  d_signal -= variance * kernel_times_inverse.squaredNorm();
  for (int g = 0; g < label_kind_count; ++g) {
    const GrowingQr& factor = factors_.labels[g];
    if (factor.rows() == 0) continue;
    const double precision = 1.0 / (noise[g] * noise[g]);
    const Eigen::VectorXd fitted = factor.r().triangularView<Eigen::Upper>() * a;
    const double trace = upper_times(factor.r(), r_inverse).squaredNorm();
    // |W y_g − v X̃_g a|² from the rotated problem: the top part and the residual.
    const double residual =
        (factor.z() - variance * fitted).squaredNorm() + factor.residual_squared_norm();
    terms.gradient[1 + g] =
        precision * residual - factor.rows() + variance * variance * precision * trace;
    d_signal -= 2.0 * variance * variance * precision * (fitted.squaredNorm() + trace);
  }
  terms.gradient[0] = d_signal;
  return terms;
}

GpPrediction SparseGp::predict(const Structure& structure, bool uncertainty) const {
  return predict(structure, describe(structure, true), uncertainty);
}

GpPrediction SparseGp::predict(const Structure& structure, const DescriptorValues& values,
                               bool uncertainty) const {
  const int natoms = structure.size();
  if (values.values.rows() != natoms)
    throw std::invalid_argument("SparseGp::predict: descriptors do not match");
  if (values.gradient.rows() != 3 * values.pair_vector.rows())
    throw std::invalid_argument("SparseGp::predict: descriptor gradients are needed");
  const Solution& s = solution();
  const double variance = hyperparameters_.signal_std * hyperparameters_.signal_std;
  const auto columns_of = indices_by_species(sparse_species_, num_species());

  GpPrediction out;
  out.local_energy.resize(natoms);
  out.forces = Positions::Zero(natoms, 3);
  Eigen::Matrix3d virial_like = Eigen::Matrix3d::Zero();  // Σ_k ∂ε/∂r_k ⊗ r_k
  std::vector<Eigen::MatrixXd> sparse_of(num_species()), prepared_of(num_species());
  std::vector<Eigen::VectorXd> alpha_of(num_species());
  for (int sp = 0; sp < num_species(); ++sp) {
    sparse_of[sp] = select_rows(sparse_descriptors_, columns_of[sp]);
    prepared_of[sp] = kernel_->prepare(sparse_of[sp]);
    alpha_of[sp].resize(columns_of[sp].size());
    for (std::size_t p = 0; p < columns_of[sp].size(); ++p)
      alpha_of[sp][p] = variance * s.alpha[columns_of[sp][p]];
  }
  Eigen::VectorXd kernel_values;
  Eigen::MatrixXd kernel_gradient;
  for (int i = 0; i < natoms; ++i) {
    const int sp = values.species[i];
    out.local_energy[i] = reference_energies_[sp];
    if (sparse_of[sp].rows() == 0) continue;
    kernel_->value_and_gradient(values.values.row(i).transpose(), prepared_of[sp], kernel_values,
                                kernel_gradient);
    out.local_energy[i] += kernel_values.dot(alpha_of[sp]);
    const Eigen::VectorXd energy_gradient =
        kernel_gradient.transpose() * alpha_of[sp];  // ∂ε_i/∂d_i
    const int begin = values.offsets[i], count = values.offsets[i + 1] - begin;
    if (count == 0) continue;
    const Eigen::VectorXd by_pair =
        values.gradient.middleRows(3 * begin, 3 * count) * energy_gradient;
    for (int q = 0; q < count; ++q) {
      const int k = begin + q, j = values.neighbor[k];
      const Eigen::RowVector3d d = by_pair.segment<3>(3 * q).transpose();
      out.forces.row(j) -= d;
      out.forces.row(i) += d;
      virial_like += d.transpose() * values.pair_vector.row(k);
    }
  }
  out.energy = out.local_energy.sum();
  const Eigen::Matrix3d sym = -0.5 * (virial_like + virial_like.transpose());
  out.virial << sym(0, 0), sym(1, 1), sym(2, 2), sym(1, 2), sym(0, 2), sym(0, 1);
  if (periodic_3d(structure)) out.stress = Voigt(-out.virial / structure.volume());
  if (!uncertainty) return out;

  out.atom_std = atom_std(values);
  // Total energy: k_E = Σ_i k(u, d_i); prior Σ_ij k(d_i, d_j) over same-species pairs.
  const int m = num_sparse();
  const auto atoms_of = indices_by_species(values.species, num_species());
  double prior = 0.0;
  Eigen::VectorXd k_total = Eigen::VectorXd::Zero(m);
  for (int sp = 0; sp < num_species(); ++sp) {
    if (atoms_of[sp].empty()) continue;
    const Eigen::MatrixXd d_s = select_rows(values.values, atoms_of[sp]);
    prior += kernel_->matrix(d_s, d_s).sum();
    if (columns_of[sp].empty()) continue;
    const Eigen::VectorXd k_s = kernel_->matrix(sparse_of[sp], d_s).rowwise().sum();
    for (std::size_t p = 0; p < columns_of[sp].size(); ++p) k_total[columns_of[sp][p]] = k_s[p];
  }
  double energy_variance = variance * prior;
  if (m > 0) {
    const Eigen::VectorXd nystrom =
        factors_.kernel_factor.transpose().triangularView<Eigen::Lower>().solve(k_total);
    const Eigen::MatrixXd& r_variance = s.r_variance.size() ? s.r_variance : s.r;
    const Eigen::VectorXd posterior =
        r_variance.transpose().triangularView<Eigen::Lower>().solve(k_total);
    energy_variance +=
        -variance * nystrom.squaredNorm() + variance * variance * posterior.squaredNorm();
  }
  out.energy_std = std::sqrt(std::max(energy_variance, 0.0));
  return out;
}

Eigen::MatrixXd SparseGp::sparse_kernel_columns(const DescriptorValues& values) const {
  Eigen::MatrixXd k = Eigen::MatrixXd::Zero(num_sparse(), values.values.rows());
  const auto columns_of = indices_by_species(sparse_species_, num_species());
  const auto atoms_of = indices_by_species(values.species, num_species());
  for (int sp = 0; sp < num_species(); ++sp) {
    if (atoms_of[sp].empty() || columns_of[sp].empty()) continue;
    const Eigen::MatrixXd block = kernel_->matrix(select_rows(sparse_descriptors_, columns_of[sp]),
                                                  select_rows(values.values, atoms_of[sp]));
    for (std::size_t b = 0; b < atoms_of[sp].size(); ++b)
      for (std::size_t a = 0; a < columns_of[sp].size(); ++a)
        k(columns_of[sp][a], atoms_of[sp][b]) = block(a, b);
  }
  return k;
}

Eigen::VectorXd SparseGp::atom_std(const DescriptorValues& values) const {
  const int natoms = static_cast<int>(values.values.rows());
  const int m = num_sparse();
  const double variance = hyperparameters_.signal_std * hyperparameters_.signal_std;
  const Solution& s = solution();
  // DTC: k(x,x) − kᵀK_uu⁻¹k + kᵀΣk, all atoms at once; k̃ vanishes across species.
  Eigen::VectorXd prior = kernel_->diagonal(values.values);
  Eigen::VectorXd result(natoms);
  if (m == 0) return prior.cwiseSqrt();
  const Eigen::MatrixXd k = sparse_kernel_columns(values);
  Eigen::MatrixXd nystrom = k, posterior = k;
  solve_upper(factors_.kernel_factor, nystrom, true);
  solve_upper(s.r_variance.size() ? s.r_variance : s.r, posterior, true);
  for (int i = 0; i < natoms; ++i) {
    // Normalised by σ²: k̃(x,x) − |F⁻ᵀk̃|² + σ²|R⁻ᵀk̃|².
    const double normalised =
        prior[i] - nystrom.col(i).squaredNorm() + variance * posterior.col(i).squaredNorm();
    result[i] = std::sqrt(std::max(normalised, 0.0));
  }
  return result;
}

namespace {

// Per atom x_r, the centres c whose descriptor moves with it and ∂d_c/∂x_r:
// entry k (centre c, neighbour j) adds +∂d_c/∂r_k to target j and −∂d_c/∂r_k
// to target c. `touching[r]` lists (centre, entry, sign).
struct CentreEntry {
  int centre, entry;
  double sign;
};

std::vector<std::vector<CentreEntry>> entries_by_target(const DescriptorValues& values) {
  const int natoms = static_cast<int>(values.values.rows());
  std::vector<std::vector<CentreEntry>> touching(natoms);
  for (int c = 0; c < natoms; ++c)
    for (int k = values.offsets[c]; k < values.offsets[c + 1]; ++k) {
      touching[values.neighbor[k]].push_back({c, k, 1.0});
      touching[c].push_back({c, k, -1.0});
    }
  return touching;
}

}  // namespace

Positions SparseGp::force_std(const DescriptorValues& values) const {
  const int natoms = static_cast<int>(values.values.rows());
  if (values.gradient.rows() != 3 * values.pair_vector.rows())
    throw std::invalid_argument("SparseGp::force_std: descriptor gradients are needed");
  const int m = num_sparse();
  const int dim = values.size;
  const double variance = hyperparameters_.signal_std * hyperparameters_.signal_std;
  // Prior: Σ_cc' t_cᵀ ∂²k̃ t_c' over same-species centres, t_c = ∂d_c/∂x_iα.
  Positions prior = Positions::Zero(natoms, 3);
  const auto touching = entries_by_target(values);
  for (int i = 0; i < natoms; ++i) {
    std::vector<int> centres;
    for (const CentreEntry& e : touching[i])
      if (std::find(centres.begin(), centres.end(), e.centre) == centres.end())
        centres.push_back(e.centre);
    for (int sp = 0; sp < num_species(); ++sp) {
      std::vector<int> of_species;
      for (int c : centres)
        if (values.species[c] == sp) of_species.push_back(c);
      if (of_species.empty()) continue;
      const Eigen::MatrixXd points = select_rows(values.values, of_species);
      for (int alpha = 0; alpha < 3; ++alpha) {
        Eigen::MatrixXd directions = Eigen::MatrixXd::Zero(points.rows(), dim);
        for (const CentreEntry& e : touching[i]) {
          const auto at = std::find(of_species.begin(), of_species.end(), e.centre);
          if (at == of_species.end()) continue;
          directions.row(at - of_species.begin()) +=
              e.sign * values.gradient.row(3 * e.entry + alpha);
        }
        prior(i, alpha) += kernel_->derivative_covariance(points, directions);
      }
    }
  }
  if (m == 0) return prior.cwiseMax(0.0).cwiseSqrt();
  // Explained: the force rows against the sparse set, f (M × 3N), as for labels.
  Eigen::MatrixXd f = Eigen::MatrixXd::Zero(m, 3 * natoms);
  const auto columns_of = indices_by_species(sparse_species_, num_species());
  const Eigen::MatrixXd no_splits(num_species(), 0);
  for (int sp = 0; sp < num_species(); ++sp) {
    if (columns_of[sp].empty()) continue;
    const SpeciesKernelRows rows =
        species_kernel_rows(*kernel_, values, {false, true, false}, no_splits, sp,
                            kernel_->prepare(select_rows(sparse_descriptors_, columns_of[sp])));
    for (std::size_t p = 0; p < columns_of[sp].size(); ++p)
      f.row(columns_of[sp][p]) = rows.forces_t.row(p);
  }
  const Solution& s = solution();
  Eigen::MatrixXd nystrom = f, posterior = f;
  solve_upper(factors_.kernel_factor, nystrom, true);
  solve_upper(s.r_variance.size() ? s.r_variance : s.r, posterior, true);
  Positions result(natoms, 3);
  for (int i = 0; i < natoms; ++i)
    for (int alpha = 0; alpha < 3; ++alpha) {
      const int col = 3 * i + alpha;
      const double normalised = prior(i, alpha) - nystrom.col(col).squaredNorm() +
                                variance * posterior.col(col).squaredNorm();
      result(i, alpha) = std::sqrt(std::max(normalised, 0.0));
    }
  return result;
}

std::vector<int> SparseGp::least_represented_atoms(const DescriptorValues& values, int max_count,
                                                   double min_residual_std) const {
  const int natoms = static_cast<int>(values.values.rows());
  const auto atoms_of = indices_by_species(values.species, num_species());
  // c_i = F⁻ᵀk̃_i and residuals r_i = k̃_ii − |c_i|², all atoms at once.
  Eigen::MatrixXd c = sparse_kernel_columns(values);
  solve_upper(factors_.kernel_factor, c, true);
  Eigen::VectorXd residual = kernel_->diagonal(values.values);
  for (int i = 0; i < natoms; ++i) residual[i] -= c.col(i).squaredNorm();
  // Pivoted Cholesky over the frame's atoms: each chosen atom lowers the
  // residuals of the atoms of its species that resemble it.
  std::vector<int> chosen;
  std::vector<char> taken(natoms, 0);
  // Cholesky columns of the chosen atoms over all atoms, an atom's entries
  // side by side (a frame of thousands of atoms reads them once per step).
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> lower(natoms, 0);
  std::vector<Eigen::MatrixXd> same(atoms_of.size());  // descriptors by species, made when needed
  const double floor = min_residual_std * min_residual_std;
  while (max_count <= 0 || static_cast<int>(chosen.size()) < max_count) {
    const int k = static_cast<int>(chosen.size());
    if (k > 0 && k % 16 == 0)
      stop_point("the sparse selection of a " + std::to_string(natoms) + "-atom frame");
    int pivot = -1;
    for (int i = 0; i < natoms; ++i)
      if (!taken[i] && (pivot < 0 || residual[i] > residual[pivot])) pivot = i;
    if (pivot < 0 || !(residual[pivot] > floor) ||
        !(residual[pivot] > 1e-8 * kernel_->diagonal(values.values.row(pivot))[0]))
      break;
    const int sp = values.species[pivot];
    if (same[sp].rows() != static_cast<Eigen::Index>(atoms_of[sp].size()))
      same[sp] = select_rows(values.values, atoms_of[sp]);
    const Eigen::VectorXd k_pivot = kernel_->matrix(same[sp], values.values.row(pivot)).col(0);
    if (k == lower.cols()) lower.conservativeResize(natoms, std::min(natoms, std::max(16, 2 * k)));
    lower.col(k).setZero();
    const double root = std::sqrt(residual[pivot]);
    for (std::size_t a = 0; a < atoms_of[sp].size(); ++a) {
      const int i = atoms_of[sp][a];
      double value = k_pivot[a] - c.col(i).dot(c.col(pivot));
      for (int j = 0; j < k; ++j) value -= lower(i, j) * lower(pivot, j);
      lower(i, k) = value / root;
    }
    for (int i = 0; i < natoms; ++i) residual[i] -= lower(i, k) * lower(i, k);
    taken[pivot] = 1;
    chosen.push_back(pivot);
  }
  return chosen;
}

MappedGp SparseGp::mapped() const {
  if (!kernel_->has_quadratic_map())
    throw Error("the GP kernel " + kernel_->description() +
                " cannot be mapped to a quadratic form (only power 2 can)");
  solution();  // numbers the current solve
  if (mapped_solve_ != solve_count_) {
    mapped_cache_ = compute_mapped();
    mapped_solve_ = solve_count_;
  }
  MappedGp out = mapped_cache_;
  // What may change without a new solve.
  out.signal_std = hyperparameters_.signal_std;
  out.force_noise = hyperparameters_.force_noise;
  out.shortest_pair_distance = novelty_.shortest_pair_distance;
  out.density_range = novelty_.density_range;
  out.isolated_atoms = novelty_.isolated_atoms;
  out.force_calibration = force_calibration_;
  out.reference_energy.assign(reference_energies_.data(),
                              reference_energies_.data() + reference_energies_.size());
  return out;
}

MappedGp SparseGp::compute_mapped() const {
  const Solution& s = solution();
  const double variance = hyperparameters_.signal_std * hyperparameters_.signal_std;
  const auto columns_of = indices_by_species(sparse_species_, num_species());
  // The variance factor without forming K_uu⁻¹ − Σ, a difference of two
  // matrices as large as cond(K_uu): with K_uu = vFᵀF and Σ⁻¹ = RᵀR,
  //   K_uu⁻¹ − Σ = F⁻¹(I − BBᵀ)F⁻ᵀ/v,   B = √v F R⁻¹,
  // where I − BBᵀ has its eigenvalues in [0, 1] and is formed to round-off.
  // F has no cross-species entries, so the species block only needs F_ss.
  Eigen::MatrixXd b_transposed = std::sqrt(variance) * factors_.kernel_factor.transpose();
  solve_upper(s.r_variance.size() ? s.r_variance : s.r, b_transposed, true);  // Bᵀ = √v R⁻ᵀFᵀ
  MappedGp out;
  for (int sp = 0; sp < num_species(); ++sp) {
    const auto& cols = columns_of[sp];
    const int ms = static_cast<int>(cols.size());
    const Eigen::MatrixXd sparse_s = select_rows(sparse_descriptors_, cols);
    Eigen::VectorXd alpha_s(ms);
    for (int p = 0; p < ms; ++p) alpha_s[p] = s.alpha[cols[p]];
    out.beta.push_back(variance * kernel_->quadratic_map(sparse_s, alpha_s));
    const int two_body = kernel_->two_body_columns();
    out.sparse_normalised.push_back(normalized_rows(sparse_s.leftCols(sparse_s.cols() - two_body)));
    if (two_body > 0) {
      out.two_body_weight = kernel_->two_body_weight();
      out.two_body.push_back(variance * kernel_->two_body_map(sparse_s, alpha_s));
      out.sparse_two_body.push_back(sparse_s.rightCols(two_body));
    }
    if (kernel_->three_body_weight() > 0.0) {
      out.three_body_weight = kernel_->three_body_weight();
      out.three_body.push_back(variance * kernel_->three_body_map(sparse_s, alpha_s));
      out.sparse_norm.push_back(sparse_s.leftCols(sparse_s.cols() - two_body).rowwise().norm());
    }
    if (ms == 0) {
      out.variance_factor.emplace_back(0, 0);
      continue;
    }
    // I − B_sB_sᵀ with B_s the species' rows of B.
    Eigen::MatrixXd reduction = Eigen::MatrixXd::Identity(ms, ms) -
                                gram(select_rows(b_transposed.transpose(), cols).transpose());
    Eigen::VectorXd lambda;
    symmetric_eigen(reduction, lambda);
    std::vector<int> kept;
    for (int p = 0; p < ms; ++p)
      if (lambda[p] > 1e-15) kept.push_back(p);
    Eigen::MatrixXd root(ms, kept.size());
    for (std::size_t p = 0; p < kept.size(); ++p)
      root.col(p) = std::sqrt(lambda[kept[p]]) * reduction.col(kept[p]);
    // R_sᵀ = F_ss⁻¹ D_s / √v by back substitution (no explicit inverse).
    solve_upper(submatrix(factors_.kernel_factor, cols, cols), root, false);
    out.variance_factor.push_back(root.transpose() / std::sqrt(variance));
  }
  if (num_species() > 1 && num_sparse() > 0) {
    // The total-energy variance needs the cross-species blocks too (Σ couples
    // the species): R_E over all of I − BBᵀ, columns stacked species by species.
    Eigen::MatrixXd reduction =
        Eigen::MatrixXd::Identity(num_sparse(), num_sparse()) - gram(b_transposed);
    Eigen::VectorXd lambda;
    symmetric_eigen(reduction, lambda);
    std::vector<int> kept;
    for (int p = 0; p < num_sparse(); ++p)
      if (lambda[p] > 1e-15) kept.push_back(p);
    Eigen::MatrixXd root(num_sparse(), kept.size());
    for (std::size_t p = 0; p < kept.size(); ++p)
      root.col(p) = std::sqrt(lambda[kept[p]]) * reduction.col(kept[p]);
    solve_upper(factors_.kernel_factor, root, false);
    std::vector<int> stacked;
    for (const auto& cols : columns_of) stacked.insert(stacked.end(), cols.begin(), cols.end());
    out.energy_variance_factor = select_rows(root, stacked).transpose() / std::sqrt(variance);
  }
  return out;
}

void SparseGp::restore(std::vector<Structure> frames, std::vector<LabelSelection> labels,
                       Eigen::MatrixXd sparse_descriptors, std::vector<int> sparse_species,
                       std::vector<SparseEnvironmentSource> sources, Factors factors,
                       std::optional<Solution> solution) {
  const int m = static_cast<int>(sparse_species.size());
  if (frames.size() != labels.size() || sparse_descriptors.rows() != m ||
      sources.size() != sparse_species.size() || factors.kernel_factor.rows() != m ||
      sparse_descriptors.cols() != descriptor_->size())
    throw Error("GP model: stored frames, sparse set and factors have inconsistent sizes");
  for (const auto& f : factors.labels)
    if (f.cols() != m) throw Error("GP model: a stored label factor has the wrong size");
  if (factors.splits.cols() != m)
    throw Error("GP model: the stored split factor has the wrong size");
  frames_ = std::move(frames);
  frame_labels_ = std::move(labels);
  novelty_ = NoveltyReference(num_species());
  for (const Structure& frame : frames_) novelty_.add(describe(frame, false), *descriptor_);
  sparse_descriptors_ = std::move(sparse_descriptors);
  sparse_species_ = std::move(sparse_species);
  sparse_sources_ = std::move(sources);
  factors_ = std::move(factors);
  solution_.valid = false;
  if (solution) {
    if (solution->r.rows() != m || solution->r.cols() != m || solution->z.size() != m ||
        solution->alpha.size() != m)
      throw Error("GP model: the stored solution has the wrong size");
    if (solution->r_variance.size() != 0 &&
        (solution->r_variance.rows() != m || solution->r_variance.cols() != m))
      throw Error("GP model: the stored variance factor has the wrong size");
    solution_ = std::move(*solution);
    solution_.valid = true;
    ++solve_count_;
  }
}

const char* SparseGp::Factors::factor_name(int g) {
  return g < label_kind_count ? label_kind_name(static_cast<LabelKind>(g)) : "splits";
}

void SparseGp::resume_factors(FactorBlocks blocks) {
  for (int g = 0; g < Factors::factor_count; ++g) {
    try {
      factors_.factor(g).resume(std::move(blocks[g]));
    } catch (const std::exception& error) {
      throw Error(std::string("GP model: its factors cannot be resumed (") + error.what() + ")");
    }
  }
}

void SparseGp::make_growable() {
  for (int g = 0; g < Factors::factor_count; ++g)
    if (!factors_.factor(g).can_grow()) {
      logger().info("SparseGp: rebuilding the factors of {} frames before the first update",
                    num_frames());
      rebuild();
      return;
    }
}

void SparseGp::rebuild() {
  std::vector<Structure> frames = std::move(frames_);
  std::vector<LabelSelection> labels = std::move(frame_labels_);
  Eigen::MatrixXd sparse = std::move(sparse_descriptors_);
  std::vector<int> species = std::move(sparse_species_);
  std::vector<SparseEnvironmentSource> sources = std::move(sparse_sources_);
  frames_.clear();
  frame_labels_.clear();
  sparse_descriptors_.resize(0, descriptor_->size());
  sparse_species_.clear();
  sparse_sources_.clear();
  factors_ = Factors();
  solution_.valid = false;
  // Sparse set first (no frames yet: no kernel columns to compute), then every frame's rows.
  const int added = add_sparse_environments(sparse, species, sources, -1.0);
  if (added != static_cast<int>(species.size()))
    throw std::logic_error(
        "SparseGp::rebuild: the stored sparse set is no longer positive definite");
  for (std::size_t f = 0; f < frames.size(); ++f) add_frame(frames[f], labels[f]);
}

std::size_t SparseGp::memory_bytes() const {
  std::size_t bytes =
      factors_.kernel_factor.size() * sizeof(double) + sparse_descriptors_.size() * sizeof(double);
  for (const auto& f : factors_.labels) bytes += f.memory_bytes();
  bytes += factors_.splits.memory_bytes();
  if (solution_.valid) bytes += (solution_.r.size() + 2 * solution_.z.size()) * sizeof(double);
  return bytes;
}

}  // namespace otfgp
