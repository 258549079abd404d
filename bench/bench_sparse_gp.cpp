// Cost of training the sparse GP (B2 descriptor, power-2 kernel).
//
//   bench_sparse_gp scratch [--frames 200] [--sparse 2000] [--n-max 8] [--l-max 3]
//                           [--cutoff 5.0] [--no-stress] [--seed 1]
//       Ba–Rh–O: rattled, strained 100-atom BaRhO₃ perovskite cells (5×2×2)
//       labelled by buck:BaRhO.buck, trained from scratch with `sparse` random
//       environments. Prints one JSON line: labels N, M, seconds per phase,
//       peak resident memory of the process (run one configuration per process).
//
//   bench_sparse_gp incremental [--frames 60] [--per-frame 8] [--n-max 8] [--l-max 3]
//                               [--cutoff 4.0] [--seed 1]
//       Si: 64-atom diamond cells rattled and strained, labelled by sw:Si.sw,
//       added one at a time as on the fly (sparse columns for `per-frame`
//       environments of the new frame, then its rows). Prints one JSON line per
//       frame: frames already in the model, M, seconds for the new columns,
//       the new rows, the solve (α) and the mapped form (β and variance factors);
//       then the time of a rebuild from scratch of the final model, for comparison.
//
//   bench_sparse_gp pull-back [--system si|barho] [--n-max] [--l-max] [--cutoff] [--seed 1]
//       The two ways to the force and stress rows of R kernel columns on one
//       stored frame (SparseGp::add_kernel_columns): descriptors with
//       gradients, then per atom the product of its R kernel gradients with its
//       3·entries × D gradient rows (BLAS), against descriptors without
//       gradients, then Descriptor::pull_back of the R rows of every atom. si:
//       the incremental mode's 64-atom Si cell (defaults n_max 8, l_max 3,
//       4 Å: D = 144); barho: the scratch mode's 100-atom BaRhO₃ cell with the
//       Ba–Rh–O campaign's n_max 6, l_max 3, 5.5 Å (D = 684). One JSON line per
//       R = 1, 2, 4, … 1024: the faster of three runs of each path.

#include <sys/resource.h>

#include <cblas.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "otfgp/core/error.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/gp/b2_descriptor.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/gp/training.hpp"
#include "otfgp/potentials/evaluate.hpp"

namespace {

using namespace otfgp;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double peak_memory_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // kB on Linux
}

struct Options {
  std::string mode;
  int frames = -1;
  int sparse = 2000;
  int per_frame = 8;
  int n_max = 8;
  int l_max = 3;
  double cutoff = -1;
  bool stress = true;
  unsigned seed = 1;
  std::string system = "si";
};

Options parse(int argc, char** argv) {
  if (argc < 2) throw Error("usage: bench_sparse_gp scratch|incremental|pull-back [options]");
  Options o;
  o.mode = argv[1];
  for (int k = 2; k < argc; ++k) {
    const std::string a = argv[k];
    auto value = [&]() -> std::string {
      if (k + 1 >= argc) throw Error(a + " needs a value");
      return argv[++k];
    };
    if (a == "--frames")
      o.frames = std::stoi(value());
    else if (a == "--sparse")
      o.sparse = std::stoi(value());
    else if (a == "--per-frame")
      o.per_frame = std::stoi(value());
    else if (a == "--n-max")
      o.n_max = std::stoi(value());
    else if (a == "--l-max")
      o.l_max = std::stoi(value());
    else if (a == "--cutoff")
      o.cutoff = std::stod(value());
    else if (a == "--no-stress")
      o.stress = false;
    else if (a == "--system")
      o.system = value();
    else if (a == "--seed")
      o.seed = static_cast<unsigned>(std::stoul(value()));
    else
      throw Error("unknown option " + a);
  }
  return o;
}

void deform(Structure& s, std::mt19937_64& rng, double strain, double rattle) {
  std::uniform_real_distribution<double> uniform(-strain, strain);
  std::normal_distribution<double> normal(0.0, rattle);
  Eigen::Matrix3d deformation = Eigen::Matrix3d::Identity();
  for (int a = 0; a < 3; ++a)
    for (int b = a; b < 3; ++b)
      deformation(a, b) = deformation(b, a) = (a == b ? 1.0 : 0.0) + uniform(rng);
  s.cell = s.cell * deformation;
  s.positions = s.positions * deformation;
  for (int i = 0; i < s.size(); ++i)
    for (int d = 0; d < 3; ++d) s.positions(i, d) += normal(rng);
}

// Cubic perovskite ABO₃ (a = 4.093 Å, buck:BaRhO.buck's minimum), nx×ny×nz cells.
Structure perovskite(int nx, int ny, int nz) {
  const double a = 4.093;
  const double basis[5][3] = {
      {0, 0, 0}, {0.5, 0.5, 0.5}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
  const int numbers[5] = {56, 45, 8, 8, 8};
  Structure s;
  s.cell = Eigen::Vector3d(nx * a, ny * a, nz * a).asDiagonal();
  s.positions.resize(5 * nx * ny * nz, 3);
  for (int i = 0; i < nx; ++i)
    for (int j = 0; j < ny; ++j)
      for (int k = 0; k < nz; ++k)
        for (int b = 0; b < 5; ++b) {
          s.positions.row(s.size()) =
              Eigen::RowVector3d(i + basis[b][0], j + basis[b][1], k + basis[b][2]) * a;
          s.numbers.push_back(numbers[b]);
        }
  return s;
}

Structure diamond_si(int n) {
  const double a = 5.431;
  const double basis[8][3] = {{0, 0, 0},          {0, 0.5, 0.5},      {0.5, 0, 0.5},
                              {0.5, 0.5, 0},      {0.25, 0.25, 0.25}, {0.25, 0.75, 0.75},
                              {0.75, 0.25, 0.75}, {0.75, 0.75, 0.25}};
  Structure s;
  s.cell = Eigen::Matrix3d::Identity() * a * n;
  s.positions.resize(8 * n * n * n, 3);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (int k = 0; k < n; ++k)
        for (const auto& b : basis) {
          s.positions.row(s.size()) = Eigen::RowVector3d(i + b[0], j + b[1], k + b[2]) * a;
          s.numbers.push_back(14);
        }
  return s;
}

void run_scratch(const Options& o) {
  const int count = o.frames > 0 ? o.frames : 200;
  const auto start = Clock::now();
  auto reference = make_potential("buck:BaRhO.buck");
  std::mt19937_64 rng(o.seed);
  std::vector<Structure> frames;
  for (int f = 0; f < count; ++f) {
    Structure s = perovskite(5, 2, 2);
    deform(s, rng, 0.02, 0.04 + 0.02 * (f % 4));
    attach_labels(s, evaluate(*reference, s));
    if (!o.stress) s.stress.reset();
    frames.push_back(std::move(s));
  }
  const double seconds_labels = seconds_since(start);
  B2Settings b2;
  b2.species = {8, 45, 56};
  b2.n_max = o.n_max;
  b2.l_max = o.l_max;
  b2.cutoff = o.cutoff > 0 ? o.cutoff : 5.0;
  auto descriptor = std::make_shared<B2Descriptor>(b2);
  GpTrainingSettings settings;
  settings.sparse = {SparseSelectionMethod::random, 0, o.sparse, 0.1, o.seed};
  settings.optimize_hyperparameters = false;
  settings.hyperparameters = {1.0, 0.002, 0.05, 0.002};
  GpTrainingReport report;
  const double memory_before = peak_memory_mb();
  const auto train_start = Clock::now();
  SparseGp gp = train_sparse_gp(descriptor, std::make_shared<NormalizedDotProductKernel>(2), frames,
                                settings, &report);
  const double seconds_train = seconds_since(train_start);
  const auto h_start = Clock::now();
  const LikelihoodTerms likelihood = gp.log_marginal_likelihood();
  const double seconds_likelihood = seconds_since(h_start);
  nlohmann::json j;
  j["mode"] = "scratch";
  j["frames"] = count;
  j["atoms_per_frame"] = frames[0].size();
  j["descriptor_size"] = descriptor->size();
  j["labels"] = gp.num_labels();
  j["sparse"] = gp.num_sparse();
  j["seconds_labels_reference"] = seconds_labels;
  j["seconds_sparse_set"] = report.seconds_sparse;
  j["seconds_rows"] = report.seconds_frames;
  j["seconds_train_total"] = seconds_train;
  j["seconds_likelihood_and_gradient"] = seconds_likelihood;
  j["log_marginal_likelihood"] = likelihood.value;
  j["factor_mb"] = gp.memory_bytes() / 1e6;
  j["peak_memory_mb_before_training"] = memory_before;
  j["peak_memory_mb"] = peak_memory_mb();
  std::printf("%s\n", j.dump().c_str());
}

void run_incremental(const Options& o) {
  const int count = o.frames > 0 ? o.frames : 60;
  auto reference = make_potential("sw:Si.sw");
  std::mt19937_64 rng(o.seed);
  B2Settings b2;
  b2.species = {14};
  b2.n_max = o.n_max;
  b2.l_max = o.l_max;
  b2.cutoff = o.cutoff > 0 ? o.cutoff : 4.0;
  SparseGp gp(std::make_shared<B2Descriptor>(b2), std::make_shared<NormalizedDotProductKernel>(2),
              GpHyperparameters{1.0, 0.002, 0.05, 0.002}, Eigen::VectorXd::Constant(1, -4.3));
  const SparseSelection selection{SparseSelectionMethod::random, o.per_frame, 0, 0.1, o.seed};
  for (int f = 0; f < count; ++f) {
    Structure s = diamond_si(2);
    deform(s, rng, 0.01, 0.1);
    attach_labels(s, evaluate(*reference, s));
    const int before = gp.num_frames();
    // The on-the-fly update, phase by phase (add_frame_with_sparse_selection does the same in one
    // call).
    auto t = Clock::now();
    const DescriptorValues values = gp.describe(s, true);
    const double seconds_descriptor = seconds_since(t);
    t = Clock::now();
    const std::vector<int> atoms = select_sparse_atoms(selection, s.size(), Eigen::VectorXd(), rng);
    Eigen::MatrixXd rows(atoms.size(), values.size);
    std::vector<int> species(atoms.size());
    for (std::size_t a = 0; a < atoms.size(); ++a) {
      rows.row(a) = values.values.row(atoms[a]);
      species[a] = values.species[atoms[a]];
    }
    // Every chosen environment is kept (rattled frames have no exact duplicates),
    // so that each update adds the same number of columns.
    gp.add_sparse_environments(rows, species, {}, 1e-12);
    const double seconds_columns = seconds_since(t);
    t = Clock::now();
    gp.add_frame(s, values);
    const double seconds_rows = seconds_since(t);
    t = Clock::now();
    gp.alpha();
    const double seconds_solve = seconds_since(t);
    t = Clock::now();
    const MappedGp mapped = gp.mapped();
    const double seconds_map = seconds_since(t);
    nlohmann::json j;
    j["mode"] = "incremental";
    j["frames_before"] = before;
    j["sparse"] = gp.num_sparse();
    j["labels"] = gp.num_labels();
    j["seconds_descriptor"] = seconds_descriptor;
    j["seconds_new_columns"] = seconds_columns;
    j["seconds_new_rows"] = seconds_rows;
    j["seconds_solve"] = seconds_solve;
    j["seconds_map"] = seconds_map;
    j["factor_mb"] = gp.memory_bytes() / 1e6;
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
  }
  // What each update would cost without the incremental factorisation.
  const auto t = Clock::now();
  gp.rebuild();
  gp.alpha();
  nlohmann::json j;
  j["mode"] = "rebuild";
  j["frames"] = gp.num_frames();
  j["sparse"] = gp.num_sparse();
  j["seconds_rebuild_and_solve"] = seconds_since(t);
  std::printf("%s\n", j.dump().c_str());
}

// Force and stress rows of `rows` columns on one frame through the descriptor
// gradients; returns the seconds (the product lands in `sink` so that it is kept).
double gradient_path(const Descriptor& descriptor, const AtomState& state, const NeighborList& list,
                     const Eigen::MatrixXd& adjoints, int rows, double& sink) {
  const auto t = Clock::now();
  const DescriptorValues values = descriptor.compute(state, list, true);
  Eigen::MatrixXd by_pair;
  for (int i = 0; i < state.natoms; ++i) {
    const int begin = values.offsets[i], count = values.offsets[i + 1] - begin;
    by_pair.resize(rows, 3 * count);
    if (count == 0) continue;
    // As multiply_by_transposed_rows in sparse_gp.cpp.
    const Eigen::MatrixXd block = adjoints.middleRows(static_cast<Eigen::Index>(i) * rows, rows);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, rows, 3 * count, values.size, 1.0,
                block.data(), rows, values.gradient.data() + 3 * begin,
                static_cast<int>(values.gradient.rows()), 0.0, by_pair.data(), rows);
    sink += by_pair(0, 0);
  }
  return seconds_since(t);
}

double pull_back_path(const Descriptor& descriptor, const AtomState& state,
                      const NeighborList& list, const Eigen::MatrixXd& adjoints, double& sink) {
  const auto t = Clock::now();
  const DescriptorValues values = descriptor.compute(state, list, false);
  std::vector<int> atoms(state.natoms);
  for (int i = 0; i < state.natoms; ++i) atoms[i] = i;
  const Eigen::MatrixXd by_pair = descriptor.pull_back(state, list, atoms, adjoints);
  sink += by_pair(0, 0) + values.values(0, 0);
  return seconds_since(t);
}

void run_pull_back(const Options& o) {
  std::mt19937_64 rng(o.seed);
  const bool si = o.system == "si";
  if (!si && o.system != "barho") throw Error("--system: si or barho");
  B2Settings b2;
  b2.species = si ? std::vector<int>{14} : std::vector<int>{8, 45, 56};
  b2.n_max = si ? o.n_max : 6;
  b2.l_max = o.l_max;
  b2.cutoff = o.cutoff > 0 ? o.cutoff : (si ? 4.0 : 5.5);
  const B2Descriptor descriptor(b2);
  Structure s = si ? diamond_si(2) : perovskite(5, 2, 2);
  deform(s, rng, 0.01, 0.1);
  AtomState state = AtomState::from_structure(s);
  NeighborList list(descriptor.cutoff(), 0.0);
  list.build(state);
  const int entries = static_cast<int>(descriptor.compute(state, list, false).neighbor.size());
  std::normal_distribution<double> normal;
  double sink = 0.0;
  for (int rows = 1; rows <= 1024; rows *= 2) {
    Eigen::MatrixXd adjoints(static_cast<Eigen::Index>(state.natoms) * rows, descriptor.size());
    for (Eigen::Index k = 0; k < adjoints.size(); ++k) adjoints.data()[k] = normal(rng);
    double gradient = 1e300, pull_back = 1e300;
    for (int repeat = 0; repeat < 3; ++repeat) {
      gradient = std::min(gradient, gradient_path(descriptor, state, list, adjoints, rows, sink));
      pull_back = std::min(pull_back, pull_back_path(descriptor, state, list, adjoints, sink));
    }
    nlohmann::json j;
    j["mode"] = "pull-back";
    j["system"] = o.system;
    j["descriptor_size"] = descriptor.size();
    j["atoms"] = state.natoms;
    j["entries"] = entries;
    j["rows_per_atom"] = rows;
    j["seconds_gradient_path"] = gradient;
    j["seconds_pull_back_path"] = pull_back;
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
  }
  if (sink == 0.123456789) std::printf("%g\n", sink);
}

}  // namespace

int main(int argc, char** argv) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  otfgp::logger().set_level(spdlog::level::warn);
  try {
    const Options options = parse(argc, argv);
    if (options.mode == "scratch")
      run_scratch(options);
    else if (options.mode == "incremental")
      run_incremental(options);
    else if (options.mode == "pull-back")
      run_pull_back(options);
    else
      throw Error("unknown mode " + options.mode);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_sparse_gp: %s\n", error.what());
    return 1;
  }
  return 0;
}
