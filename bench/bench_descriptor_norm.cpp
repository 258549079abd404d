// ⟨|b|²⟩ of the B2 power spectrum over the atoms of labelled frames: the scale
// of the kernel's three-body part w₃ b·b′ (docs/gp.md "Three-body part"), so
// that w₃⟨|b|²⟩ says how strongly a given w₃ weighs against the normalised
// many-body part (1 per atom). docs/BENCHMARKS.md "The kernel's three-body part".
//
//   bench_descriptor_norm FRAMES [--n-max 8] [--l-max 4] [--cutoff 5.0]
//       Every atom of every frame of FRAMES (extended XYZ), described with the
//       species of the frames (ascending), species-resolved channels, no
//       two-body block. Prints one JSON line: frames, atoms, D, ⟨|b|²⟩ over all
//       atoms and per element, and w₃⟨|b|²⟩ for w₃ = 10⁻⁷, 3·10⁻⁷, … 10⁻⁵.

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/gp/b2_descriptor.hpp"

using namespace otfgp;

int main(int argc, char** argv) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  try {
    if (argc < 2)
      throw Error("usage: bench_descriptor_norm FRAMES [--n-max N] [--l-max L] [--cutoff RC]");
    const std::string path = argv[1];
    B2Settings settings;
    settings.n_max = 8;
    settings.l_max = 4;
    settings.cutoff = 5.0;
    for (int k = 2; k < argc; ++k) {
      const std::string option = argv[k];
      if (k + 1 >= argc) throw Error(option + " needs a value");
      const std::string value = argv[++k];
      if (option == "--n-max")
        settings.n_max = std::stoi(value);
      else if (option == "--l-max")
        settings.l_max = std::stoi(value);
      else if (option == "--cutoff")
        settings.cutoff = std::stod(value);
      else
        throw Error("unknown option " + option);
    }
    const std::vector<Structure> frames = read_structures(path);
    std::set<int> species;
    for (const Structure& frame : frames)
      species.insert(frame.numbers.begin(), frame.numbers.end());
    settings.species.assign(species.begin(), species.end());
    const B2Descriptor descriptor(settings);
    double sum = 0.0;
    long atoms = 0;
    std::map<int, std::pair<double, long>> by_element;  // Z → (Σ|b|², atoms)
    for (const Structure& frame : frames) {
      AtomState state = AtomState::from_structure(frame);
      NeighborList list(descriptor.cutoff(), 0.0);
      list.build(state);
      const DescriptorValues values = descriptor.compute(state, list, false);
      for (int i = 0; i < frame.size(); ++i) {
        const double squared = values.values.row(i).squaredNorm();
        sum += squared;
        ++atoms;
        by_element[frame.numbers[i]].first += squared;
        ++by_element[frame.numbers[i]].second;
      }
    }
    if (atoms == 0) throw Error(path + ": no atoms");
    const double mean = sum / static_cast<double>(atoms);
    nlohmann::json line = {{"frames", frames.size()},
                           {"atoms", atoms},
                           {"descriptor_size", descriptor.size()},
                           {"mean_b2", mean}};
    for (const auto& [z, total] : by_element)
      line["mean_b2_by_element"][element(z).symbol] =
          total.first / static_cast<double>(total.second);
    for (const double w : {1e-7, 3e-7, 1e-6, 3e-6, 1e-5})
      line["w3_times_mean_b2"][format_significant(w, 2)] = w * mean;
    std::printf("%s\n", line.dump().c_str());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_descriptor_norm: %s\n", error.what());
    return 1;
  }
  return 0;
}
