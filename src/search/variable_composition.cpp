// Variable-composition searches: one search per formula, the unique minima
// as hull entries (the table format `otfgp hull` reads), and their hull.

#include <fmt/format.h>

#include <filesystem>
#include <sstream>

#include "otfgp/analysis/hull.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/formula.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/output_lock.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/search/search.hpp"
#include "otfgp/search/search_folder.hpp"

namespace otfgp::search {

VariableCompositionResult run_variable_composition(const SearchConfig& config, bool resume,
                                                   int workers) {
  check_search_output_paths(config);
  const std::filesystem::path top(config.output);
  std::filesystem::create_directories(top);
  const OutputLock lock(OutputLock::in_folder(top), "output folder '" + config.output + "'",
                        "otfgp search");
  // Every formula's folder is checked before the first search: a fresh run
  // over an interrupted one stops now, not after redoing the formulas before.
  for (const Stoichiometry& stoichiometry : config.compositions) {
    const std::filesystem::path folder = top / stoichiometry.formula();
    if (!resume || !std::filesystem::exists(folder / "checkpoint.json"))
      check_fresh_search_folder(folder);
  }
  // Every formula's elements are checked against the potential before the
  // first search (a missing charge or parameter would otherwise stop the run
  // after the searches before it). Active learning makes its model as it goes.
  if (!config.active_learning) {
    const std::unique_ptr<Potential> potential = make_potential(config.potential);
    for (const Stoichiometry& stoichiometry : config.compositions) {
      try {
        potential->bind(stoichiometry.numbers);
      } catch (const Error& error) {
        throw Error(stoichiometry.formula() + " with " + config.potential + ": " + error.what());
      }
    }
  }
  VariableCompositionResult out;
  std::vector<HullEntry> entries;
  std::vector<std::string> without_minimum;  // formulas no candidate of which converged
  std::ostringstream table;
  table << "# unique minima of otfgp search at " << config.pressure_gpa
        << " GPa; energy_per_atom is E/N (otfgp hull adds P·V/N)\n"
        << "id,formula,energy_per_atom,volume_per_atom\n";
  for (const Stoichiometry& stoichiometry : config.compositions) {
    SearchConfig one = config;
    one.stoichiometry = stoichiometry;
    one.compositions = {stoichiometry};
    one.output = (std::filesystem::path(config.output) / stoichiometry.formula()).string();
    logger().info("searching {}", stoichiometry.formula());
    SearchResult result = run_search(one, resume, workers);
    if (result.ranking.empty()) without_minimum.push_back(stoichiometry.formula());
    for (const int k : result.ranking) {
      const auto& c = result.candidates[static_cast<std::size_t>(k)];
      const std::string id = fmt::format("{}_{}", stoichiometry.formula(), k);
      std::map<int, double> counts;
      for (const int z : c.structure.numbers) counts[z] += 1.0;
      HullEntry entry;
      entry.id = id;
      entry.composition = Composition(counts);
      entry.energy_per_atom = c.enthalpy_per_atom;
      entries.push_back(entry);
      table << fmt::format("{},{},{:.10g},{:.10g}\n", id, c.structure.formula(), c.energy_per_atom,
                           c.volume_per_atom);
    }
    out.searches.emplace_back(stoichiometry.formula(), std::move(result));
  }
  {
    OutputFile file(std::filesystem::path(config.output) / "hull_entries.csv");
    file.stream() << table.str();
    file.commit();
  }
  if (entries.empty()) throw Error("variable-composition search: no composition gave a minimum");
  HullOptions options;
  for (const auto& reference : config.hull_references)
    options.references.push_back(parse_formula(reference));
  const Hull hull = compute_hull(entries, options);
  std::ostringstream csv, text;
  csv << "id,formula,enthalpy_per_atom,formation_enthalpy_per_atom,e_above_hull,stable\n";
  text << fmt::format("hull of {} at {:g} GPa:\n", references_label(hull.references),
                      config.pressure_gpa);
  for (std::size_t k = 0; k < entries.size(); ++k) {
    const HullEntryResult& r = hull.entries[k];
    if (!r.included) {
      text << fmt::format("  {:<16} left out: {}\n", entries[k].id, r.exclusion);
      continue;
    }
    csv << fmt::format("{},{},{:.10g},{:.10g},{:.10g},{}\n", entries[k].id,
                       entries[k].composition.formula(), entries[k].energy_per_atom,
                       r.formation_energy_per_atom, r.e_above_hull, r.stable ? "true" : "false");
    if (r.stable) out.stable.push_back(entries[k].id);
    text << fmt::format("  {:<16} {:<10} ΔH {:>9.4f} eV/atom, above hull {:>8.4f} eV/atom{}\n",
                        entries[k].id, entries[k].composition.formula(),
                        r.formation_energy_per_atom, r.e_above_hull, r.stable ? "  stable" : "");
  }
  for (const std::string& formula : without_minimum)
    text << fmt::format("  {:<16} left out: no candidate reached a minimum\n", formula);
  {
    OutputFile file(std::filesystem::path(config.output) / "hull.csv");
    file.stream() << csv.str();
    file.commit();
  }
  out.hull_text = text.str();
  return out;
}

}  // namespace otfgp::search
