#pragma once
// Random crystal structures with a prescribed space group: the group's
// Wyckoff positions (derived in space_group.hpp) are filled so that every
// species gets its count, the lattice has the shape of the group's crystal
// system, the volume follows the covalent radii, and no two atoms are closer
// than a fraction of the sum of their covalent radii. Reproducible: the same
// seed and index give the same structure on every machine.

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "otfgp/core/structure.hpp"

namespace otfgp::search {

// Atomic numbers and counts per formula unit, e.g. NaCl → {11: 1, 17: 1}.
struct Stoichiometry {
  std::vector<int> numbers;
  std::vector<int> counts;

  // "NaCl", "Si", "BaRhO3"; throws otfgp::Error for an unknown element.
  static Stoichiometry parse(const std::string& formula);
  int atoms_per_formula_unit() const;
  std::string formula() const;
};

struct RandomStructureOptions {
  std::vector<int> space_groups;  // to draw from; empty: 1–230
  int min_formula_units = 1;
  int max_formula_units = 1;
  // Volume = factor × Σ (4/3)π r_cov³, factor uniform in [min, max].
  double volume_factor_min = 2.0;
  double volume_factor_max = 3.0;
  // No two atoms closer than tolerance × (r_cov,i + r_cov,j).
  double distance_tolerance = 0.7;
  int attempts_per_group = 20;  // lattices and placements tried before another group is drawn
  int groups_to_try = 30;       // drawn groups before the P1 fallback
  bool p1_fallback = true;
  double symprec = 1e-3;  // Å, spglib's tolerance for checking the result
};

struct GeneratedStructure {
  Structure structure;
  int space_group = 0;  // as found by spglib
  int formula_units = 0;
  bool fallback = false;  // P1 after no drawn group worked
};

// Deterministic uniform deviates from a 64-bit Mersenne twister (its output
// sequence is fixed by the C++ standard, unlike std:: distributions).
class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  int integer(int low, int high) {  // inclusive
    return low + static_cast<int>(uniform() * (high - low + 1));
  }

 private:
  std::mt19937_64 engine_;
};

// Why tries in a group failed, for diagnostics and the search log.
struct GenerationTally {
  int flat_cells = 0;       // the symmetrised metric was too flat
  int crowded = 0;          // an orbit could not be placed with the distances respected
  int higher_symmetry = 0;  // spglib found another (higher) group
  int made = 0;
};

// Whether the counts can be written as a sum of Wyckoff multiplicities of the
// group (each position without free parameters used at most once).
bool counts_fit(int space_group, const std::vector<int>& counts);

// One structure in the given group; nullopt when `options.attempts_per_group`
// tries found none with the distances respected and spglib agreeing (P1 takes
// any group spglib finds: it imposes no symmetry).
std::optional<Structure> random_structure_in_group(
    int space_group, const Stoichiometry& stoichiometry, int formula_units,
    const RandomStructureOptions& options, Random& random, GenerationTally* tally = nullptr);

// A structure for candidate `index` of a search seeded with `seed`: the
// formula units drawn once, uniformly among those some listed group holds,
// then groups drawn (without replacement until all were tried), P1 of the
// same size when `groups_to_try` of them gave nothing. Throws
// otfgp::Error when not even P1 works (the volume is too small for the
// distances).
GeneratedStructure generate_random_structure(const Stoichiometry& stoichiometry,
                                             const RandomStructureOptions& options,
                                             std::uint64_t seed, std::uint64_t index);

}  // namespace otfgp::search
