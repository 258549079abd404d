// Convex hull: agreement with pymatgen's PhaseDiagram / CompoundPhaseDiagram on
// random entry sets (2–5 components, elemental and compound references, at
// pressure), plus the degenerate and malformed inputs.

#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include "otfgp/analysis/hull.hpp"
#include "otfgp/analysis/hull_phases.hpp"
#include "otfgp/analysis/hull_plot.hpp"
#include "otfgp/analysis/hull_report.hpp"
#include "otfgp/analysis/hull_sweep.hpp"
#include "otfgp/analysis/phase_table.hpp"
#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/potentials/potential.hpp"
#include "support/python.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using Catch::Matchers::Contains;

namespace {

struct EntrySet {
  std::vector<PhaseRecord> records;
  std::vector<std::string> references;  // formulas; empty for elements
  double pressure_gpa = 0.0;
};

Composition counts_to_composition(const std::map<int, int>& counts) {
  std::map<int, double> amounts;
  for (const auto& [z, count] : counts)
    if (count > 0) amounts[z] = count;
  return Composition(amounts);
}

// Elements with one or two polymorphs each and random compounds below and above
// the elements' plane; some compositions appear twice (scaled cells).
EntrySet random_elemental_set(const std::vector<int>& elements, int compounds,
                              std::mt19937_64& rng) {
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::uniform_int_distribution<int> count(0, 4);
  EntrySet set;
  std::map<int, double> chemical_potential;
  for (int z : elements) {
    chemical_potential[z] = -3.0 + 2.0 * uniform(rng);
    const int polymorphs = uniform(rng) < 0.5 ? 1 : 2;
    for (int p = 0; p < polymorphs; ++p) {
      PhaseRecord record;
      record.id = std::string(element(z).symbol) + "_" + std::to_string(p);
      record.composition = Composition({{z, 1.0 + p}});
      record.energy_per_atom = chemical_potential[z] + (p == 0 ? 0.0 : 0.01 + 0.3 * uniform(rng));
      record.volume_per_atom = 8.0 + 20.0 * uniform(rng);
      set.records.push_back(record);
    }
  }
  for (int c = 0; c < compounds; ++c) {
    std::map<int, int> counts;
    int nonzero = 0;
    while (nonzero < 2) {
      counts.clear();
      nonzero = 0;
      for (int z : elements) {
        counts[z] = count(rng);
        nonzero += counts[z] > 0;
      }
    }
    PhaseRecord record;
    record.id = "c" + std::to_string(c);
    record.composition = counts_to_composition(counts);
    double reference = 0.0;
    for (const auto& [z, n] : counts) reference += n * chemical_potential[z];
    record.energy_per_atom = reference / record.composition.total() - 1.0 + 1.25 * uniform(rng);
    record.volume_per_atom = 8.0 + 20.0 * uniform(rng);
    set.records.push_back(record);
    if (uniform(rng) < 0.15) {  // the same composition in a doubled cell, another energy
      PhaseRecord twin = record;
      twin.id += "_twin";
      std::map<int, double> doubled;
      for (const auto& [z, amount] : record.composition.amounts()) doubled[z] = 2 * amount;
      twin.composition = Composition(doubled);
      twin.energy_per_atom += 0.2 * (uniform(rng) - 0.5);
      set.records.push_back(twin);
    }
  }
  return set;
}

// Entries made of whole multiples of the reference compounds, plus entries
// outside their space (which both codes must leave out).
EntrySet random_compound_set(const std::vector<std::string>& references,
                             const std::vector<std::string>& outside, int compounds,
                             std::mt19937_64& rng) {
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::uniform_int_distribution<int> count(0, 3);
  EntrySet set;
  set.references = references;
  std::vector<Composition> terminals;
  std::vector<double> potential;
  for (std::size_t r = 0; r < references.size(); ++r) {
    terminals.push_back(parse_formula(references[r]));
    potential.push_back(-4.0 + 2.0 * uniform(rng));
    const int polymorphs = uniform(rng) < 0.5 ? 1 : 2;
    for (int p = 0; p < polymorphs; ++p) {
      PhaseRecord record;
      record.id = references[r] + "_" + std::to_string(p);
      record.composition = terminals.back();
      record.energy_per_atom = potential.back() + (p == 0 ? 0.0 : 0.02 + 0.2 * uniform(rng));
      set.records.push_back(record);
    }
  }
  for (int c = 0; c < compounds; ++c) {
    std::vector<int> multiples;
    int nonzero = 0;
    while (nonzero < 2) {
      multiples.clear();
      nonzero = 0;
      for (std::size_t r = 0; r < references.size(); ++r) {
        multiples.push_back(count(rng));
        nonzero += multiples.back() > 0;
      }
    }
    std::map<int, double> amounts;
    double reference_energy = 0.0, atoms = 0.0;
    for (std::size_t r = 0; r < references.size(); ++r) {
      for (const auto& [z, amount] : terminals[r].amounts()) amounts[z] += multiples[r] * amount;
      reference_energy += multiples[r] * terminals[r].total() * potential[r];
      atoms += multiples[r] * terminals[r].total();
    }
    PhaseRecord record;
    record.id = "c" + std::to_string(c);
    record.composition = Composition(amounts);
    record.energy_per_atom = reference_energy / atoms - 0.6 + 0.8 * uniform(rng);
    set.records.push_back(record);
  }
  for (std::size_t o = 0; o < outside.size(); ++o) {
    PhaseRecord record;
    record.id = "outside" + std::to_string(o);
    record.composition = parse_formula(outside[o]);
    record.energy_per_atom = -5.0;
    set.records.push_back(record);
  }
  return set;
}

nlohmann::json to_json(const EntrySet& set) {
  nlohmann::json data;
  data["references"] = set.references;
  data["pressure_gpa"] = set.pressure_gpa;
  data["entries"] = nlohmann::json::array();
  for (const auto& record : set.records) {
    nlohmann::json item;
    item["id"] = record.id;
    for (const auto& [z, amount] : record.composition.amounts())
      item["composition"][element(z).symbol] = amount;
    item["energy_per_atom"] = record.energy_per_atom;
    if (record.volume_per_atom) item["volume_per_atom"] = *record.volume_per_atom;
    data["entries"].push_back(item);
  }
  return data;
}

std::vector<nlohmann::json> run_pymatgen(const std::vector<EntrySet>& sets) {
  nlohmann::json input;
  for (const auto& set : sets) input["sets"].push_back(to_json(set));
  std::ifstream script_file(std::string(OTFGP_TEST_DATA_DIR) + "/pymatgen_hull.py");
  REQUIRE(script_file);
  const std::string script((std::istreambuf_iterator<char>(script_file)),
                           std::istreambuf_iterator<char>());
  testing::TemporaryDirectory folder("otfgp-hull");
  std::ofstream(folder / "sets.json") << input.dump();
  const auto output =
      nlohmann::json::parse(testing::python_output(script, {(folder / "sets.json").string()}));
  return output["sets"].get<std::vector<nlohmann::json>>();
}

Hull our_hull(const EntrySet& set) {
  HullOptions options;
  for (const auto& formula : set.references) options.references.push_back(parse_formula(formula));
  return compute_hull(hull_entries_at(set.records, set.pressure_gpa), options);
}

// Compares every entry: included or not, e_above_hull, stability, decomposition.
void check_against_pymatgen(const EntrySet& set, const Hull& hull,
                            const nlohmann::json& reference) {
  const auto& expected = reference["entries"];
  int compared = 0, stable = 0, unstable = 0;
  for (std::size_t i = 0; i < set.records.size(); ++i) {
    const std::string& id = set.records[i].id;
    const HullEntryResult& ours = hull.entries[i];
    INFO("entry " << id << " (" << set.records[i].composition.formula() << ")");
    REQUIRE(ours.included == expected.contains(id));
    if (!ours.included) continue;
    const auto& theirs = expected[id];
    CHECK(ours.e_above_hull == Approx(theirs["e_above_hull"].get<double>()).margin(1e-6));
    CHECK(ours.stable == theirs["stable"].get<bool>());
    std::map<std::string, double> our_parts, their_parts;
    for (const auto& part : ours.decomposition)
      if (part.fraction > 1e-6) our_parts[set.records[part.entry].id] = part.fraction;
    for (const auto& [part, fraction] : theirs["decomposition"].items())
      if (fraction.get<double>() > 1e-6) their_parts[part] = fraction.get<double>();
    REQUIRE(our_parts.size() == their_parts.size());
    for (const auto& [part, fraction] : their_parts) {
      INFO("decomposition part " << part);
      REQUIRE(our_parts.count(part) == 1);
      CHECK(our_parts[part] == Approx(fraction).margin(1e-6));
    }
    ++compared;
    (ours.stable ? stable : unstable)++;
  }
  CHECK(compared == static_cast<int>(expected.size()));
  // A meaningful set has both stable compounds and decompositions.
  CHECK(stable > static_cast<int>(hull.num_components()));
  CHECK(unstable > 0);
}

std::vector<int> numbers_of(const std::vector<std::string>& symbols) {
  std::vector<int> numbers;
  for (const auto& symbol : symbols) numbers.push_back(atomic_number(symbol));
  return numbers;
}

HullEntry entry(const std::string& id, const std::string& formula, double energy_per_atom,
                std::optional<double> std_per_atom = std::nullopt) {
  return {id, parse_formula(formula), energy_per_atom, std_per_atom};
}

}  // namespace

TEST_CASE("hull with elemental references matches pymatgen for 2 to 5 components",
          "[hull][pymatgen]") {
  const std::vector<std::vector<std::string>> systems = {
      {"Ba", "O"}, {"Ba", "Rh", "O"}, {"Li", "Fe", "P", "O"}, {"Li", "Na", "Fe", "Mn", "O"}};
  const std::vector<int> compounds = {30, 80, 150, 220};
  std::vector<EntrySet> sets;
  for (std::size_t s = 0; s < systems.size(); ++s)
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      std::mt19937_64 rng(1000 * s + seed);
      sets.push_back(random_elemental_set(numbers_of(systems[s]), compounds[s], rng));
    }
  const auto references = run_pymatgen(sets);
  REQUIRE(references.size() == sets.size());
  for (std::size_t s = 0; s < sets.size(); ++s) {
    INFO("set " << s << " with " << sets[s].records.size() << " entries");
    const Hull hull = our_hull(sets[s]);
    CHECK(hull.num_components() == systems[s / 3].size());
    check_against_pymatgen(sets[s], hull, references[s]);
  }
}

TEST_CASE("degenerate hulls (compounds on shared tie lines and planes) match pymatgen",
          "[hull][pymatgen]") {
  // Compositions on a grid (each once: which of two equal duplicates is
  // "stable" is a convention), formation enthalpies of a few values (0, −0.5,
  // −1 eV/atom; depths of 1e-11, at pymatgen's own tolerance, are left out:
  // there pymatgen's qhull loses corners that exact arithmetic keeps), the
  // energies per atom rounded sums: many points on one line or plane, where
  // rounding decided which of them qhull kept as vertices. A point inside a
  // flat stretch is not stable in either code; decompositions there are not
  // unique, so stability and e_above_hull are compared.
  const std::vector<std::string> symbols = {"Li", "Fe", "O", "Mg", "Si"};
  const std::vector<double> potential = {-1.9, -8.3, -4.9, -1.5, -5.4};
  const std::vector<double> depths = {0.0, -0.5, -1.0};
  std::vector<EntrySet> sets;
  std::mt19937_64 rng(77);
  for (int trial = 0; trial < 150; ++trial) {
    const int k = 2 + static_cast<int>(rng() % 3), grid = k < 4 ? 4 : 3;
    std::vector<int> order(symbols.size());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    EntrySet set;
    for (int e = 0; e < k; ++e) {
      PhaseRecord reference;
      reference.id = "ref_" + symbols[order[e]];
      reference.composition = Composition({{atomic_number(symbols[order[e]]), 1.0}});
      reference.energy_per_atom = potential[order[e]];
      set.records.push_back(reference);
    }
    const bool flat = trial % 2 == 0;  // one depth for all, or each its own
    const double common = depths[rng() % depths.size()];
    std::set<std::string> seen;
    for (int c = 0; c < 24; ++c) {
      std::map<int, double> counts;
      double total = 0.0, reference = 0.0;
      for (int e = 0; e < k; ++e) {
        const int n = static_cast<int>(rng() % (grid + 1));
        if (n == 0) continue;
        counts[atomic_number(symbols[order[e]])] = n;
        total += n;
      }
      if (counts.size() < 2) continue;
      std::string key;
      for (const auto& [z, n] : counts) key += fmt::format("{}:{:.6f} ", z, n / total);
      if (!seen.insert(key).second) continue;
      for (int e = 0; e < k; ++e)
        if (counts.count(atomic_number(symbols[order[e]])))
          reference += counts[atomic_number(symbols[order[e]])] / total * potential[order[e]];
      PhaseRecord record;
      record.id = "c" + std::to_string(c);
      record.composition = Composition(counts);
      // As a table's cell energy divided by the cell's atoms: one more rounding.
      const double atoms = total * static_cast<double>(1 + rng() % 3);
      record.energy_per_atom =
          ((flat ? common : depths[rng() % depths.size()]) + reference) * atoms / atoms;
      set.records.push_back(record);
    }
    sets.push_back(set);
  }
  const auto references = run_pymatgen(sets);
  REQUIRE(references.size() == sets.size());
  for (std::size_t s = 0; s < sets.size(); ++s) {
    const Hull hull = our_hull(sets[s]);
    const auto& expected = references[s]["entries"];
    for (std::size_t i = 0; i < sets[s].records.size(); ++i) {
      const std::string& id = sets[s].records[i].id;
      INFO("set " << s << ", entry " << id << " (" << sets[s].records[i].composition.formula()
                  << ")");
      REQUIRE(expected.contains(id));
      CHECK(hull.entries[i].stable == expected[id]["stable"].get<bool>());
      CHECK(hull.entries[i].e_above_hull ==
            Approx(expected[id]["e_above_hull"].get<double>()).margin(1e-9));
    }
  }
}

TEST_CASE("hull with terminal compounds as references matches pymatgen's CompoundPhaseDiagram",
          "[hull][pymatgen]") {
  struct System {
    std::vector<std::string> references, outside;
    int compounds;
  };
  const std::vector<System> systems = {{{"BaO", "RhO2"}, {"Ba", "Rh2O3", "BaO2"}, 25},
                                       {{"Li2O", "FeO", "P2O5"}, {"Fe3O4", "Li", "LiFe"}, 60},
                                       {{"Li2O", "Na2O", "FeO", "MnO2"}, {"Fe2O3", "Na"}, 120},
                                       {{"Li2O", "Na2O", "FeO", "MnO2", "P2O5"}, {"Mn"}, 200}};
  std::vector<EntrySet> sets;
  for (std::size_t s = 0; s < systems.size(); ++s)
    for (std::uint64_t seed = 1; seed <= 2; ++seed) {
      std::mt19937_64 rng(5000 + 100 * s + seed);
      sets.push_back(random_compound_set(systems[s].references, systems[s].outside,
                                         systems[s].compounds, rng));
    }
  const auto references = run_pymatgen(sets);
  for (std::size_t s = 0; s < sets.size(); ++s) {
    INFO("set " << s);
    const Hull hull = our_hull(sets[s]);
    for (std::size_t i = 0; i < sets[s].records.size(); ++i)
      if (sets[s].records[i].id.rfind("outside", 0) == 0) {
        CHECK_FALSE(hull.entries[i].included);
        CHECK_FALSE(hull.entries[i].exclusion.empty());
      }
    check_against_pymatgen(sets[s], hull, references[s]);
  }
}

TEST_CASE("the hull at pressure is pymatgen's hull of E + PV", "[hull][pymatgen]") {
  std::vector<EntrySet> sets;
  for (double pressure : {10.0, 35.0}) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(pressure));
    EntrySet set = random_elemental_set(numbers_of({"Ba", "Rh", "O"}), 80, rng);
    set.pressure_gpa = pressure;
    sets.push_back(set);
  }
  const auto references = run_pymatgen(sets);
  for (std::size_t s = 0; s < sets.size(); ++s) {
    const Hull at_pressure = our_hull(sets[s]);
    check_against_pymatgen(sets[s], at_pressure, references[s]);
    // Pressure matters here: the stable set differs from the one at 0 GPa.
    EntrySet ambient = sets[s];
    ambient.pressure_gpa = 0.0;
    CHECK(our_hull(ambient).stable != at_pressure.stable);
  }
}

TEST_CASE("a single element: the lowest polymorph is stable", "[hull]") {
  const Hull hull =
      compute_hull({entry("a", "Si", -5.40), entry("b", "Si2", -5.42), entry("c", "Si8", -5.30)});
  REQUIRE(hull.num_components() == 1);
  CHECK(hull.stable == std::vector<std::size_t>{1});
  CHECK(hull.entries[0].e_above_hull == Approx(0.02));
  CHECK(hull.entries[2].e_above_hull == Approx(0.12));
  REQUIRE(hull.entries[0].decomposition.size() == 1);
  CHECK(hull.entries[0].decomposition[0].entry == 1);
  CHECK(hull.entries[0].duplicate_of == std::size_t{1});
}

TEST_CASE("all points on the references' plane: only the references are stable", "[hull]") {
  // Binary, every formation energy exactly zero (all points collinear).
  const Hull binary = compute_hull({entry("A", "Ba", -2.0), entry("B", "O", -4.0),
                                    entry("AB", "BaO", -3.0), entry("AB3", "BaO3", -3.5)});
  CHECK(binary.stable == std::vector<std::size_t>{0, 1});
  CHECK(binary.entries[2].e_above_hull == Approx(0.0).margin(1e-12));
  REQUIRE(binary.entries[3].decomposition.size() == 2);
  CHECK(binary.entries[3].decomposition[0].entry == 1);
  CHECK(binary.entries[3].decomposition[0].fraction == Approx(0.75));

  // Ternary: every point on the plane (coplanar), and a set whose compositions
  // all lie on one line through the triangle.
  const Hull ternary =
      compute_hull({entry("A", "Ba", -2.0), entry("B", "Rh", -7.0), entry("C", "O", -4.0),
                    entry("D", "BaRhO", -13.0 / 3.0), entry("E", "BaO", -3.0)});
  CHECK(ternary.stable == std::vector<std::size_t>{0, 1, 2});
  CHECK(ternary.entries[3].e_above_hull == Approx(0.0).margin(1e-12));
  CHECK(ternary.entries[3].decomposition.size() == 3);

  const Hull line =
      compute_hull({entry("A", "Ba", -2.0), entry("B", "Rh", -7.0), entry("C", "O", -4.0),
                    entry("D", "BaO", -3.5), entry("E", "Ba2O2", -3.4), entry("F", "BaO2", -3.9)});
  CHECK(line.stable == std::vector<std::size_t>{0, 1, 2, 3, 5});
  CHECK(line.entries[4].duplicate_of == std::size_t{3});
  CHECK(line.entries[4].e_above_hull == Approx(0.1));
}

TEST_CASE("points inside a flat stretch of the hull are not stable, however rounding falls",
          "[hull]") {
  // Every compound 1 eV/atom below the references (energies per atom as a
  // sum of rounded terms): the hull is flat between the two outermost
  // compounds, and rounding of ±1e-16 decided which of the others qhull kept
  // as vertices (pymatgen: e_above_hull -9e-16, not stable).
  std::vector<HullEntry> entries = {entry("Li", "Li", -1.9), entry("Fe", "Fe", -8.3)};
  for (int li = 1; li <= 6; ++li)
    for (int fe = 1; fe <= 6; ++fe) {
      const double x = static_cast<double>(li) / (li + fe);
      entries.push_back(entry(fmt::format("Li{}Fe{}", li, fe), fmt::format("Li{}Fe{}", li, fe),
                              -1.0 + x * -1.9 + (1.0 - x) * -8.3));
    }
  const Hull binary = compute_hull(entries);
  std::vector<std::string> stable;
  for (std::size_t i : binary.stable) stable.push_back(entries[i].id);
  std::sort(stable.begin(), stable.end());
  CHECK(stable == std::vector<std::string>{"Fe", "Li", "Li1Fe6", "Li6Fe1"});
  for (const HullEntryResult& result : binary.entries) {
    CHECK(result.e_above_hull <= 1e-12);
    for (const auto& part : result.decomposition) CHECK(binary.entries[part.entry].stable);
  }
  // The same in a ternary: a flat hexagon of compounds below the plane.
  std::vector<HullEntry> plane = {entry("Li", "Li", -1.9), entry("Fe", "Fe", -8.3),
                                  entry("O", "O", -4.9)};
  for (int li = 1; li <= 4; ++li)
    for (int fe = 1; fe <= 4; ++fe)
      for (int o = 1; o <= 4; ++o) {
        const double n = li + fe + o;
        plane.push_back(entry(fmt::format("c{}{}{}", li, fe, o),
                              fmt::format("Li{}Fe{}O{}", li, fe, o),
                              -0.5 + li / n * -1.9 + fe / n * -8.3 + o / n * -4.9));
      }
  const Hull ternary = compute_hull(plane);
  stable.clear();
  for (std::size_t i : ternary.stable) stable.push_back(plane[i].id);
  std::sort(stable.begin(), stable.end());
  CHECK(stable ==
        std::vector<std::string>{"Fe", "Li", "O", "c114", "c141", "c144", "c411", "c414", "c441"});
  for (const HullEntryResult& result : ternary.entries) CHECK(result.e_above_hull <= 1e-12);
}

TEST_CASE("every point on the hull, and many duplicate points", "[hull]") {
  std::vector<HullEntry> entries = {entry("A", "Ba", 0.0), entry("B", "O", 0.0)};
  for (int n = 1; n < 10; ++n) {  // a parabola: every compound is a vertex
    const double x = n / 10.0;
    entries.push_back(entry("x" + std::to_string(n),
                            "Ba" + std::to_string(10 - n) + "O" + std::to_string(n), -x * (1 - x)));
  }
  const Hull convex = compute_hull(entries);
  CHECK(convex.stable.size() == entries.size());

  std::vector<HullEntry> copies = {entry("A", "Ba", -1.0), entry("B", "Rh", -2.0),
                                   entry("C", "O", -3.0)};
  for (int n = 0; n < 2000; ++n)
    copies.push_back(entry("d" + std::to_string(n), "BaRhO3", -3.0 - 1e-4 * (n % 7)));
  const Hull duplicates = compute_hull(copies);
  CHECK(duplicates.stable == std::vector<std::size_t>{0, 1, 2, 9});
  CHECK(duplicates.entries[3].duplicate_of == std::size_t{9});
  CHECK(duplicates.entries[3].e_above_hull == Approx(6e-4));
  CHECK(duplicates.entries[16].e_above_hull == Approx(0.0).margin(1e-12));  // same energy as d6
  CHECK_FALSE(duplicates.entries[16].stable);
}

TEST_CASE("a missing elemental reference names the element and suggests terminal compounds",
          "[hull]") {
  const std::vector<HullEntry> join = {entry("BaO", "BaO", -5.0), entry("RhO2", "RhO2", -6.0),
                                       entry("BaRhO3", "BaRhO3", -5.9),
                                       entry("Ba2RhO4", "Ba2RhO4", -5.6)};
  CHECK_THROWS_WITH(compute_hull(join),
                    Contains("references Ba, Rh, O") && Contains("--references BaO RhO2"));
  HullOptions options;
  options.references = {parse_formula("BaO"), parse_formula("RhO2")};
  const Hull hull = compute_hull(join, options);
  CHECK(hull.stable == std::vector<std::size_t>{0, 1, 2});
  CHECK(hull.entries[3].e_above_hull > 0);
  CHECK(hull.entries[2].formation_energy_per_atom == Approx(-5.9 - (0.4 * -5.0 + 0.6 * -6.0)));

  options.references = {parse_formula("BaO"), parse_formula("BaO2")};
  CHECK_THROWS_WITH(compute_hull(join, options), Contains("BaO2"));
  options.references = {parse_formula("BaO"), parse_formula("Ba2O2")};
  CHECK_THROWS_WITH(compute_hull(join, options), Contains("not linearly independent"));
}

TEST_CASE("entries with NaN energies or outside the references are reported and left out",
          "[hull]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<HullEntry> entries = {entry("BaO", "BaO", -5.0), entry("RhO2", "RhO2", -6.0),
                                    entry("bad", "BaRhO3", nan), entry("Ba", "Ba", -1.9),
                                    entry("BaRh2O5", "BaRh2O5", -5.8)};
  HullOptions options;
  options.references = {parse_formula("BaO"), parse_formula("RhO2")};
  const Hull hull = compute_hull(entries, options);
  CHECK_FALSE(hull.entries[2].included);
  CHECK_THAT(hull.entries[2].exclusion, Contains("not a number"));
  CHECK_FALSE(hull.entries[3].included);
  CHECK_THAT(hull.entries[3].exclusion, Contains("not a combination of the references BaO–RhO2"));
  CHECK(hull.entries[4].included);

  HullOptions barium_oxides;
  barium_oxides.references = {parse_formula("BaO"), parse_formula("BaO2")};
  const Hull oxides = compute_hull({entry("BaO", "BaO", -5.0), entry("BaO2", "BaO2", -5.2),
                                    entry("O", "O2", -4.9), entry("Ba2O3", "Ba2O3", -5.3)},
                                   barium_oxides);
  CHECK_THAT(oxides.entries[2].exclusion, Contains("outside the BaO–BaO2 range"));
  CHECK(oxides.stable == std::vector<std::size_t>{0, 1, 3});

  entries[1].energy_per_atom = nan;
  CHECK_THROWS_WITH(compute_hull(entries, options), Contains("RhO2"));
  CHECK_THROWS_WITH(compute_hull({entry("a", "Si", -1.0, -0.1)}), Contains("standard deviation"));
  CHECK_THROWS_AS(compute_hull({}), Error);
}

TEST_CASE("stability probability by sampling matches the normal distribution", "[hull]") {
  // AB is 0.1 eV/atom below the A–B line with σ = 0.1: P(on hull) = Φ(1) = 0.8413.
  std::vector<HullEntry> entries = {entry("A", "Ba", -1.0), entry("B", "O", -2.0),
                                    entry("AB", "BaO", -1.6, 0.1), entry("far", "BaO3", 0.0, 0.01)};
  Hull hull = compute_hull(entries);
  SamplingOptions options;
  options.samples = 20000;
  options.seed = 7;
  sample_stability(hull, entries, options);
  CHECK(hull.entries[0].stability_probability == Approx(1.0));
  CHECK(hull.entries[2].stability_probability.value() == Approx(0.8413).margin(0.01));
  CHECK(hull.entries[3].stability_probability == Approx(0.0));

  Hull again = compute_hull(entries);
  sample_stability(again, entries, options);
  CHECK(again.entries[2].stability_probability == hull.entries[2].stability_probability);
}

TEST_CASE("pressure grids parse and reject nonsense", "[hull][sweep]") {
  const auto grid = parse_pressure_grid("0:20:0.5");
  REQUIRE(grid.size() == 41);
  CHECK(grid.back() == Approx(20.0));
  CHECK(parse_pressure_grid("10") == std::vector<double>{10.0});
  // STOP is included when STEP does not divide the range.
  CHECK(parse_pressure_grid("0:1:0.3") ==
        std::vector<double>{0.0, 0.3, 0.6, 0.8999999999999999, 1.0});
  CHECK(parse_pressure_grid("0:30:7").back() == 30.0);
  CHECK_THROWS_WITH(parse_pressure_grid("0:20"), Contains("START:STOP:STEP"));
  CHECK_THROWS_WITH(parse_pressure_grid("0:20:0"), Contains("step must be positive"));
  CHECK_THROWS_WITH(parse_pressure_grid("a"), Contains("not a number"));
  CHECK_THROWS_WITH(parse_pressure_grid("0:1e9:1"), Contains("10000"));
}

TEST_CASE("sweep transitions are exact for enthalpies quadratic in pressure", "[hull][sweep]") {
  // A and B fixed; AB has H(P) = h₀ + v₀·P − ½κP² (P in eV/Å³ units), so
  // dH/dP = V(P) = v₀ − κP and the Hermite interpolant reproduces it exactly.
  // With h_A = h_B = 0 (no volume), AB is stable where H(P) < 0.
  const double h0 = 0.05, v0 = -8.0, kappa = -40.0;  // Å³/atom, Å³/atom per (eV/Å³)
  const std::vector<double> pressures = {0.0, 5.0, 10.0};
  auto phase = [&](const std::string& id, const std::string& formula, bool compound) {
    SweepPhase result;
    result.id = id;
    result.composition = parse_formula(formula);
    result.enthalpy_per_atom.resize(3);
    result.volume_per_atom.resize(3);
    for (int k = 0; k < 3; ++k) {
      const double p = pressures[static_cast<std::size_t>(k)] * units::gpa_in_ev_per_a3;
      result.enthalpy_per_atom[k] = compound ? h0 + v0 * p - 0.5 * kappa * p * p : 0.0;
      result.volume_per_atom[k] = compound ? v0 - kappa * p : 0.0;
    }
    return result;
  };
  const std::vector<SweepPhase> phases = {phase("A", "Ba", false), phase("B", "O", false),
                                          phase("AB", "BaO", true)};
  const Sweep sweep = sweep_hull(phases, pressures);
  // Root of h0 + v0 p − ½κp² = 0 (the smaller positive one), in GPa.
  const double root =
      (-v0 - std::sqrt(v0 * v0 + 2 * kappa * h0)) / (-kappa) * units::ev_per_a3_in_gpa;
  REQUIRE(sweep.transitions.size() == 1);
  CHECK(sweep.transitions[0].entry == 2);
  CHECK(sweep.transitions[0].enters);
  CHECK(sweep.transitions[0].pressure_gpa == Approx(root).margin(1e-4));
  CHECK(sweep.hulls[0].stable == std::vector<std::size_t>{0, 1});
  CHECK(sweep.hulls[2].stable == std::vector<std::size_t>{0, 1, 2});
}

namespace {

// A phase with H(P) = f + slope·(P − p_mid) + P·V0 (eV/atom, P in GPa): linear,
// so its volume is V0 + slope in Å³ (dH/dP = V).
SweepPhase linear_phase(const std::string& formula, double f, double slope, double p_mid,
                        const std::vector<double>& pressures) {
  const double v0 = 10.0;  // Å³/atom, the same for every phase: no formation enthalpy
  SweepPhase phase;
  phase.id = formula;
  phase.composition = parse_formula(formula);
  const auto n = static_cast<Eigen::Index>(pressures.size());
  phase.enthalpy_per_atom.resize(n);
  phase.volume_per_atom = Eigen::VectorXd::Constant(n, v0 + slope * units::ev_per_a3_in_gpa);
  for (Eigen::Index k = 0; k < n; ++k) {
    const double p = pressures[static_cast<std::size_t>(k)];
    phase.enthalpy_per_atom[k] = f + slope * (p - p_mid) + p * v0 * units::gpa_in_ev_per_a3;
  }
  return phase;
}

}  // namespace

TEST_CASE("a phase on the hull only between two grid points is found and refined",
          "[hull][sweep]") {
  SECTION("a polymorph stable from 60 to 90 GPa on a 50 GPa grid") {
    // The probe's case: A2 lies below A1 from 60 GPa and below A3 up to 90 GPa;
    // neither grid neighbour (50, 100) sees it on the hull. H = E + PV.
    const std::vector<double> pressures = {0, 50, 100, 150};
    const double gpa = units::gpa_in_ev_per_a3;
    const auto polymorph = [&](const std::string& id, double e, double v) {
      SweepPhase phase = linear_phase("Cu", e, (v - 10.0) * gpa, 0.0, pressures);  // E + PV
      phase.id = id;
      return phase;
    };
    const std::vector<SweepPhase> phases = {
        polymorph("A1", 0.0, 10.0), polymorph("A2", 60 * gpa, 9.0),
        polymorph("A3", 60 * gpa + 90 * gpa, 8.0), linear_phase("Ni", 0.0, 0.0, 0.0, pressures)};
    const Sweep sweep = sweep_hull(phases, pressures);
    const std::vector<StableRange> a2 = stable_ranges(sweep, 1);
    REQUIRE(a2.size() == 1);
    CHECK(*a2[0].from_gpa == Approx(60).margin(1e-4));
    CHECK(*a2[0].to_gpa == Approx(90).margin(1e-4));
    CHECK_FALSE(a2[0].from_start);
    CHECK_FALSE(a2[0].to_end);
    REQUIRE(stable_ranges(sweep, 0).size() == 1);
    CHECK(*stable_ranges(sweep, 0)[0].to_gpa == Approx(60).margin(1e-4));
    CHECK(*stable_ranges(sweep, 2)[0].from_gpa == Approx(90).margin(1e-4));
    CHECK(sweep.transitions.size() == 4);
  }
  // Al–Cu–Ni with AlCu, AlNi and CuNi on the hull throughout: the square Al,
  // AlCu, CuNi, AlNi has its centre at Al2CuNi, and the hull's diagonal of the
  // square flips at 25 GPa (CuNi's formation enthalpy f₃ = −1 + 0.02(P − 25)
  // against AlCu + AlNi's −0.5 each). Al2CuNi at f + 0.005(P − 25): with
  // f = −0.525 it is 0.1 eV/atom above the hull at 0 and 50 GPa and on it from
  // 20 to 30 GPa. No other phase enters or leaves, so the grid {0, 50} alone
  // shows nothing.
  const auto al_cu_ni = [](double f_compound, const std::vector<double>& grid) {
    const std::vector<std::string> formulas = {"Al", "Cu", "Ni", "AlCu", "AlNi", "CuNi", "Al2CuNi"};
    const std::vector<double> f = {0, 0, 0, -0.5, -0.5, -1, f_compound},
                              slope = {0, 0, 0, 0, 0, 0.02, 0.005};
    std::vector<SweepPhase> phases;
    for (std::size_t i = 0; i < formulas.size(); ++i)
      phases.push_back(linear_phase(formulas[i], f[i], slope[i], 25, grid));
    return phases;
  };
  SECTION("a compound whose window changes no other phase's stability") {
    const Sweep sweep = sweep_hull(al_cu_ni(-0.525, {0, 50}), {0, 50});
    CHECK_FALSE(sweep.hulls[0].entries[6].stable);
    CHECK_FALSE(sweep.hulls[1].entries[6].stable);
    CHECK(sweep.hulls[0].entries[6].e_above_hull == Approx(0.1).margin(1e-12));
    REQUIRE(sweep.transitions.size() == 2);
    CHECK(sweep.transitions[0].entry == 6);
    CHECK(sweep.transitions[0].enters);
    CHECK(sweep.transitions[0].pressure_gpa == Approx(20).margin(1e-4));
    CHECK_FALSE(sweep.transitions[1].enters);
    CHECK(sweep.transitions[1].pressure_gpa == Approx(30).margin(1e-4));
    // A grid fine enough to see it directly: on the hull at 21…29 GPa only.
    std::vector<double> fine;
    for (int p = 0; p <= 50; ++p) fine.push_back(p);
    const Sweep fine_sweep = sweep_hull(al_cu_ni(-0.525, fine), fine);
    for (int p = 0; p <= 50; ++p)
      CHECK(fine_sweep.hulls[static_cast<std::size_t>(p)].entries[6].stable == (p > 20 && p < 30));
  }
  SECTION("a compound that comes near the hull between grid points but stays off it") {
    // 1 meV/atom above the hull at its closest (25 GPa).
    CHECK(sweep_hull(al_cu_ni(-0.499, {0, 50}), {0, 50}).transitions.empty());
  }
}

TEST_CASE("polymorphs equal within the tolerance at every pressure are one phase for a sweep",
          "[hull][sweep]") {
  // Zincblende and wurtzite SiC with Tersoff: relaxed enthalpies 2e-8 eV/atom
  // apart, the sign flipping from point to point. Without the tolerance the
  // sweep reported transitions back and forth between them (26 over 0-20 GPa:
  // bench/hull_degenerate_polymorphs.sh).
  // A third polymorph crosses them for real at 10 GPa and keeps its exact
  // transition pressure.
  const std::vector<double> pressures = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20};
  const std::size_t n = pressures.size();
  auto phase = [&](const std::string& id, const std::string& formula,
                   const std::function<double(std::size_t)>& enthalpy, double volume) {
    SweepPhase result;
    result.id = id;
    result.composition = parse_formula(formula);
    result.enthalpy_per_atom.resize(static_cast<Eigen::Index>(n));
    result.volume_per_atom = Eigen::VectorXd::Constant(static_cast<Eigen::Index>(n), volume);
    for (std::size_t k = 0; k < n; ++k)
      result.enthalpy_per_atom[static_cast<Eigen::Index>(k)] = enthalpy(k);
    return result;
  };
  const double v = 10.0, v_dense = 9.0;  // Å³/atom
  const auto h = [&](double volume, double offset) {
    return [&, volume, offset](std::size_t k) {
      return -1.0 + offset + volume * pressures[k] * units::gpa_in_ev_per_a3;
    };
  };
  const double crossing = 10.0, offset = (v - v_dense) * crossing * units::gpa_in_ev_per_a3;
  const std::vector<SweepPhase> phases = {
      phase("Si", "Si", h(v, 1.0), v), phase("C", "C", h(v, 1.0), v),
      phase("zb", "SiC", h(v, 0.0), v),
      phase(
          "w", "SiC", [&](std::size_t k) { return h(v, 0.0)(k) + (k % 2 ? 1e-8 : -1e-8); }, v),
      phase("dense", "Si2C2", h(v_dense, offset), v_dense)};
  const Sweep sweep = sweep_hull(phases, pressures);
  // w is lower on average (6 of 11 points): it stands for both.
  REQUIRE(sweep.degenerate.size() == 1);
  CHECK(sweep.degenerate[0].entry == 2);
  CHECK(sweep.degenerate[0].same_as == 3);
  CHECK(sweep.degenerate[0].largest_difference == Approx(1e-8).epsilon(1e-6));
  for (const Hull& hull : sweep.hulls) {
    CHECK_FALSE(hull.entries[2].stable);
    REQUIRE(hull.entries[2].duplicate_of);
  }
  REQUIRE(sweep.transitions.size() == 2);
  CHECK(sweep.transitions[0].entry != 2);
  CHECK(sweep.transitions[1].entry != 2);
  CHECK(sweep.transitions[0].pressure_gpa == Approx(crossing).margin(1e-4));
  CHECK(stable_ranges(sweep, 3).size() == 1);
  // A tolerance of 0 keeps them apart: the noise then decides, back and forth.
  SweepOptions exact;
  exact.degenerate_tolerance = 0;
  const Sweep noisy = sweep_hull(phases, pressures, exact);
  CHECK(noisy.degenerate.empty());
  CHECK(noisy.transitions.size() > 4);
  std::vector<SweepPhase> equal = phases;
  equal[3].enthalpy_per_atom = equal[2].enthalpy_per_atom;
  CHECK(sweep_hull(equal, pressures, exact).degenerate.empty());
  CHECK(sweep_hull(equal, pressures).degenerate.size() == 1);
  // A pressure where one of them has no enthalpy is not compared, and keeps
  // the other's own value there.
  std::vector<SweepPhase> gap = phases;
  gap[3].enthalpy_per_atom[1] = std::numeric_limits<double>::quiet_NaN();
  const Sweep gapped = sweep_hull(gap, pressures);
  REQUIRE(gapped.degenerate.size() == 1);
  CHECK(gapped.hulls[1].entries[2].included);
  CHECK_FALSE(gapped.hulls[1].entries[3].included);
  CHECK(gapped.hulls[1].entries[2].stable);
  // Apart by more than the tolerance at one pressure: two phases.
  std::vector<SweepPhase> apart = phases;
  apart[3].enthalpy_per_atom[4] += 1e-4;
  CHECK(sweep_hull(apart, pressures).degenerate.empty());
  exact.degenerate_tolerance = -1;
  CHECK_THROWS_WITH(sweep_hull(phases, pressures, exact), Contains("must not be negative"));
}

TEST_CASE("a relaxation sweep leaves broken cells out and goes on from a sound one",
          "[hull][sweep][relax]") {
  // The probe's case: diamond Si with Tersoff at -80 GPa comes apart (no atom
  // within 3 Å of another: zero force and stress, H = PV alone). The 0 GPa
  // relaxation used to start from that cell, "converge" in 0 steps at H = 0 and
  // put SiC 2.5 eV/atom below its elements.
  auto tersoff = make_potential("tersoff:/usr/share/lammps/potentials/SiC.tersoff");
  PressureRelaxation options;
  options.relax.max_steps = 300;
  options.relax.relax_cell = true;
  // Its primitive cell (the 8-atom cubic cell stretches to a minimum there instead).
  StructureInput si{"si", "test", testing::diamond(14, 5.43, 1)};
  si.structure.cell << 0, 2.715, 2.715, 2.715, 0, 2.715, 2.715, 2.715, 0;
  si.structure.positions.resize(2, 3);
  si.structure.positions << 0, 0, 0, 1.3575, 1.3575, 1.3575;
  si.structure.numbers = {14, 14};
  std::vector<Structure> relaxed;
  const StudyPhase swept = relaxed_phase(si, *tersoff, options, {-80.0, 0.0}, relaxed);
  REQUIRE(swept.left_out.size() == 2);
  CHECK_THAT(swept.left_out[0], Catch::Contains("torn apart") && Catch::Contains("2 of 2 atoms"));
  CHECK(swept.left_out[1].empty());
  CHECK(std::isnan(swept.phase.enthalpy_per_atom[0]));
  const StudyPhase alone = relaxed_phase(si, *tersoff, options, {0.0}, relaxed);
  CHECK(alone.left_out.empty());
  CHECK(swept.phase.enthalpy_per_atom[1] == Approx(alone.phase.enthalpy_per_atom[0]).margin(1e-9));
  CHECK(alone.phase.enthalpy_per_atom[0] == Approx(-4.63).margin(0.01));  // diamond Si, Tersoff
  // A reference left out: the sweep says which entries were and why.
  HullStudy study;
  study.phases = {swept, phase_from_frame({"c", "test",
                                           [] {
                                             Structure c = testing::diamond(6, 3.57, 1);
                                             c.energy = -7.37 * 8;
                                             return c;
                                           }()},
                                          {-80.0, 0.0})};
  CHECK_THROWS_WITH(sweep_study(study, {-80.0, 0.0}, {}, {}),
                    Catch::Contains("at -80 GPa") && Catch::Contains("reference Si") &&
                        Catch::Contains("came apart (warnings above): si"));

  // EAM Cu squeezed to 200 GPa: atoms 1.26 Å apart, E = -18.5 eV/atom.
  auto eam = make_potential("eam/alloy:/usr/share/lammps/potentials/CuNi.eam.alloy");
  const StructureInput cu{"cu", "test", testing::fcc(29, 3.61, 1)};
  const StudyPhase squeezed = relaxed_phase(cu, *eam, options, {0.0, 200.0}, relaxed);
  REQUIRE(squeezed.left_out.size() == 2);
  CHECK(squeezed.left_out[0].empty());
  CHECK_THAT(squeezed.left_out[1], Catch::Contains("collapsed"));
  CHECK(std::isnan(squeezed.phase.enthalpy_per_atom[1]));
}

TEST_CASE("sweep_study sweeps a study and samples stability only when a phase has a std",
          "[hull][sweep]") {
  // AB is 0.1 eV/atom below the A–B line with σ = 0.1 at both pressures
  // (no volume, so H = E): P(on hull) = Φ(1) = 0.8413 at each.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> pressures = {0.0, 10.0};
  auto study_phase = [](const std::string& id, const std::string& formula, double h,
                        std::optional<double> std_per_atom) {
    StudyPhase phase;
    phase.phase.id = id;
    phase.phase.composition = parse_formula(formula);
    phase.phase.enthalpy_per_atom = Eigen::VectorXd::Constant(2, h);
    phase.phase.volume_per_atom = Eigen::VectorXd::Zero(2);
    phase.phase.std_per_atom = std_per_atom;
    phase.source = id + ".xyz";
    return phase;
  };
  HullStudy study;
  study.phases = {study_phase("A", "Ba", -1.0, std::nullopt),
                  study_phase("B", "O", -2.0, std::nullopt), study_phase("AB", "BaO", -1.6, 0.1),
                  study_phase("bad", "BaO2", nan, 0.1)};
  SamplingOptions sampling;
  sampling.samples = 20000;
  sampling.seed = 7;
  sweep_study(study, pressures, {}, sampling);
  REQUIRE(study.sweep.hulls.size() == 2);
  for (const Hull& hull : study.sweep.hulls) {
    CHECK(hull.stable == std::vector<std::size_t>{0, 1, 2});
    CHECK_FALSE(hull.entries[3].included);
    CHECK(hull.entries[0].stability_probability == Approx(1.0));
    CHECK(hull.entries[2].stability_probability.value() == Approx(0.8413).margin(0.01));
  }
  // The same draws as sampling the sweep's hull directly.
  std::vector<SweepPhase> phases;
  for (const auto& phase : study.phases) phases.push_back(phase.phase);
  Hull direct = sweep_hull(phases, pressures).hulls[1];
  sample_stability(direct, sweep_entries(phases, 1), sampling);
  CHECK(direct.entries[2].stability_probability ==
        study.sweep.hulls[1].entries[2].stability_probability);

  HullStudy certain;
  certain.phases = {study_phase("A", "Ba", -1.0, std::nullopt),
                    study_phase("B", "O", -2.0, std::nullopt),
                    study_phase("AB", "BaO", -1.6, std::nullopt)};
  sweep_study(certain, pressures, {}, sampling);
  REQUIRE(certain.sweep.hulls.size() == 2);
  CHECK(certain.sweep.hulls[0].stable == std::vector<std::size_t>{0, 1, 2});
  CHECK_FALSE(certain.sweep.hulls[0].entries[2].stability_probability.has_value());
}

TEST_CASE("the hull's text, CSV and JSON mark entries relaxed where the model would label",
          "[hull][sweep]") {
  // AB relaxed by a GP into 3 novel atoms at 10 GPa (none at 0); A with no
  // novel atom, its force std 1.5 σ_f at 0 GPa (below the loop's 2 σ_f) and
  // 50 σ_f at 10: the marker, the columns and the fields follow the grid
  // pressure; B (a table row) has none of them.
  const std::vector<double> pressures = {0.0, 10.0};
  auto study_phase = [](const std::string& id, const std::string& formula, double h) {
    StudyPhase phase;
    phase.phase.id = id;
    phase.phase.composition = parse_formula(formula);
    phase.phase.enthalpy_per_atom = Eigen::VectorXd::Constant(2, h);
    phase.phase.volume_per_atom = Eigen::VectorXd::Zero(2);
    phase.energy_per_atom = phase.phase.enthalpy_per_atom;
    return phase;
  };
  HullStudy study;
  study.phases = {study_phase("A", "Ba", -1.0), study_phase("B", "O", -2.0),
                  study_phase("AB", "BaO", -1.6)};
  study.phases[0].extrapolation = {Extrapolation{0.01, 0.004, 0, 0.015, 0.01},
                                   Extrapolation{0.02, 0.008, 0, 0.5, 0.01}};
  const std::optional<double> none;  // no calibrated force std
  study.phases[2].extrapolation = {Extrapolation{0.3, 0.12, 0, none, none},
                                   Extrapolation{2.5, 1.0, 3, none, none}};
  sweep_study(study, pressures, {}, {});

  const std::string text = study_text(study);
  INFO(text);
  const auto at_10 = text.find("Hull at 10 GPa");
  REQUIRE(at_10 != std::string::npos);
  CHECK(text.substr(0, at_10).find("novel") == std::string::npos);
  CHECK(text.substr(0, at_10).find("σ_f") == std::string::npos);
  const std::string hull_10 = text.substr(at_10, text.find("Pressure sweep") - at_10);
  CHECK_THAT(hull_10, Catch::Contains("stable  [3 novel atoms]\n"));
  CHECK_THAT(hull_10, Catch::Contains("stable  [force std 50 σ_f]\n"));
  CHECK_THAT(hull_10, Catch::Contains("[marks]: 2 entries relaxed here") &&
                          Catch::Contains("(novel atoms, or a force std above 2 σ_f;"));
  CHECK_THAT(text, Catch::Contains("0–10 GPa  [to label at 10 GPa]\n"));

  std::ostringstream csv;
  write_study_csv(study, csv);
  CHECK_THAT(csv.str(), Catch::StartsWith("model,pressure_gpa,") &&
                            Catch::Contains(",note,max_uncertainty,max_uncertainty_normalised,"
                                            "novel_atoms,max_force_std,force_noise\n"));
  CHECK_THAT(csv.str(), Catch::Contains("first,10,AB,BaO,") && Catch::Contains(",,2.5,1.0,3,,\n") &&
                            Catch::Contains(",,0.3,0.12,0,,\n") &&
                            Catch::Contains(",,0.02,0.008,0,0.5,0.01\n") &&
                            Catch::Contains("first,0,B,O,"));
  std::istringstream rows(csv.str());
  std::string header;
  std::getline(rows, header);
  const auto fields = [](const std::string& row) {
    return std::count(row.begin(), row.end(), ',');
  };
  for (std::string row; std::getline(rows, row);) {
    CHECK(fields(row) == fields(header));  // no field is quoted here
    if (row.rfind("first,0,B,", 0) == 0) CHECK_THAT(row, Catch::EndsWith(",,,,,"));
  }

  const nlohmann::json document = study_to_json(study);
  const nlohmann::json& entry = document["hulls"][1]["entries"][2];
  CHECK(entry["id"] == "AB");
  CHECK(entry["novel_atoms"] == 3);
  CHECK(entry["max_uncertainty_normalised"] == 1.0);
  CHECK(document["hulls"][0]["entries"][2]["novel_atoms"] == 0);
  CHECK(document["hulls"][1]["entries"][0]["max_force_std"] == 0.5);
  CHECK(document["hulls"][1]["entries"][0]["force_noise"] == 0.01);
  CHECK_FALSE(document["hulls"][1]["entries"][1].contains("novel_atoms"));

  // The plots ring such entries (#d62728, a colour nothing else draws): at
  // 10 GPa and in the sweep, not at 0 GPa. A ternary hull does the same.
  testing::TemporaryDirectory folder("otfgp-hull-novel");
  REQUIRE(plot_hull(study, 0, folder / "at0.png"));
  REQUIRE(plot_hull(study, 1, folder / "at10.png"));
  REQUIRE(plot_sweep(study, folder / "sweep.png"));
  HullStudy ternary;
  ternary.phases = {study_phase("A", "Ba", -1.0), study_phase("B", "O", -2.0),
                    study_phase("C", "Rh", -1.5), study_phase("ABC", "BaRhO", -1.9)};
  ternary.phases[3].extrapolation = {std::nullopt, Extrapolation{2.5, 1.0, 3, none, none}};
  sweep_study(ternary, pressures, {}, {});
  REQUIRE(plot_hull(ternary, 1, folder / "ternary.png"));
  const std::string counts = testing::python_output(
      "import sys\nfrom PIL import Image\nfor path in sys.argv[1:]:\n"
      "    image = Image.open(path).convert('RGB')\n"
      "    print(sum(1 for p in image.getdata() if p == (214, 39, 40)), end=' ')\n",
      {(folder / "at0.png").string(), (folder / "at10.png").string(),
       (folder / "sweep.png").string(), (folder / "ternary.png").string()});
  INFO("ring-coloured pixels: " << counts);
  std::istringstream numbers(counts);
  int at0 = -1, at10 = -1, sweep = -1, ternary_rings = -1;
  numbers >> at0 >> at10 >> sweep >> ternary_rings;
  CHECK(at0 == 0);
  CHECK(at10 > 20);
  CHECK(sweep > 20);
  CHECK(ternary_rings > 20);
}

namespace {

// A second model for the re-check: a fixed energy per atom for each composition
// (by the count of the first species), no forces. Stands in for an oracle.
class TableEnergy final : public Potential {
 public:
  explicit TableEnergy(std::map<int, double> energy_by_a_count)
      : energy_(std::move(energy_by_a_count)) {}
  std::string spec() const override { return "table"; }
  double cutoff() const override { return 1.0; }
  std::vector<int> elements() const override { return {}; }
  void bind(const std::vector<int>&) override {}
  ComputeResult compute(AtomState& state, const NeighborList&, const ComputeRequest&) override {
    Kokkos::deep_copy(state.f, 0.0);
    auto type = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state.type);
    int a = 0;
    for (int i = 0; i < state.natoms; ++i) a += type(i) == 0 ? 1 : 0;
    ComputeResult result;
    result.energy = energy_.at(a) * state.natoms;
    return result;
  }

 private:
  std::map<int, double> energy_;
};

// Three atoms of Si (a of them) and Ge in a 6 Å cube.
Structure three_atoms(int a) {
  Structure s;
  s.cell = Eigen::Matrix3d::Identity() * 6.0;
  s.positions.resize(3, 3);
  s.positions << 0, 0, 0, 2, 2, 2, 4, 4, 4;
  for (int i = 0; i < 3; ++i) s.numbers.push_back(i < a ? 14 : 32);
  return s;
}

}  // namespace

TEST_CASE("the re-check goes on until every entry near the first model's corrected hull is checked",
          "[hull]") {
  // First model: Si2Ge spuriously 0.5 eV/atom below the line (a collapsed
  // relaxation); SiGe2 lies 0.08 eV/atom above the Si–Ge line, 0.33 above the
  // hull that Si2Ge makes.
  // Second model: Si2Ge above the line, SiGe2 below it.
  const std::vector<int> silicon = {3, 0, 2, 1};  // Si3, Ge3, Si2Ge, SiGe2
  const std::vector<std::string> ids = {"Si", "Ge", "Si2Ge", "SiGe2"};
  const std::vector<double> first_energy = {-4.0, -4.0, -4.5, -4.0 + 0.08};
  HullStudy study;
  std::vector<std::optional<std::vector<Structure>>> structures;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    StudyPhase phase;
    phase.phase.id = ids[i];
    phase.phase.composition = parse_formula(ids[i]);
    phase.phase.enthalpy_per_atom = Eigen::VectorXd::Constant(1, first_energy[i]);
    phase.phase.volume_per_atom = Eigen::VectorXd::Constant(1, 72.0);
    phase.source = ids[i] + ".xyz";
    study.phases.push_back(phase);
    structures.push_back(std::vector<Structure>{three_atoms(silicon[i])});
  }
  HullOptions options;
  options.references = {parse_formula("Si"), parse_formula("Ge")};
  std::vector<SweepPhase> phases;
  for (const StudyPhase& phase : study.phases) phases.push_back(phase.phase);
  study.sweep.pressures = {0.0};
  study.sweep.hulls = {compute_hull(sweep_entries(phases, 0), options)};
  REQUIRE(study.sweep.hulls[0].entries[3].e_above_hull == Approx(0.33).margin(1e-9));

  TableEnergy second({{3, -4.0}, {0, -4.0}, {2, -3.9}, {1, -4.05}});
  RecheckOptions recheck;
  recheck.within = 0.05;
  const RecheckResult result = recheck_study(second, study, structures, options, recheck);
  // Round 1 checks Si, Ge and Si2Ge (on the first hull); the re-check puts
  // Si2Ge above the hull, so it leaves the first model's hull, on which SiGe2
  // is then 0.08 eV/atom above the Si–Ge line: outside δ = 0.05, not checked.
  CHECK(result.rechecked[0] == std::vector<char>{1, 1, 1, 0});
  // With δ = 0.1 round 2 checks SiGe2 (a single round would not: 0.33 above
  // the first hull), and the second model puts it on its hull.
  recheck.within = 0.1;
  const RecheckResult wider = recheck_study(second, study, structures, options, recheck);
  CHECK(wider.rechecked[0] == std::vector<char>{1, 1, 1, 1});
  CHECK(wider.hulls[0].entries[3].stable);
  CHECK_FALSE(wider.hulls[0].entries[2].stable);
  CHECK(wider.enthalpy_per_atom(3, 0) == Approx(-4.05));
}
