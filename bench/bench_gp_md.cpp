// MD-like throughput of the mapped GP force field: compute() with forces on
// every step of a rattled diamond crystal (Si, 8×8×8 conventional cells = 4096
// atoms by default; B2 with n_max 8, l_max 3, r_cut 5 Å), for several numbers
// of sparse points M, without and with the per-atom uncertainty on every step;
// and, in the same process, a reference potential (Stillinger–Weber) on the same
// configuration. The model is synthetic: sparse points are normalised B2
// vectors of a strongly rattled crystal, α random, R_s a random full-rank
// M × M factor: what is timed does not depend on the numbers, only on D and M.
//
//   bench_gp_md [--cells 8] [--steps 20] [--uncertainty-steps 3] [--sparse 100,3000]
//               [--n-max 8] [--l-max 3] [--cutoff 5.0] [--skin 1.0] [--rattle 0.05]
//               [--reference sw:/usr/share/lammps/potentials/Si.sw] [--reference-steps 200]
//               [--write-lammps-data FILE] [--species 14] [--embedding 0] [--contrast 1]
//
// --species Z1,Z2,…: the diamond sites get these elements in turn (seeded shuffle),
// each with its own β, sparse set and R_s (the synthetic sparse points of a species
// are descriptors of atoms of that species). --embedding K > 0: the descriptor uses
// a species embedding of K channels from element properties (docs/gp.md) instead of
// species-resolved channels. "uncertainty every 10 steps" is (9 t_mean + t_unc)/10.
// --model MODEL.h5 --structure FILE: a trained model (its own M) on the first frame
// of FILE instead of the synthetic model on the rattled crystal (--sparse ignored).
//
// Each line "key=value" at the end is for bench/gp_md_vs_lammps.sh.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/gp/b2_descriptor.hpp"
#include "otfgp/gp/gp_potential.hpp"
#include "otfgp/gp/model_file.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/potentials/potential.hpp"

namespace {

struct Options {
  int cells = 8;
  int steps = 20;
  int uncertainty_steps = 3;
  std::vector<int> sparse = {100, 3000};
  int n_max = 8;
  int l_max = 3;
  double cutoff = 5.0;
  double skin = 1.0;
  double rattle = 0.05;
  double lattice = 5.431;
  std::string reference = "sw:/usr/share/lammps/potentials/Si.sw";
  int reference_steps = 200;
  std::string lammps_data;
  std::vector<int> species = {14};
  int embedding = 0;
  double contrast = 1.0;
  std::string model;
  std::string structure;
};

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> values;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) values.push_back(std::stoi(item));
  return values;
}

Options parse(int argc, char** argv) {
  Options options;
  for (int k = 1; k < argc; ++k) {
    const std::string argument = argv[k];
    auto value = [&]() -> std::string {
      if (k + 1 >= argc) throw otfgp::Error(argument + " needs a value");
      return argv[++k];
    };
    if (argument == "--cells")
      options.cells = std::stoi(value());
    else if (argument == "--steps")
      options.steps = std::stoi(value());
    else if (argument == "--uncertainty-steps")
      options.uncertainty_steps = std::stoi(value());
    else if (argument == "--sparse")
      options.sparse = parse_list(value());
    else if (argument == "--n-max")
      options.n_max = std::stoi(value());
    else if (argument == "--l-max")
      options.l_max = std::stoi(value());
    else if (argument == "--cutoff")
      options.cutoff = std::stod(value());
    else if (argument == "--skin")
      options.skin = std::stod(value());
    else if (argument == "--rattle")
      options.rattle = std::stod(value());
    else if (argument == "--reference")
      options.reference = value();
    else if (argument == "--reference-steps")
      options.reference_steps = std::stoi(value());
    else if (argument == "--write-lammps-data")
      options.lammps_data = value();
    else if (argument == "--species")
      options.species = parse_list(value());
    else if (argument == "--embedding")
      options.embedding = std::stoi(value());
    else if (argument == "--contrast")
      options.contrast = std::stod(value());
    else if (argument == "--model")
      options.model = value();
    else if (argument == "--structure")
      options.structure = value();
    else
      throw otfgp::Error("unknown argument '" + argument + "' (see bench/bench_gp_md.cpp)");
  }
  if (options.cells < 1 || options.steps < 1 || options.uncertainty_steps < 0 ||
      options.sparse.empty())
    throw otfgp::Error("--cells, --steps and --sparse must be positive");
  return options;
}

otfgp::Structure rattled_diamond(int n, double lattice, double rattle, unsigned seed,
                                 const std::vector<int>& species = {14}) {
  const double basis[8][3] = {{0, 0, 0},          {0, 0.5, 0.5},      {0.5, 0, 0.5},
                              {0.5, 0.5, 0},      {0.25, 0.25, 0.25}, {0.25, 0.75, 0.75},
                              {0.75, 0.25, 0.75}, {0.75, 0.75, 0.25}};
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> shift(-rattle, rattle);
  otfgp::Structure s;
  s.cell = Eigen::Matrix3d::Identity() * lattice * n;
  s.positions.resize(8 * n * n * n, 3);
  int atom = 0;
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b)
      for (int c = 0; c < n; ++c)
        for (const auto& site : basis) {
          const double cell[3] = {a + site[0], b + site[1], c + site[2]};
          for (int d = 0; d < 3; ++d) s.positions(atom, d) = cell[d] * lattice + shift(rng);
          s.numbers.push_back(species[atom % species.size()]);
          ++atom;
        }
  std::shuffle(s.numbers.begin(), s.numbers.end(), rng);
  return s;
}

void write_lammps_data(const otfgp::Structure& s, const std::string& path) {
  std::ofstream out(path);
  if (!out) throw otfgp::Error("cannot write " + path);
  out.precision(17);
  const double length = s.cell(0, 0);
  out << "otfgp bench_gp_md configuration\n\n" << s.size() << " atoms\n1 atom types\n\n";
  for (const char* axis : {"x", "y", "z"})
    out << "0 " << length << " " << axis << "lo " << axis << "hi\n";
  out << "\nMasses\n\n1 " << otfgp::element(14).mass << "\n\nAtoms # atomic\n\n";
  for (int i = 0; i < s.size(); ++i)
    out << i + 1 << " 1 " << s.positions(i, 0) << " " << s.positions(i, 1) << " "
        << s.positions(i, 2) << "\n";
}

// M sparse points from normalised descriptors of distinct, strongly rattled environments.
otfgp::MappedGp synthetic_model(const otfgp::B2Settings& settings, int sparse, unsigned seed) {
  const otfgp::B2Descriptor descriptor(settings);
  const int n_species = static_cast<int>(settings.species.size());
  std::vector<Eigen::MatrixXd> pools(n_species, Eigen::MatrixXd(0, descriptor.size()));
  const auto full = [&]() {
    for (const auto& pool : pools)
      if (pool.rows() < sparse) return false;
    return true;
  };
  for (unsigned round = 0; !full(); ++round) {
    const otfgp::Structure structure =
        rattled_diamond(6, 5.431, 0.4, seed + 100 + round, settings.species);
    otfgp::AtomState state = otfgp::AtomState::from_structure(structure);
    otfgp::NeighborList list(descriptor.cutoff(), 0.0);
    list.build(state);
    const otfgp::DescriptorValues values = descriptor.compute(state, list, false);
    for (int i = 0; i < values.values.rows(); ++i) {
      Eigen::MatrixXd& pool = pools[values.species[i]];
      if (pool.rows() >= sparse) continue;
      pool.conservativeResize(pool.rows() + 1, Eigen::NoChange);
      pool.bottomRows(1) = values.values.row(i);
    }
  }

  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  otfgp::MappedGp model;
  model.descriptor = settings;
  model.signal_std = 2.0;
  const double sigma2 = model.signal_std * model.signal_std;
  for (auto& pool : pools) {
    pool.rowwise().normalize();
    model.reference_energy.push_back(-4.6);
    Eigen::VectorXd alpha(sparse);
    for (int j = 0; j < sparse; ++j) alpha[j] = normal(rng) / sparse;
    model.beta.push_back(sigma2 * pool.transpose() * alpha.asDiagonal() * pool);
    model.sparse_normalised.push_back(pool);
    Eigen::MatrixXd factor(sparse, sparse);
    for (int a = 0; a < sparse; ++a)
      for (int j = 0; j < sparse; ++j) factor(a, j) = normal(rng) / (sigma2 * sparse);
    model.variance_factor.push_back(factor);
  }
  return model;
}

struct Timing {
  double seconds_per_step = 0.0;
  double cpu_fraction = 0.0;
  double energy = 0.0;
};

Timing time_compute(otfgp::Potential& potential, otfgp::AtomState& state,
                    const otfgp::NeighborList& list, const otfgp::ComputeRequest& request,
                    int steps) {
  Timing timing;
  timing.energy = potential.compute(state, list, request).energy;  // warm-up: allocations
  Kokkos::fence();
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  for (int step = 0; step < steps; ++step)
    timing.energy = potential.compute(state, list, request).energy;
  Kokkos::fence();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  timing.seconds_per_step = seconds / steps;
  timing.cpu_fraction = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC / seconds;
  return timing;
}

int run(const Options& options) {
  std::vector<int> species = options.species;
  std::sort(species.begin(), species.end());
  const bool trained = !options.model.empty();
  const otfgp::Structure structure =
      trained ? otfgp::read_structures(options.structure).at(0)
              : rattled_diamond(options.cells, options.lattice, options.rattle, 1, species);
  if (!options.lammps_data.empty()) write_lammps_data(structure, options.lammps_data);
  otfgp::B2Settings settings;
  settings.species = species;
  settings.n_max = options.n_max;
  settings.l_max = options.l_max;
  settings.cutoff = options.cutoff;
  if (options.embedding > 0)
    settings.embedding =
        otfgp::species_embedding("elements", species, options.embedding, options.contrast);
  const otfgp::MappedGp trained_model =
      trained ? otfgp::load_mapped_gp(options.model) : otfgp::MappedGp{};
  if (trained) settings = trained_model.descriptor;
  otfgp::AtomState state = otfgp::AtomState::from_structure(structure);
  const int natoms = state.natoms;
  std::printf("atoms %d, %zu species, %s, B2 n_max %d l_max %d r_cut %.3f Å, D = %d, skin %.2f Å\n",
              natoms, settings.species.size(),
              settings.embedded()
                  ? ("embedding of " + std::to_string(settings.channels()) + " channels").c_str()
                  : "species-resolved",
              settings.n_max, settings.l_max, settings.max_cutoff(), settings.descriptor_size(),
              options.skin);

  // Wall and processor seconds per step of every run, printed as key=value at the end.
  std::vector<double> mean_step, uncertainty_step, mean_processor, uncertainty_processor;
  std::vector<int> sparse_counts = options.sparse;
  if (trained) {
    int total = 0;
    for (const auto& u : trained_model.sparse_normalised) total += static_cast<int>(u.rows());
    sparse_counts = {total};
    std::printf("trained model %s: M = %d\n", options.model.c_str(), total);
  }
  for (int m : sparse_counts) {
    otfgp::GpPotential potential(trained ? trained_model : synthetic_model(settings, m, 7));
    potential.bind(state.species);
    otfgp::NeighborList list(potential.cutoff(), options.skin);
    list.build(state);
    const Timing mean = time_compute(potential, state, list, {}, options.steps);
    std::printf(
        "gp M=%d: forces every step: %.6e s/step, %.6e atom-steps/s (%.0f%% CPU, %.6e processor "
        "s/step), E = %.8f eV\n",
        m, mean.seconds_per_step, natoms / mean.seconds_per_step, 100 * mean.cpu_fraction,
        mean.seconds_per_step * mean.cpu_fraction, mean.energy);
    mean_step.push_back(mean.seconds_per_step);
    mean_processor.push_back(mean.seconds_per_step * mean.cpu_fraction);
    if (options.uncertainty_steps > 0) {
      const Timing with =
          time_compute(potential, state, list, {false, true}, options.uncertainty_steps);
      std::printf(
          "gp M=%d: forces + uncertainty every step: %.6e s/step, %.6e atom-steps/s (%.0f%% CPU, "
          "%.6e processor "
          "s/step)\n",
          m, with.seconds_per_step, natoms / with.seconds_per_step, 100 * with.cpu_fraction,
          with.seconds_per_step * with.cpu_fraction);
      uncertainty_step.push_back(with.seconds_per_step);
      uncertainty_processor.push_back(with.seconds_per_step * with.cpu_fraction);
    }
  }

  double reference_rate = 0.0, reference_processor_rate = 0.0;
  if (!options.reference.empty()) {
    auto reference = otfgp::make_potential(options.reference);
    reference->bind(state.species);
    otfgp::NeighborList list(reference->cutoff(), options.skin);
    list.build(state);
    const Timing timing = time_compute(*reference, state, list, {}, options.reference_steps);
    reference_rate = natoms / timing.seconds_per_step;
    reference_processor_rate = reference_rate / timing.cpu_fraction;
    std::printf("%s: %.6e s/step, %.6e atom-steps/s (%.0f%% CPU), E = %.8f eV\n",
                options.reference.c_str(), timing.seconds_per_step, reference_rate,
                100 * timing.cpu_fraction, timing.energy);
  }

  // Rates per wall second and per processor second (the latter is fairer on a shared machine).
  for (std::size_t k = 0; k < sparse_counts.size(); ++k) {
    std::printf("gp_rate_M%d=%.6e\n", sparse_counts[k], natoms / mean_step[k]);
    std::printf("gp_processor_rate_M%d=%.6e\n", sparse_counts[k], natoms / mean_processor[k]);
    if (!uncertainty_step.empty()) {
      std::printf("gp_uncertainty_rate_M%d=%.6e\n", sparse_counts[k], natoms / uncertainty_step[k]);
      std::printf("gp_uncertainty_processor_rate_M%d=%.6e\n", sparse_counts[k],
                  natoms / uncertainty_processor[k]);
      std::printf("gp_uncertainty_every10_processor_rate_M%d=%.6e\n", sparse_counts[k],
                  natoms / (0.9 * mean_processor[k] + 0.1 * uncertainty_processor[k]));
    }
  }
  if (sparse_counts.size() > 1) {
    std::printf("gp_step_ratio_M%d_over_M%d=%.4f\n", sparse_counts.back(), sparse_counts.front(),
                mean_step.back() / mean_step.front());
    std::printf("gp_processor_step_ratio_M%d_over_M%d=%.4f\n", sparse_counts.back(),
                sparse_counts.front(), mean_processor.back() / mean_processor.front());
  }
  if (reference_rate > 0) {
    std::printf("reference_rate=%.6e\n", reference_rate);
    std::printf("reference_processor_rate=%.6e\n", reference_processor_rate);
  }
  std::printf("atoms=%d\n", natoms);
  std::printf("descriptor_size=%d\n", settings.descriptor_size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_gp_md: %s\n", error.what());
    return 1;
  }
}
