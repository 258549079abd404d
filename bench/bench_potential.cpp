// Times Potential::compute on a rattled diamond crystal with a neighbour list
// built once (cutoff + 1 Å skin), the force-field part of an MD step.
//
//   bench_potential SPEC [--element Si] [--lattice 5.431] [--cells 8] [--steps 1000]
//                        [--rattle 0.05] [--seed 1] [--skin 1.0] [--write-lammps-data FILE]
//
// Prints seconds per compute and atom-steps per second; --write-lammps-data
// writes the same configuration for LAMMPS (bench/potential_vs_lammps.sh).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/potentials/potential.hpp"

namespace {

struct Options {
  std::string spec;
  std::string element = "Si";
  double lattice = 5.431;
  int cells = 8;
  int steps = 1000;
  double rattle = 0.05;
  unsigned seed = 1;
  double skin = 1.0;
  std::string lammps_data;
};

Options parse(int argc, char** argv) {
  Options options;
  for (int k = 1; k < argc; ++k) {
    const std::string argument = argv[k];
    auto value = [&]() -> std::string {
      if (k + 1 >= argc) throw otfgp::Error(argument + " needs a value");
      return argv[++k];
    };
    if (argument == "--element")
      options.element = value();
    else if (argument == "--lattice")
      options.lattice = std::stod(value());
    else if (argument == "--cells")
      options.cells = std::stoi(value());
    else if (argument == "--steps")
      options.steps = std::stoi(value());
    else if (argument == "--rattle")
      options.rattle = std::stod(value());
    else if (argument == "--seed")
      options.seed = static_cast<unsigned>(std::stoul(value()));
    else if (argument == "--skin")
      options.skin = std::stod(value());
    else if (argument == "--write-lammps-data")
      options.lammps_data = value();
    else if (!argument.empty() && argument[0] != '-' && options.spec.empty())
      options.spec = argument;
    else
      throw otfgp::Error("unknown argument '" + argument + "'");
  }
  if (options.spec.empty())
    throw otfgp::Error("usage: bench_potential SPEC [options] (see the source header)");
  if (options.cells < 1 || options.steps < 1)
    throw otfgp::Error("--cells and --steps must be positive");
  return options;
}

otfgp::Structure rattled_diamond(const Options& options) {
  const double basis[8][3] = {{0, 0, 0},          {0, 0.5, 0.5},      {0.5, 0, 0.5},
                              {0.5, 0.5, 0},      {0.25, 0.25, 0.25}, {0.25, 0.75, 0.75},
                              {0.75, 0.25, 0.75}, {0.75, 0.75, 0.25}};
  const int z = otfgp::atomic_number(options.element);
  const int n = options.cells;
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> shift(-options.rattle, options.rattle);
  otfgp::Structure s;
  s.cell = Eigen::Matrix3d::Identity() * options.lattice * n;
  s.positions.resize(8 * n * n * n, 3);
  int atom = 0;
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b)
      for (int c = 0; c < n; ++c)
        for (const auto& site : basis) {
          const double cell[3] = {a + site[0], b + site[1], c + site[2]};
          for (int d = 0; d < 3; ++d) s.positions(atom, d) = cell[d] * options.lattice + shift(rng);
          s.numbers.push_back(z);
          ++atom;
        }
  return s;
}

void write_lammps_data(const otfgp::Structure& s, const std::string& path) {
  std::ofstream out(path);
  if (!out) throw otfgp::Error("cannot write " + path);
  out.precision(17);
  const double length = s.cell(0, 0);
  out << "otfgp bench_potential configuration\n\n" << s.size() << " atoms\n1 atom types\n\n";
  for (const char* axis : {"x", "y", "z"})
    out << "0 " << length << " " << axis << "lo " << axis << "hi\n";
  out << "\nMasses\n\n1 " << otfgp::element(s.numbers[0]).mass << "\n\nAtoms # atomic\n\n";
  for (int i = 0; i < s.size(); ++i)
    out << i + 1 << " 1 " << s.positions(i, 0) << " " << s.positions(i, 1) << " "
        << s.positions(i, 2) << "\n";
}

int run(const Options& options) {
  auto potential = otfgp::make_potential(options.spec);
  const otfgp::Structure structure = rattled_diamond(options);
  if (!options.lammps_data.empty()) write_lammps_data(structure, options.lammps_data);
  otfgp::AtomState state = otfgp::AtomState::from_structure(structure);
  potential->bind(state.species);
  otfgp::NeighborList list(potential->cutoff(), options.skin);
  list.build(state);
  const otfgp::ComputeRequest request;

  double energy = potential->compute(state, list, request).energy;  // warm-up: allocations
  Kokkos::fence();
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  for (int step = 0; step < options.steps; ++step)
    energy = potential->compute(state, list, request).energy;
  Kokkos::fence();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Processor time as well: on a shared machine it shows how much of the wall time we ran.
  const double cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;

  const double per_step = seconds / options.steps;
  const double atom_steps = static_cast<double>(state.natoms) * options.steps / seconds;
  std::printf("spec %s\natoms %d  pairs on the list %d (cutoff %.4f + skin %.2f Å)\n",
              potential->spec().c_str(), state.natoms, list.num_pairs(), potential->cutoff(),
              options.skin);
  std::printf("energy %.10f eV (%.6f eV/atom)\n", energy, energy / state.natoms);
  std::printf("compute: %d calls in %.4f s, %.6e s/step, %.6e atom-steps/s\n", options.steps,
              seconds, per_step, atom_steps);
  std::printf("processor time %.4f s (%.1f%% of wall)\n", cpu_seconds,
              100.0 * cpu_seconds / seconds);
  std::printf("otfgp_atom_steps_per_second=%.6e\n", atom_steps);
  std::printf("otfgp_cpu_percent=%.2f\n", 100.0 * cpu_seconds / seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_potential: %s\n", error.what());
    return 1;
  }
}
