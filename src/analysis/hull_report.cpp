#include "otfgp/analysis/hull_report.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "otfgp/core/number_text.hpp"

namespace otfgp {

namespace {

nlohmann::json number_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

std::string formula_of(const StudyPhase& phase) {
  return phase.phase.composition.reduced_formula();
}

// An entry's energy, volume and enthalpy per atom at grid pressure k: the
// first model's, or the re-check's.
struct EntryValues {
  double energy, volume, enthalpy;
};

EntryValues values_of(const std::vector<StudyPhase>& phases, std::size_t i, std::size_t k,
                      const RecheckResult* recheck) {
  const auto row = static_cast<Eigen::Index>(i), column = static_cast<Eigen::Index>(k);
  if (recheck)
    return {recheck->energy_per_atom(row, column), recheck->volume_per_atom(row, column),
            recheck->enthalpy_per_atom(row, column)};
  const StudyPhase& phase = phases[i];
  return {phase.energy_per_atom[column], phase.phase.volume_per_atom[column],
          phase.phase.enthalpy_per_atom[column]};
}

// The hull at grid pressure k, of the first model or (`recheck`) the re-check.
nlohmann::json hull_json(const Hull& hull, const std::vector<StudyPhase>& phases, std::size_t k,
                         double pressure, const RecheckResult* recheck) {
  nlohmann::json result;
  result["pressure_gpa"] = pressure;
  result["stable"] = nlohmann::json::array();
  for (std::size_t i : hull.stable) result["stable"].push_back(phases[i].phase.id);
  result["facets"] = nlohmann::json::array();
  for (const auto& facet : hull.facets) {
    nlohmann::json ids = nlohmann::json::array();
    for (std::size_t i : facet) ids.push_back(phases[i].phase.id);
    result["facets"].push_back(ids);
  }
  result["entries"] = nlohmann::json::array();
  for (std::size_t i = 0; i < phases.size(); ++i) {
    const StudyPhase& phase = phases[i];
    const HullEntryResult& entry = hull.entries[i];
    const EntryValues values = values_of(phases, i, k, recheck);
    nlohmann::json item;
    item["id"] = phase.phase.id;
    item["formula"] = formula_of(phase);
    item["energy_per_atom"] = number_or_null(values.energy);
    item["volume_per_atom"] = number_or_null(values.volume);
    item["enthalpy_per_atom"] = number_or_null(values.enthalpy);
    item["included"] = entry.included;
    if (!recheck) add_extrapolation_json(item, extrapolation_at(phase, k));  // the first model's
    if (entry.included) {
      item["formation_enthalpy_per_atom"] = entry.formation_energy_per_atom;
      item["e_above_hull"] = entry.e_above_hull;
      item["stable"] = entry.stable;
      nlohmann::json parts = nlohmann::json::array();
      for (const auto& part : entry.decomposition)
        parts.push_back({{"id", phases[part.entry].phase.id}, {"fraction", part.fraction}});
      item["decomposition"] = parts;
      if (entry.duplicate_of) item["duplicate_of"] = phases[*entry.duplicate_of].phase.id;
      if (entry.stability_probability) item["stability_probability"] = *entry.stability_probability;
    } else {
      item["formation_enthalpy_per_atom"] = nullptr;
      item["e_above_hull"] = nullptr;
      item["stable"] = false;
      item["decomposition"] = nlohmann::json::array();
      item["exclusion"] = entry.exclusion;
    }
    result["entries"].push_back(item);
  }
  return result;
}

std::string probability_text(const HullEntryResult& entry) {
  return entry.stability_probability ? fmt::format("{:.3f}", *entry.stability_probability) : "";
}

// Entries in display order: stable ones by composition, then the rest by
// distance from the hull, then those left out.
std::vector<std::size_t> display_order(const Hull& hull) {
  std::vector<std::size_t> order(hull.entries.size());
  std::iota(order.begin(), order.end(), 0);
  auto rank = [&](std::size_t i) {
    return !hull.entries[i].included ? 2 : (hull.entries[i].stable ? 0 : 1);
  };
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const int ra = rank(a), rb = rank(b);
    if (ra != rb) return ra < rb;
    if (ra == 0) {
      const auto &xa = hull.entries[a].coordinates, &xb = hull.entries[b].coordinates;
      return std::lexicographical_compare(xb.data(), xb.data() + xb.size(), xa.data(),
                                          xa.data() + xa.size());
    }
    if (ra == 1) return hull.entries[a].e_above_hull < hull.entries[b].e_above_hull;
    return false;
  });
  return order;
}

std::size_t id_width(const std::vector<StudyPhase>& phases) {
  std::size_t width = 2;
  for (const auto& phase : phases) width = std::max(width, phase.phase.id.size());
  return std::min<std::size_t>(width, 40);
}

// The sweep's record of entry i when it is the same phase as an earlier one.
const DegeneratePhase* degenerate_entry(const Sweep& sweep, std::size_t i) {
  for (const DegeneratePhase& same : sweep.degenerate)
    if (same.entry == i) return &same;
  return nullptr;
}

// The line under a hull table whose `marked` shown entries the model would
// label: what the marks mean and what to do.
void label_footnote(std::ostream& out, const HullStudy& study, std::size_t k, std::size_t marked) {
  std::vector<std::optional<Extrapolation>> at_k;
  for (const StudyPhase& phase : study.phases) at_k.push_back(extrapolation_at(phase, k));
  const bool one = marked == 1;
  out << fmt::format(
      "  [marks]: {} {} relaxed here where the model would ask for a label ({}; novel atoms are "
      "unlike its training data, docs/gp.md \"Novelty\"); {} the model's extrapolation: {}\n",
      marked, one ? "entry" : "entries", label_rule(any_force_std_judged(at_k)),
      one ? "its enthalpy is" : "their enthalpies are",
      study.recheck ? "the re-check below gives the second model's where it was within "
                      "--recheck-within of the hull"
                    : fmt::format("label {} (--recheck-with) before trusting {} on the hull",
                                  one ? "it" : "them", one ? "its place" : "their places"));
}

void hull_table(std::ostream& out, const HullStudy& study, std::size_t k) {
  const Hull& hull = study.sweep.hulls[k];
  const auto& phases = study.phases;
  const std::size_t width = id_width(phases);
  bool probabilities = false;
  for (const auto& entry : hull.entries)
    probabilities = probabilities || entry.stability_probability.has_value();
  std::size_t included = 0;
  for (const auto& entry : hull.entries) included += entry.included;
  out << fmt::format(
      "Hull at {:g} GPa — references {}; {} entries, {} stable{}\n", study.sweep.pressures[k],
      references_label(hull.references), included, hull.stable.size(),
      included < hull.entries.size() ? fmt::format(", {} left out", hull.entries.size() - included)
                                     : "");
  out << fmt::format("  {:<{}}  {:<12} {:>12} {:>12} {:>10}{}  {}\n", "id", width, "formula",
                     "H eV/atom", "ΔH_f eV/atom", "E_hull meV", probabilities ? "  P(stable)" : "",
                     "decomposition");
  // Long lists: every stable entry, the closest ones above the hull, and
  // the first entries left out; the files have the rest.
  constexpr std::size_t shown_unstable = 40, shown_excluded = 20;
  std::size_t unstable = 0, excluded = 0, hidden = 0, marked = 0;
  for (std::size_t i : display_order(hull)) {
    const StudyPhase& phase = phases[i];
    const HullEntryResult& entry = hull.entries[i];
    const double enthalpy = phase.phase.enthalpy_per_atom[static_cast<Eigen::Index>(k)];
    if ((!entry.included && ++excluded > shown_excluded) ||
        (entry.included && !entry.stable && ++unstable > shown_unstable)) {
      ++hidden;
      continue;
    }
    const std::optional<Extrapolation>& x = extrapolation_at(phase, k);
    const std::string marker = needs_label(x) ? "  " + label_marker(x) : "";
    marked += !marker.empty();
    if (!entry.included) {
      out << fmt::format("  {:<{}}  {:<12} {:>12} {:>12} {:>10}{}  left out: {}{}\n",
                         phase.phase.id, width, formula_of(phase),
                         std::isfinite(enthalpy) ? fmt::format("{:.4f}", enthalpy) : "nan", "-",
                         "-", probabilities ? "           " : "", entry.exclusion, marker);
      continue;
    }
    std::string state = entry.stable ? "stable" : decomposition_text(hull, phases, i);
    if (const DegeneratePhase* same = degenerate_entry(study.sweep, i))
      state = fmt::format("the same phase as {} (enthalpies within {:.2g} eV/atom)",
                          phases[same->same_as].phase.id, same->largest_difference);
    else if (entry.duplicate_of && !entry.stable)
      state += fmt::format("  (same composition as {})", phases[*entry.duplicate_of].phase.id);
    out << fmt::format(
        "  {:<{}}  {:<12} {:>12.4f} {:>12.4f} {:>10.1f}{}  {}{}\n", phase.phase.id, width,
        formula_of(phase), enthalpy, entry.formation_energy_per_atom, 1000.0 * entry.e_above_hull,
        probabilities ? fmt::format("  {:>9}", probability_text(entry)) : "", state, marker);
  }
  if (marked > 0) label_footnote(out, study, k, marked);
  if (hidden > 0)
    out << fmt::format(
        "  … and {} more entries further from the hull (all of them are in the JSON and CSV "
        "outputs)\n",
        hidden);
}

// "  [to label at 0, 10 GPa]", "  [to label at 12 of 41 grid pressures from
// 0 to 20 GPa]"; empty for a phase relaxed nowhere the model would ask for a
// label.
std::string label_pressures_text(const StudyPhase& phase, const std::vector<double>& pressures) {
  std::vector<double> to_label;
  for (std::size_t k = 0; k < pressures.size(); ++k)
    if (needs_label(extrapolation_at(phase, k))) to_label.push_back(pressures[k]);
  if (to_label.empty()) return "";
  if (to_label.size() <= 4)
    return fmt::format("  [to label at {:g} GPa]", fmt::join(to_label, ", "));
  return fmt::format("  [to label at {} of {} grid pressures from {:g} to {:g} GPa]",
                     to_label.size(), pressures.size(), to_label.front(), to_label.back());
}

void sweep_summary(std::ostream& out, const HullStudy& study) {
  const Sweep& sweep = study.sweep;
  out << fmt::format("Pressure sweep {:g}–{:g} GPa ({} points): stable phases\n",
                     sweep.pressures.front(), sweep.pressures.back(), sweep.pressures.size());
  const std::size_t width = id_width(study.phases);
  for (std::size_t i = 0; i < study.phases.size(); ++i) {
    std::string ranges;
    for (const StableRange& range : stable_ranges(sweep, i)) {
      const auto text = [](const std::optional<double>& pressure) -> std::string {
        return pressure ? fmt::format("{:.3f}", *pressure) : "?";
      };
      // The grid's ends are shown as given, refined transitions to 1 MPa.
      const std::string from =
          range.from_start ? fmt::format("{:g}", *range.from_gpa) : text(range.from_gpa);
      const std::string to = range.to_end ? fmt::format("{:g}", *range.to_gpa) : text(range.to_gpa);
      ranges += (ranges.empty() ? "" : ", ") + from + "–" + to + " GPa";
    }
    if (const DegeneratePhase* same = degenerate_entry(sweep, i))
      ranges = fmt::format(
          "the same phase as {} (enthalpies within {:.2g} eV/atom at every "
          "pressure)",
          study.phases[same->same_as].phase.id, same->largest_difference);
    out << fmt::format("  {:<{}}  {:<12} {}{}\n", study.phases[i].phase.id, width,
                       formula_of(study.phases[i]), ranges.empty() ? "never stable" : ranges,
                       label_pressures_text(study.phases[i], sweep.pressures));
  }
  if (sweep.transitions.empty()) {
    out << "No phase enters or leaves the hull in this range.\n";
  } else {
    out << "Transitions (refined between grid points):\n";
    for (const auto& transition : sweep.transitions)
      out << fmt::format("  {:8.3f} GPa  {} ({}) {} the hull\n", transition.pressure_gpa,
                         study.phases[transition.entry].phase.id,
                         formula_of(study.phases[transition.entry]),
                         transition.enters ? "enters" : "leaves");
  }
}

void recheck_table(std::ostream& out, const HullStudy& study, std::size_t k) {
  const RecheckResult& recheck = *study.recheck;
  const Hull &first = study.sweep.hulls[k], &second = recheck.hulls[k];
  const std::size_t width = id_width(study.phases);
  out << fmt::format("Re-check at {:g} GPa with {} (entries within {:g} meV/atom of the hull)\n",
                     study.sweep.pressures[k], recheck.spec, 1000.0 * recheck.within);
  out << fmt::format("  {:<{}}  {:<12} {:>14} {:>8}   {:>14} {:>8}  {}\n", "id", width, "formula",
                     "E_hull first", "stable", "E_hull check", "stable", "change");
  for (std::size_t i : display_order(first)) {
    if (!first.entries[i].included) continue;
    const HullEntryResult &a = first.entries[i], &b = second.entries[i];
    const bool checked = recheck.rechecked[k][i];
    std::string change;
    if (checked && b.included && a.stable != b.stable)
      change = a.stable ? "LEAVES the hull" : "JOINS the hull";
    out << fmt::format("  {:<{}}  {:<12} {:>14.1f} {:>8}   {:>14} {:>8}  {}\n",
                       study.phases[i].phase.id, width, formula_of(study.phases[i]),
                       1000.0 * a.e_above_hull, a.stable ? "yes" : "no",
                       checked && b.included ? fmt::format("{:.1f}", 1000.0 * b.e_above_hull) : "-",
                       checked && b.included ? (b.stable ? "yes" : "no") : "-",
                       checked ? change : "not re-checked");
  }
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string csv_number(double value) {
  return std::isfinite(value) ? format_significant(value, 10) : "";
}

// The rows of the first model's hulls, or (`recheck`) of the re-check's.
void csv_rows(std::ostream& out, const HullStudy& study, const RecheckResult* recheck) {
  const std::vector<Hull>& hulls = recheck ? recheck->hulls : study.sweep.hulls;
  for (std::size_t k = 0; k < hulls.size(); ++k)
    for (std::size_t i = 0; i < study.phases.size(); ++i) {
      const StudyPhase& phase = study.phases[i];
      const HullEntryResult& entry = hulls[k].entries[i];
      const EntryValues values = values_of(study.phases, i, k, recheck);
      std::string parts;
      for (const auto& part : entry.decomposition)
        parts += (parts.empty() ? "" : ";") + study.phases[part.entry].phase.id + ":" +
                 fmt::format("{:.8g}", part.fraction);
      out << (recheck ? "recheck" : "first") << "," << fmt::format("{:g}", study.sweep.pressures[k])
          << "," << csv_field(phase.phase.id) << "," << csv_field(formula_of(phase)) << ","
          << csv_number(values.energy) << "," << csv_number(values.volume) << ","
          << csv_number(values.enthalpy) << ","
          << (entry.included ? csv_number(entry.formation_energy_per_atom) : "") << ","
          << (entry.included ? csv_number(entry.e_above_hull) : "") << ","
          << (entry.stable ? "true" : "false") << ","
          << (entry.stability_probability ? csv_number(*entry.stability_probability) : "") << ","
          << csv_field(parts) << "," << csv_field(entry.included ? "" : entry.exclusion) << ","
          << extrapolation_csv(recheck ? std::optional<Extrapolation>()
                                       : extrapolation_at(phase, k))
          << "\n";
    }
}

}  // namespace

const std::optional<Extrapolation>& extrapolation_at(const StudyPhase& phase, std::size_t k) {
  static const std::optional<Extrapolation> none;
  return k < phase.extrapolation.size() ? phase.extrapolation[k] : none;
}

std::string decomposition_text(const Hull& hull, const std::vector<StudyPhase>& phases,
                               std::size_t entry) {
  std::string text;
  for (const auto& part : hull.entries[entry].decomposition)
    text += (text.empty() ? "" : " + ") +
            fmt::format("{:.3f} {}", part.fraction, phases[part.entry].phase.id);
  return text;
}

nlohmann::json study_to_json(const HullStudy& study) {
  nlohmann::json document;
  document["references"] = nlohmann::json::array();
  for (const auto& reference : study.sweep.hulls.front().references)
    document["references"].push_back(reference.reduced_formula());
  document["pressures_gpa"] = study.sweep.pressures;
  document["energy_units"] = "eV/atom";
  document["phases"] = nlohmann::json::array();
  for (const auto& phase : study.phases) {
    nlohmann::json item = {{"id", phase.phase.id},
                           {"formula", formula_of(phase)},
                           {"source", phase.source},
                           {"origin", phase.origin}};
    if (phase.phase.std_per_atom) item["std_per_atom"] = *phase.phase.std_per_atom;
    const Eigen::VectorXd& by_pressure = phase.phase.std_per_atom_by_pressure;
    if (by_pressure.size() > 0)
      item["std_per_atom_by_pressure"] =
          std::vector<double>(by_pressure.data(), by_pressure.data() + by_pressure.size());
    if (!phase.notes.empty()) item["notes"] = phase.notes;
    document["phases"].push_back(item);
  }
  document["hulls"] = nlohmann::json::array();
  for (std::size_t k = 0; k < study.sweep.pressures.size(); ++k)
    document["hulls"].push_back(
        hull_json(study.sweep.hulls[k], study.phases, k, study.sweep.pressures[k], nullptr));
  document["transitions"] = nlohmann::json::array();
  for (const auto& transition : study.sweep.transitions)
    document["transitions"].push_back({{"id", study.phases[transition.entry].phase.id},
                                       {"formula", formula_of(study.phases[transition.entry])},
                                       {"change", transition.enters ? "enters" : "leaves"},
                                       {"pressure_gpa", transition.pressure_gpa}});
  document["degenerate"] = nlohmann::json::array();
  for (const DegeneratePhase& same : study.sweep.degenerate)
    document["degenerate"].push_back({{"id", study.phases[same.entry].phase.id},
                                      {"same_as", study.phases[same.same_as].phase.id},
                                      {"largest_difference", same.largest_difference}});
  if (study.recheck) {
    const RecheckResult& recheck = *study.recheck;
    nlohmann::json section = {{"spec", recheck.spec}, {"within", recheck.within}};
    section["hulls"] = nlohmann::json::array();
    section["changed"] = nlohmann::json::array();
    for (std::size_t k = 0; k < recheck.hulls.size(); ++k) {
      nlohmann::json hull =
          hull_json(recheck.hulls[k], study.phases, k, study.sweep.pressures[k], &recheck);
      for (std::size_t i = 0; i < study.phases.size(); ++i)
        hull["entries"][i]["rechecked"] = static_cast<bool>(recheck.rechecked[k][i]);
      section["hulls"].push_back(hull);
      for (std::size_t i = 0; i < study.phases.size(); ++i) {
        const auto &a = study.sweep.hulls[k].entries[i], &b = recheck.hulls[k].entries[i];
        if (recheck.rechecked[k][i] && b.included && a.stable != b.stable)
          section["changed"].push_back({{"pressure_gpa", study.sweep.pressures[k]},
                                        {"id", study.phases[i].phase.id},
                                        {"stable_first", a.stable},
                                        {"stable_recheck", b.stable}});
      }
    }
    document["recheck"] = section;
  }
  return document;
}

void write_study_json(const HullStudy& study, std::ostream& out) {
  out << study_to_json(study).dump(2) << "\n";
}

void write_study_csv(const HullStudy& study, std::ostream& out) {
  out << "model,pressure_gpa,id,formula,energy_per_atom,volume_per_atom,enthalpy_per_atom,"
         "formation_enthalpy_per_atom,e_above_hull,stable,stability_probability,decomposition,"
         "note,"
      << extrapolation_csv_header << "\n";
  csv_rows(out, study, nullptr);
  if (study.recheck) csv_rows(out, study, &*study.recheck);
}

// The largest change of a re-checked entry's enthalpy; when it exceeds the
// re-check window, entries outside it (not re-checked) may be as far off.
void recheck_shift(std::ostream& out, const HullStudy& study) {
  const RecheckResult& recheck = *study.recheck;
  double largest = 0.0;
  std::size_t worst = 0, at = 0;
  for (std::size_t k = 0; k < study.sweep.pressures.size(); ++k)
    for (std::size_t i = 0; i < study.phases.size(); ++i) {
      const double shift =
          recheck.enthalpy_per_atom(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(k)) -
          study.phases[i].phase.enthalpy_per_atom[static_cast<Eigen::Index>(k)];
      if (!recheck.rechecked[k][i] || !std::isfinite(shift) || std::abs(shift) <= std::abs(largest))
        continue;
      largest = shift;
      worst = i;
      at = k;
    }
  if (std::abs(largest) > recheck.within)
    out << fmt::format(
        "The re-check moved enthalpies by up to {:+.3f} eV/atom ({} at {:g} GPa), more than "
        "--recheck-within ({:.3f}): entries further above the hull were not re-checked and may be "
        "as far off (widen --recheck-within to re-check them).\n",
        largest, study.phases[worst].phase.id, study.sweep.pressures[at], recheck.within);
}

std::string study_text(const HullStudy& study) {
  std::ostringstream out;
  const std::size_t count = study.sweep.pressures.size();
  std::vector<std::size_t> shown = {0};
  if (count > 1) shown.push_back(count - 1);
  for (std::size_t k : shown) {
    hull_table(out, study, k);
    out << "\n";
  }
  if (count > 1) {
    sweep_summary(out, study);
    out << "\n";
  }
  if (study.recheck) {
    for (std::size_t k : shown) {
      recheck_table(out, study, k);
      out << "\n";
    }
    bool any = false;
    for (std::size_t k = 0; k < count; ++k)
      for (std::size_t i = 0; i < study.phases.size(); ++i) {
        const auto &a = study.sweep.hulls[k].entries[i], &b = study.recheck->hulls[k].entries[i];
        if (!study.recheck->rechecked[k][i] || !b.included || a.stable == b.stable) continue;
        if (!any) out << "Stability changed by the re-check:\n";
        any = true;
        out << fmt::format("  {:g} GPa  {} ({}): {}\n", study.sweep.pressures[k],
                           study.phases[i].phase.id, formula_of(study.phases[i]),
                           a.stable ? "stable → above the hull" : "above the hull → stable");
      }
    if (!any) out << "The re-check changes no entry's stability.\n";
    recheck_shift(out, study);
  }
  return out.str();
}

}  // namespace otfgp
