// Random symmetric structures: the requested space group per spglib for every
// group that fits the counts, covalent-radius distances respected,
// reproducible from the seed.

#include <catch2/catch.hpp>

#include <cmath>
#include <ctime>
#include <map>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/search/random_structure.hpp"
#include "otfgp/search/space_group.hpp"

using namespace otfgp;
using namespace otfgp::search;

namespace {

// Shortest distance between atoms i and j over images −2…2 (brute force).
double shortest(const Structure& s, int i, int j) {
  double best = 1e300;
  for (int a = -2; a <= 2; ++a)
    for (int b = -2; b <= 2; ++b)
      for (int c = -2; c <= 2; ++c) {
        if (i == j && a == 0 && b == 0 && c == 0) continue;
        const Eigen::RowVector3d shift = a * s.cell.row(0) + b * s.cell.row(1) + c * s.cell.row(2);
        best = std::min(best, (s.positions.row(j) + shift - s.positions.row(i)).norm());
      }
  return best;
}

void check_distances(const Structure& s, double tolerance) {
  for (int i = 0; i < s.size(); ++i)
    for (int j = i; j < s.size(); ++j) {
      const double limit =
          tolerance * (element(s.numbers[static_cast<std::size_t>(i)]).covalent_radius +
                       element(s.numbers[static_cast<std::size_t>(j)]).covalent_radius);
      REQUIRE(shortest(s, i, j) >= limit - 1e-9);
    }
}

}  // namespace

TEST_CASE("every space group that fits the counts yields a structure of that group", "[search]") {
  RandomStructureOptions options;
  options.distance_tolerance = 0.6;
  options.volume_factor_min = options.volume_factor_max = 3.0;
  options.attempts_per_group = 20;
  for (const std::string formula : {"Si8", "Na4Cl4", "Ba2Rh2O6", "Si12"}) {
    const Stoichiometry stoichiometry = Stoichiometry::parse(formula);
    int fitting = 0, made = 0, supergroup_only = 0;
    for (int number = 1; number <= 230; ++number) {
      if (!counts_fit(number, stoichiometry.counts)) continue;
      ++fitting;
      Random random(1000 + number);
      GenerationTally tally;
      const auto structure =
          random_structure_in_group(number, stoichiometry, 1, options, random, &tally);
      if (!structure) {
        // The counts fit only on positions whose every filling has more
        // symmetry (e.g. I222 with 8 atoms: all on the 2-fold axes → Immm),
        // or only on special lines that crowd the atoms (P6cc: Ba2 and Rh2 on
        // the same 6-fold axis).
        CHECK(tally.higher_symmetry + tally.crowded == options.attempts_per_group);
        supergroup_only += tally.higher_symmetry > 0 ? 1 : 0;
        continue;
      }
      ++made;
      INFO(formula << " in group " << number);
      const auto found = find_symmetry(*structure, 1e-3);
      REQUIRE(found);
      CHECK(found->number == number);
      CHECK(structure->size() == stoichiometry.atoms_per_formula_unit());
      check_distances(*structure, options.distance_tolerance);
    }
    WARN(formula << ": structures in " << made << " of " << fitting
                 << " groups where the counts fit, " << supergroup_only
                 << " of the others gave supergroups");
    CHECK(made >= fitting * 6 / 10);
  }
}

TEST_CASE("counts_fit knows which groups can hold the counts", "[search]") {
  CHECK(counts_fit(227, {8}));              // Fd-3m 8a: diamond Si8
  CHECK(counts_fit(225, {4, 4}));           // Fm-3m 4a + 4b: rocksalt
  CHECK_FALSE(counts_fit(225, {2}));        // smallest Fm-3m orbit has 4 points
  CHECK_FALSE(counts_fit(225, {4, 4, 4}));  // only 4a and 4b have 4 points
  CHECK(counts_fit(1, {7, 3}));
}

TEST_CASE("random structures are reproducible from the seed and fall back to P1", "[search]") {
  RandomStructureOptions options;
  options.min_formula_units = 2;
  options.max_formula_units = 4;
  const Stoichiometry nacl = Stoichiometry::parse("NaCl");
  const GeneratedStructure first = generate_random_structure(nacl, options, 42, 7);
  const GeneratedStructure again = generate_random_structure(nacl, options, 42, 7);
  const GeneratedStructure other = generate_random_structure(nacl, options, 42, 8);
  CHECK(first.structure.positions == again.structure.positions);
  CHECK(first.structure.cell == again.structure.cell);
  CHECK(first.space_group == again.space_group);
  CHECK_FALSE(first.structure.cell.isApprox(other.structure.cell));
  CHECK(first.structure.size() == 2 * first.formula_units);
  CHECK(find_symmetry(first.structure)->number == first.space_group);

  // Only P1 allowed in the list: 3 atoms of one kind cannot sit in Fm-3m.
  options.space_groups = {225};
  options.min_formula_units = options.max_formula_units = 1;
  const GeneratedStructure fallback =
      generate_random_structure(Stoichiometry::parse("Si3"), options, 1, 0);
  CHECK(fallback.fallback);
  CHECK(fallback.space_group == 1);
  options.p1_fallback = false;
  CHECK_THROWS_WITH(generate_random_structure(Stoichiometry::parse("Si3"), options, 1, 0),
                    Catch::Contains("no listed space group has Wyckoff positions for Si3 in 1 "
                                    "formula unit(s)"));
  // Two atoms of one element are always centrosymmetric, so P2 (3) never
  // comes out as itself: the message says that, not "distances".
  options.space_groups = {3};
  options.groups_to_try = 2;
  CHECK_THROWS_WITH(generate_random_structure(Stoichiometry::parse("Si2"), options, 1, 0),
                    Catch::Contains("2 draw(s) among the 1 fitting space group(s)") &&
                        Catch::Contains("raise groups_to_try") &&
                        Catch::Contains("came out with more symmetry than their group") &&
                        Catch::Contains("p1_fallback (off)"));
  options.groups_to_try = 30;
  CHECK_THROWS_AS(Stoichiometry::parse("Na0.5Cl"), Error);
  // One Si atom: no P1 cell of it lacks inversion; the fallback keeps the
  // cell with the group spglib finds.
  options.p1_fallback = true;
  options.space_groups = {227};
  const GeneratedStructure atom =
      generate_random_structure(Stoichiometry::parse("Si"), options, 1, 0);
  CHECK(atom.fallback);
  CHECK(atom.space_group != 1);
  CHECK(find_symmetry(atom.structure, options.symprec)->number == atom.space_group);
}

TEST_CASE("formula units are drawn uniformly per candidate", "[search]") {
  // Si in 1 to 4 formula units: one- and two-atom cells give a structure of
  // their own group in 6 of 37 and 17 of 133 groups. Drawn anew at each
  // group try, the sizes came out 57/44/168/131 of 400 (χ² = 106).
  RandomStructureOptions options;
  options.min_formula_units = 1;
  options.max_formula_units = 4;
  const Stoichiometry silicon = Stoichiometry::parse("Si");
  const int draws = 200;
  std::map<int, int> drawn;
  for (int k = 0; k < draws; ++k) {
    const GeneratedStructure made =
        generate_random_structure(silicon, options, 2, static_cast<std::uint64_t>(k));
    REQUIRE(made.structure.size() == made.formula_units);
    ++drawn[made.formula_units];
  }
  const double expected = draws / 4.0;
  double chi_square = 0;
  for (const auto& [units, count] : drawn) chi_square += std::pow(count - expected, 2) / expected;
  INFO("1 to 4 formula units: " << drawn[1] << " " << drawn[2] << " " << drawn[3] << " "
                                << drawn[4]);
  // 3 degrees of freedom: a uniform draw exceeds 16.27 once in 1000.
  CHECK(drawn.size() == 4);
  CHECK(chi_square < 16.27);
}

TEST_CASE("at least 100 valid 20-atom structures per second", "[search][benchmark]") {
  RandomStructureOptions options;
  options.min_formula_units = options.max_formula_units = 4;
  const Stoichiometry stoichiometry = Stoichiometry::parse("Mg2SiO2");  // 5 × 4 = 20 atoms
  generate_random_structure(stoichiometry, options, 0, 0);              // derives the groups once
  const int count = 200;
  // Processor time of this process: "per second on one core", whatever else
  // the machine is running.
  const std::clock_t start = std::clock();
  int fallbacks = 0;
  for (int k = 1; k <= count; ++k) {
    const GeneratedStructure made =
        generate_random_structure(stoichiometry, options, 5, static_cast<std::uint64_t>(k));
    REQUIRE(made.structure.size() == 20);
    fallbacks += made.fallback ? 1 : 0;
  }
  const double seconds = static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
  WARN("random 20-atom Mg8Si4O8 structures: " << count / seconds << " per second of CPU time, "
                                              << fallbacks << " P1 fallbacks");
  CHECK(count / seconds >= 100);
}
