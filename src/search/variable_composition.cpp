// Variable-composition searches: one search per formula, the unique minima
// as hull entries (the table format `otfgp hull` reads), and their hull.

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>
#include <sstream>

#include "otfgp/analysis/hull.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/formula.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/output_lock.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/search/search.hpp"
#include "otfgp/search/search_folder.hpp"

namespace otfgp::search {

namespace {

// Every formula's folder and elements are checked before the first search: a
// fresh run over an interrupted one, or a missing charge or parameter of the
// potential, would otherwise stop the run after the searches before it.
// Active learning makes its model as it goes.
void check_before_searching(const SearchConfig& config, const std::filesystem::path& top,
                            bool resume) {
  for (const Stoichiometry& stoichiometry : config.compositions) {
    const std::filesystem::path folder = top / stoichiometry.formula();
    if (!resume || !std::filesystem::exists(folder / "checkpoint.json"))
      check_fresh_search_folder(folder);
  }
  if (config.active_learning) return;
  const std::unique_ptr<Potential> potential = make_potential(config.potential);
  for (const Stoichiometry& stoichiometry : config.compositions) {
    try {
      potential->bind(stoichiometry.numbers);
    } catch (const Error& error) {
      throw Error(stoichiometry.formula() + " with " + config.potential + ": " + error.what());
    }
  }
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  OutputFile file(path);
  file.stream() << text;
  file.commit();
}

// The hull's entries: the unique minima of every formula and, from a GP, how
// far each one's model extrapolates.
struct MinimaEntries {
  std::vector<HullEntry> entries;
  std::vector<std::optional<Extrapolation>> extrapolation;  // one per entry
  std::vector<char> rechecked;  // one per entry: labelled by the search's recheck
};

// Stable entries whose minimum the model would label (novel atoms or a force
// std above 2 σ_f): their place on the hull is the model's extrapolation. A
// recheck's oracle enthalpy (ranking.csv) does not enter this hull, so
// rechecked minima are named too, with where to find it.
void warn_of_unsure_stable(const MinimaEntries& minima, const Hull& hull,
                           const std::string& output) {
  std::vector<std::string> ids, rechecked;
  for (std::size_t k = 0; k < minima.entries.size(); ++k) {
    if (!hull.entries[k].stable || !needs_label(minima.extrapolation[k])) continue;
    ids.push_back(minima.entries[k].id);
    if (minima.rechecked[k]) rechecked.push_back(minima.entries[k].id);
  }
  if (ids.empty()) return;
  const bool one = ids.size() == 1;
  const bool judged = any_force_std_judged(minima.extrapolation);
  logger().warn(
      "the hull's stable {} {} {} where the model would ask for a label ({}: novel_atoms, "
      "max_force_std in {}): {} on the hull {} the model's extrapolation; label {} with an "
      "oracle (recheck) before trusting {}{}; {}",
      one ? "entry" : "entries", fmt::join(ids, ", "), one ? "ends" : "end", label_rule(judged),
      (std::filesystem::path(output) / "hull.csv").string(), one ? "its place" : "their places",
      one ? "is" : "are", one ? "it" : "them", one ? "it" : "them",
      rechecked.empty()
          ? ""
          : fmt::format(" (the recheck labelled {}: recheck_enthalpy_per_atom in its formula's "
                        "ranking.csv, which this hull does not use)",
                        fmt::join(rechecked, ", ")),
      label_meaning(judged));
}

// The hull of the minima (hull.csv, the terminal's text and the stable ids
// in `out`); `without_minimum`: formulas no candidate of which converged.
void write_hull(const SearchConfig& config, const MinimaEntries& minima,
                const std::vector<std::string>& without_minimum, VariableCompositionResult& out) {
  const std::vector<HullEntry>& entries = minima.entries;
  HullOptions options;
  for (const auto& reference : config.hull_references)
    options.references.push_back(parse_formula(reference));
  const Hull hull = compute_hull(entries, options);
  std::ostringstream csv, text;
  csv << "id,formula,enthalpy_per_atom,formation_enthalpy_per_atom,e_above_hull,stable,"
      << extrapolation_csv_header << "\n";
  text << fmt::format("hull of {} at {:g} GPa:\n", references_label(hull.references),
                      config.pressure_gpa);
  for (std::size_t k = 0; k < entries.size(); ++k) {
    const HullEntryResult& r = hull.entries[k];
    const std::optional<Extrapolation>& x = minima.extrapolation[k];
    if (!r.included) {
      text << fmt::format("  {:<16} left out: {}\n", entries[k].id, r.exclusion);
      continue;
    }
    csv << fmt::format("{},{},{},{},{},{},{}\n", entries[k].id, entries[k].composition.formula(),
                       format_real(entries[k].energy_per_atom),
                       format_real(r.formation_energy_per_atom), format_real(r.e_above_hull),
                       r.stable ? "true" : "false", extrapolation_csv(x));
    if (r.stable) out.stable.push_back(entries[k].id);
    text << fmt::format("  {:<16} {:<10} ΔH {:>9.4f} eV/atom, above hull {:>8.4f} eV/atom{}{}\n",
                        entries[k].id, entries[k].composition.formula(),
                        r.formation_energy_per_atom, r.e_above_hull, r.stable ? "  stable" : "",
                        needs_label(x) ? "  " + label_marker(x) : "");
  }
  for (const std::string& formula : without_minimum)
    text << fmt::format("  {:<16} left out: no candidate reached a minimum\n", formula);
  write_file(std::filesystem::path(config.output) / "hull.csv", csv.str());
  out.hull_text = text.str();
  warn_of_unsure_stable(minima, hull, config.output);
}

}  // namespace

VariableCompositionResult run_variable_composition(const SearchConfig& config, bool resume,
                                                   int workers) {
  check_search_output_paths(config);
  const std::filesystem::path top(config.output);
  std::filesystem::create_directories(top);
  const OutputLock lock(OutputLock::in_folder(top), "output folder '" + config.output + "'",
                        "otfgp search");
  check_before_searching(config, top, resume);
  VariableCompositionResult out;
  MinimaEntries minima;
  std::vector<std::string> without_minimum;  // formulas no candidate of which converged
  std::ostringstream table;
  table << "# unique minima of otfgp search at " << config.pressure_gpa
        << " GPa; energy_per_atom is E/N (otfgp hull adds P·V/N)\n"
        << "id,formula,energy_per_atom,volume_per_atom\n";
  for (const Stoichiometry& stoichiometry : config.compositions) {
    SearchConfig one = config;
    one.stoichiometry = stoichiometry;
    one.compositions = {stoichiometry};
    one.output = (top / stoichiometry.formula()).string();
    logger().info("searching {}", stoichiometry.formula());
    SearchResult result = run_search(one, resume, workers);
    if (result.ranking.empty()) without_minimum.push_back(stoichiometry.formula());
    for (const int k : result.ranking) {
      const auto& c = result.candidates[static_cast<std::size_t>(k)];
      std::map<int, double> counts;
      for (const int z : c.structure.numbers) counts[z] += 1.0;
      HullEntry entry;
      entry.id = fmt::format("{}_{}", stoichiometry.formula(), k);
      entry.composition = Composition(counts);
      entry.energy_per_atom = c.enthalpy_per_atom;
      minima.entries.push_back(entry);
      minima.extrapolation.push_back(c.extrapolation);
      minima.rechecked.push_back(c.recheck_enthalpy_per_atom.has_value());
      table << fmt::format("{},{},{},{}\n", entry.id, c.structure.formula(),
                           format_real(c.energy_per_atom), format_real(c.volume_per_atom));
    }
    out.searches.emplace_back(stoichiometry.formula(), std::move(result));
  }
  write_file(top / "hull_entries.csv", table.str());
  if (minima.entries.empty())
    throw Error("variable-composition search: no composition gave a minimum");
  write_hull(config, minima, without_minimum, out);
  return out;
}

}  // namespace otfgp::search
