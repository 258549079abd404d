#include "otfgp/search/random_structure.hpp"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <tuple>

#include "otfgp/core/counter_random.hpp"
#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/formula.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/search/space_group.hpp"

namespace otfgp::search {

Stoichiometry Stoichiometry::parse(const std::string& formula) {
  const otfgp::Composition composition = parse_formula(formula);
  Stoichiometry result;
  for (const auto& [number, amount] : composition.amounts()) {
    const long count = std::lround(amount);
    if (count < 1 || std::abs(amount - static_cast<double>(count)) > 1e-9)
      throw Error("composition '" + formula + "': counts must be whole numbers");
    if (count > 1000000)
      throw Error("composition '" + formula + "': a count of " + std::to_string(count) +
                  " atoms per formula unit is beyond any cell a search can make");
    result.numbers.push_back(number);
    result.counts.push_back(static_cast<int>(count));
  }
  return result;
}

int Stoichiometry::atoms_per_formula_unit() const {
  int total = 0;
  for (const int count : counts) total += count;
  return total;
}

std::string Stoichiometry::formula() const {
  std::map<int, double> amounts;
  for (std::size_t k = 0; k < numbers.size(); ++k) amounts[numbers[k]] = counts[k];
  return otfgp::Composition(amounts).formula();
}

namespace {

// Positions chosen for each species, as indices into the group's Wyckoff list.
using Assignment = std::vector<std::vector<int>>;

// Fills the species one after the other with Wyckoff positions; positions
// without free parameters hold one orbit at most. Depth-first, in random order
// when `random` is given, remembering the states that cannot be completed.
class AssignmentSearch {
 public:
  AssignmentSearch(const SpaceGroup& group, const std::vector<int>& counts, Random* random)
      : group_(group), counts_(counts), random_(random) {
    for (std::size_t k = 0; k < group.wyckoff.size(); ++k)
      if (group.wyckoff[k].dimension == 0) fixed_bit_[k] = static_cast<int>(fixed_bit_.size());
    if (fixed_bit_.size() > 64) throw Error("too many special points in one group");
  }

  std::optional<Assignment> run() {
    Assignment assignment(counts_.size());
    if (fill(0, counts_.empty() ? 0 : counts_[0], 0, assignment)) return assignment;
    return std::nullopt;
  }

 private:
  bool fill(std::size_t species, int remaining, std::uint64_t used, Assignment& assignment) {
    if (remaining == 0) {
      if (species + 1 >= counts_.size()) return true;
      return fill(species + 1, counts_[species + 1], used, assignment);
    }
    const auto state = std::make_tuple(species, remaining, used);
    if (failed_.count(state)) return false;
    std::vector<int> options;
    for (std::size_t k = 0; k < group_.wyckoff.size(); ++k) {
      const auto& position = group_.wyckoff[k];
      if (position.multiplicity > remaining) continue;
      if (position.dimension == 0 && (used >> fixed_bit_.at(k) & 1U)) continue;
      options.push_back(static_cast<int>(k));
    }
    if (random_)
      for (std::size_t k = options.size(); k > 1; --k)
        std::swap(options[k - 1],
                  options[static_cast<std::size_t>(random_->integer(0, static_cast<int>(k) - 1))]);
    for (const int k : options) {
      const auto& position = group_.wyckoff[static_cast<std::size_t>(k)];
      std::uint64_t now_used = used;
      if (position.dimension == 0)
        now_used |= std::uint64_t{1} << fixed_bit_.at(static_cast<std::size_t>(k));
      assignment[species].push_back(k);
      if (fill(species, remaining - position.multiplicity, now_used, assignment)) return true;
      assignment[species].pop_back();
    }
    failed_.insert(state);
    return false;
  }

  const SpaceGroup& group_;
  const std::vector<int>& counts_;
  Random* random_;
  std::map<std::size_t, int> fixed_bit_;
  std::set<std::tuple<std::size_t, int, std::uint64_t>> failed_;
};

// A metric invariant under the group: a random triclinic one averaged over
// the rotations (G ← Σ WᵀGW / n), which imposes exactly the constraints of the
// group's crystal system in its setting. Returns the cell (rows), scaled to
// `volume`, or nullopt for a cell too flat to use.
std::optional<Eigen::Matrix3d> random_cell(const SpaceGroup& group, double volume, Random& random) {
  const double a = random.uniform(1.0, 2.0), b = random.uniform(1.0, 2.0),
               c = random.uniform(1.0, 2.0);
  const double to_radians = units::pi / 180.0;
  const double alpha = random.uniform(60, 120) * to_radians,
               beta = random.uniform(60, 120) * to_radians,
               gamma = random.uniform(60, 120) * to_radians;
  Eigen::Matrix3d metric;
  metric << a * a, a * b * std::cos(gamma), a * c * std::cos(beta), a * b * std::cos(gamma), b * b,
      b * c * std::cos(alpha), a * c * std::cos(beta), b * c * std::cos(alpha), c * c;
  Eigen::Matrix3d symmetric = Eigen::Matrix3d::Zero();
  for (const auto& op : group.operations) {
    const Eigen::Matrix3d w = op.rotation.cast<double>();
    symmetric += w.transpose() * metric * w;
  }
  symmetric /= static_cast<double>(group.operations.size());
  const Eigen::LLT<Eigen::Matrix3d> factor(symmetric);
  if (factor.info() != Eigen::Success) return std::nullopt;
  Eigen::Matrix3d cell = factor.matrixL();
  const double lengths = cell.row(0).norm() * cell.row(1).norm() * cell.row(2).norm();
  const double det = std::abs(cell.determinant());
  if (det < 0.35 * lengths) return std::nullopt;  // angles too far from 90°
  const double longest = cell.rowwise().norm().maxCoeff(),
               shortest = cell.rowwise().norm().minCoeff();
  if (longest > 3.0 * shortest) return std::nullopt;
  return cell * std::cbrt(volume / det);
}

struct Site {
  Eigen::Vector3d fractional;
  int number;
};

class Placement {
 public:
  Placement(const Eigen::Matrix3d& cell, double tolerance) : cell_(cell), tolerance_(tolerance) {}

  double minimum(int first, int second) const {
    return tolerance_ * (element(first).covalent_radius + element(second).covalent_radius);
  }

  // Shortest distance between f and g over the nearest periodic images.
  double distance(const Eigen::Vector3d& f, const Eigen::Vector3d& g, bool same) const {
    Eigen::Vector3d d = f - g;
    for (int k = 0; k < 3; ++k) d[k] -= std::round(d[k]);
    double shortest = 1e300;
    for (int i = -1; i <= 1; ++i)
      for (int j = -1; j <= 1; ++j)
        for (int k = -1; k <= 1; ++k) {
          if (same && i == 0 && j == 0 && k == 0) continue;
          const Eigen::Vector3d shifted = d + Eigen::Vector3d(i, j, k);
          shortest = std::min(shortest, (shifted.transpose() * cell_).norm());
        }
    return shortest;
  }

  bool fits(const std::vector<Eigen::Vector3d>& points, int number) const {
    const double own = minimum(number, number);
    for (std::size_t p = 0; p < points.size(); ++p) {
      if (distance(points[p], points[p], true) < own) return false;
      for (std::size_t q = 0; q < p; ++q)
        if (distance(points[p], points[q], false) < own) return false;
      for (const auto& site : sites_)
        if (distance(points[p], site.fractional, false) < minimum(number, site.number))
          return false;
    }
    return true;
  }

  void add(const std::vector<Eigen::Vector3d>& points, int number) {
    for (const auto& point : points) sites_.push_back({point, number});
  }
  const std::vector<Site>& sites() const { return sites_; }

 private:
  Eigen::Matrix3d cell_;
  double tolerance_;
  std::vector<Site> sites_;
};

// The groups in which the counts fit, per set of counts, computed once.
std::vector<int> fitting_groups(const std::vector<int>& counts, const std::vector<int>& allowed) {
  static std::mutex mutex;
  static std::map<std::vector<int>, std::vector<int>> cache;
  std::vector<int> fitting;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache.find(counts);
    if (it == cache.end()) {
      std::vector<int> all;
      for (int number = 1; number <= 230; ++number)
        if (counts_fit(number, counts)) all.push_back(number);
      it = cache.emplace(counts, all).first;
    }
    fitting = it->second;
  }
  if (allowed.empty()) return fitting;
  std::vector<int> chosen;
  for (const int number : fitting)
    if (std::find(allowed.begin(), allowed.end(), number) != allowed.end())
      chosen.push_back(number);
  return chosen;
}

std::vector<int> scaled_counts(const Stoichiometry& stoichiometry, int formula_units) {
  std::vector<int> counts;
  for (const int count : stoichiometry.counts) counts.push_back(count * formula_units);
  return counts;
}

// The formula units, from min to max, that some listed group can hold.
std::vector<int> fitting_formula_units(const Stoichiometry& stoichiometry,
                                       const RandomStructureOptions& options) {
  std::vector<int> sizes;
  for (int units = options.min_formula_units; units <= options.max_formula_units; ++units)
    if (!fitting_groups(scaled_counts(stoichiometry, units), options.space_groups).empty())
      sizes.push_back(units);
  return sizes;
}

// A structure made in group `number`, with the group spglib finds (P1 keeps
// whatever symmetry its cell has).
GeneratedStructure generated(Structure structure, int number, int formula_units,
                             const RandomStructureOptions& options) {
  GeneratedStructure result;
  result.space_group = number == 1 ? find_symmetry(structure, options.symprec)->number : number;
  result.structure = std::move(structure);
  result.formula_units = formula_units;
  return result;
}

void check_options(const Stoichiometry& stoichiometry, const RandomStructureOptions& options) {
  if (stoichiometry.numbers.empty() || stoichiometry.numbers.size() != stoichiometry.counts.size())
    throw Error("random structure: the composition is empty");
  if (options.min_formula_units < 1 || options.max_formula_units < options.min_formula_units)
    throw Error("random structure: formula units must satisfy 1 <= min <= max");
  if (!(options.volume_factor_min > 0) ||
      !(options.volume_factor_max >= options.volume_factor_min) ||
      !(options.volume_factor_max <= 100))
    throw Error("random structure: volume factors must satisfy 0 < min <= max <= 100");
  if (!(options.distance_tolerance >= 0))
    throw Error("random structure: negative distance tolerance");
  for (const int number : options.space_groups)
    if (number < 1 || number > 230)
      throw Error("random structure: space group " + std::to_string(number) + " is outside 1–230");
}

}  // namespace

bool counts_fit(int space_group_number, const std::vector<int>& counts) {
  return AssignmentSearch(space_group(space_group_number), counts, nullptr).run().has_value();
}

std::optional<Structure> random_structure_in_group(int space_group_number,
                                                   const Stoichiometry& stoichiometry,
                                                   int formula_units,
                                                   const RandomStructureOptions& options,
                                                   Random& random, GenerationTally* tally) {
  GenerationTally ignored;
  GenerationTally& counts_of = tally ? *tally : ignored;
  const SpaceGroup& group = space_group(space_group_number);
  std::vector<int> counts;
  double sphere_volume = 0.0;
  for (std::size_t s = 0; s < stoichiometry.numbers.size(); ++s) {
    counts.push_back(stoichiometry.counts[s] * formula_units);
    const double radius = element(stoichiometry.numbers[s]).covalent_radius;
    sphere_volume += counts.back() * 4.0 / 3.0 * units::pi * radius * radius * radius;
  }
  constexpr int tries_per_orbit = 20;
  for (int attempt = 0; attempt < options.attempts_per_group; ++attempt) {
    const auto assignment = AssignmentSearch(group, counts, &random).run();
    if (!assignment) return std::nullopt;
    const double volume =
        sphere_volume * random.uniform(options.volume_factor_min, options.volume_factor_max);
    const auto cell = random_cell(group, volume, random);
    if (!cell) {
      ++counts_of.flat_cells;
      continue;
    }
    Placement placement(*cell, options.distance_tolerance);
    // Fixed points first: they have no freedom left to avoid the others.
    std::vector<std::pair<int, int>> orbits;  // (Wyckoff index, species)
    for (std::size_t s = 0; s < assignment->size(); ++s)
      for (const int k : (*assignment)[s]) orbits.emplace_back(k, static_cast<int>(s));
    std::stable_sort(orbits.begin(), orbits.end(), [&](const auto& x, const auto& y) {
      return group.wyckoff[static_cast<std::size_t>(x.first)].dimension <
             group.wyckoff[static_cast<std::size_t>(y.first)].dimension;
    });
    bool placed_all = true;
    for (const auto& [k, s] : orbits) {
      const WyckoffPosition& position = group.wyckoff[static_cast<std::size_t>(k)];
      const int number = stoichiometry.numbers[static_cast<std::size_t>(s)];
      bool placed = false;
      for (int t = 0; t < (position.dimension == 0 ? 1 : tries_per_orbit) && !placed; ++t) {
        Eigen::Vector3d point = position.origin;
        for (const auto& direction : position.directions) point += random.uniform() * direction;
        const std::vector<Eigen::Vector3d> images = orbit(group, point);
        if (static_cast<int>(images.size()) != position.multiplicity) continue;
        if (!placement.fits(images, number)) continue;
        placement.add(images, number);
        placed = true;
      }
      if (!placed) {
        placed_all = false;
        break;
      }
    }
    if (!placed_all) {
      ++counts_of.crowded;
      continue;
    }
    Structure structure;
    structure.cell = *cell;
    structure.positions.resize(static_cast<Eigen::Index>(placement.sites().size()), 3);
    for (std::size_t i = 0; i < placement.sites().size(); ++i) {
      structure.positions.row(static_cast<Eigen::Index>(i)) =
          placement.sites()[i].fractional.transpose() * *cell;
      structure.numbers.push_back(placement.sites()[i].number);
    }
    // A choice of only special positions can have more symmetry than asked.
    // P1 asks for none: its cell is kept whatever symmetry it happens to have
    // (one atom, or two of one element, are always centrosymmetric).
    const auto found = find_symmetry(structure, options.symprec);
    if (!found || (found->number != space_group_number && space_group_number != 1)) {
      ++counts_of.higher_symmetry;
      continue;
    }
    ++counts_of.made;
    return structure;
  }
  return std::nullopt;
}

GeneratedStructure generate_random_structure(const Stoichiometry& stoichiometry,
                                             const RandomStructureOptions& options,
                                             std::uint64_t seed, std::uint64_t index) {
  check_options(stoichiometry, options);
  Random random(CounterRandom::mix(CounterRandom::mix(seed) ^ index));
  // Drawn once, uniformly among the sizes some listed group holds, and kept
  // through the group tries and the fallback: redrawn per try, sizes whose
  // groups often fail were under-sampled (Si, [1, 4]: 57/44/168/131 of 400).
  const std::vector<int> sizes = fitting_formula_units(stoichiometry, options);
  const bool any_group_fits = !sizes.empty();
  const int formula_units =
      any_group_fits
          ? sizes[static_cast<std::size_t>(random.integer(0, static_cast<int>(sizes.size()) - 1))]
          : random.integer(options.min_formula_units, options.max_formula_units);
  std::vector<int> groups =
      fitting_groups(scaled_counts(stoichiometry, formula_units), options.space_groups);
  const int group_count = static_cast<int>(groups.size());
  GenerationTally tally;  // for the message when nothing comes of the tries
  int tried = 0;
  for (; tried < options.groups_to_try && group_count > 0; ++tried) {
    // Without replacement until every group was tried (then anew): Si2 fits
    // 133 groups, 17 of which give a structure of their own symmetry.
    const int slot = tried % group_count;
    std::swap(groups[static_cast<std::size_t>(slot)],
              groups[static_cast<std::size_t>(random.integer(slot, group_count - 1))]);
    const int number = groups[static_cast<std::size_t>(slot)];
    if (auto structure = random_structure_in_group(number, stoichiometry, formula_units, options,
                                                   random, &tally))
      return generated(std::move(*structure), number, formula_units, options);
  }
  if (options.p1_fallback) {
    RandomStructureOptions fallback = options;
    fallback.attempts_per_group = std::max(100, options.attempts_per_group);
    if (auto structure =
            random_structure_in_group(1, stoichiometry, formula_units, fallback, random, &tally)) {
      GeneratedStructure result = generated(std::move(*structure), 1, formula_units, options);
      result.fallback = true;
      return result;
    }
  }
  const std::string why =
      !any_group_fits
          ? " no listed space group has Wyckoff positions for " + stoichiometry.formula() + " in " +
                (options.min_formula_units == options.max_formula_units
                     ? std::to_string(options.min_formula_units)
                     : std::to_string(options.min_formula_units) + " to " +
                           std::to_string(options.max_formula_units)) +
                " formula unit(s) (the generator builds conventional cells: Fd-3m, say, holds "
                "no fewer than 8 atoms); list other space_groups or change formula_units"
          : fmt::format(
                " {} draw(s) among the {} fitting space group(s) ({} formula unit(s); "
                "groups_to_try {}) gave no structure: of the tries, {} could not place the atoms "
                "with the distances respected (lower distance_tolerance or raise volume_factor), "
                "{} came out with more symmetry than their group (spglib: try more groups, raise "
                "groups_to_try), {} had too flat a cell",
                tried, group_count, formula_units, options.groups_to_try, tally.crowded,
                tally.higher_symmetry, tally.flat_cells);
  throw Error("random structure for " + stoichiometry.formula() + ":" + why +
              (options.p1_fallback ? "; neither did the P1 fallback"
                                   : "; p1_fallback (off) would place them in P1"));
}

}  // namespace otfgp::search
