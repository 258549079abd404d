// Times compute_hull on random entry sets: 10⁵ ternary (Ba–Rh–O) and 10⁴
// quaternary (Li–Fe–P–O) entries, elemental references. Compositions are random
// cells of up to 12 atoms per element; formation energies are uniform in
// [−1, 0.3] eV/atom. Prints the best of three runs and the hull's size.
//
//   build/bench/bench_hull [--ternary N] [--quaternary N] [--write-csv DIR]
//
// --write-csv writes the two sets as DIR/ternary.csv and DIR/quaternary.csv
// (otfgp hull's table format) for the same run with pymatgen
// (bench/hull_vs_pymatgen.sh).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "otfgp/analysis/hull.hpp"

using namespace otfgp;

namespace {

std::vector<HullEntry> random_entries(const std::vector<int>& elements, int count,
                                      std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> atoms(0, 12);
  std::uniform_real_distribution<double> formation(-1.0, 0.3);
  std::vector<HullEntry> entries;
  std::vector<double> potential;
  for (std::size_t e = 0; e < elements.size(); ++e) {
    potential.push_back(-2.0 - static_cast<double>(e));
    entries.push_back({"el" + std::to_string(e), Composition({{elements[e], 1.0}}),
                       potential.back(), std::nullopt});
  }
  while (static_cast<int>(entries.size()) < count) {
    std::map<int, double> amounts;
    double total = 0, reference = 0;
    for (std::size_t e = 0; e < elements.size(); ++e) {
      const int n = atoms(rng);
      if (n == 0) continue;
      amounts[elements[e]] = n;
      total += n;
      reference += n * potential[e];
    }
    if (amounts.size() < 2) continue;
    entries.push_back({"c" + std::to_string(entries.size()), Composition(amounts),
                       reference / total + formation(rng), std::nullopt});
  }
  return entries;
}

void write_csv(const std::filesystem::path& path, const std::vector<HullEntry>& entries) {
  std::ofstream out(path);
  out.precision(17);
  out << "id,formula,energy_per_atom\n";
  for (const auto& entry : entries)
    out << entry.id << "," << entry.composition.formula() << "," << entry.energy_per_atom << "\n";
}

void time_hull(const char* label, const std::vector<HullEntry>& entries) {
  double best = 1e300;
  Hull hull;
  for (int repeat = 0; repeat < 3; ++repeat) {
    const auto start = std::chrono::steady_clock::now();
    hull = compute_hull(entries);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::min(best, seconds);
  }
  std::printf("%-11s %7zu entries  %4zu stable  %5zu facets  compute_hull %.3f s (best of 3)\n",
              label, entries.size(), hull.stable.size(), hull.facets.size(), best);
}

}  // namespace

int main(int argc, char* argv[]) {
  int ternary = 100000, quaternary = 10000;
  std::string csv_folder;
  for (int a = 1; a < argc; ++a) {
    const std::string argument = argv[a];
    if (a + 1 >= argc) {
      std::fprintf(stderr, "usage: bench_hull [--ternary N] [--quaternary N] [--write-csv DIR]\n");
      return 2;
    }
    if (argument == "--ternary")
      ternary = std::atoi(argv[++a]);
    else if (argument == "--quaternary")
      quaternary = std::atoi(argv[++a]);
    else if (argument == "--write-csv")
      csv_folder = argv[++a];
    else {
      std::fprintf(stderr, "unknown option %s\n", argument.c_str());
      return 2;
    }
  }
  const auto ternary_set = random_entries({56, 45, 8}, ternary, 1);
  const auto quaternary_set = random_entries({3, 26, 15, 8}, quaternary, 2);
  if (!csv_folder.empty()) {
    write_csv(std::filesystem::path(csv_folder) / "ternary.csv", ternary_set);
    write_csv(std::filesystem::path(csv_folder) / "quaternary.csv", quaternary_set);
  }
  time_hull("ternary", ternary_set);
  time_hull("quaternary", quaternary_set);
  return 0;
}
