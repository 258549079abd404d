#include "otfgp/analysis/hull_plot.hpp"

#include <fmt/format.h>

#include <unistd.h>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>
#include <system_error>
#include <tuple>

#include "otfgp/core/error.hpp"
#include "otfgp/core/gnuplot.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/output_file.hpp"

namespace otfgp {

namespace {

// "Ba2RhO4" → "Ba_{2}RhO_{4}" for gnuplot's enhanced text.
std::string enhanced_formula(const std::string& formula) {
  std::string text;
  bool in_digits = false;
  for (char c : formula) {
    const bool digit = std::isdigit(static_cast<unsigned char>(c)) || (in_digits && c == '.');
    if (digit && !in_digits) text += "_{";
    if (!digit && in_digits) text += "}";
    text += c;
    in_digits = digit;
  }
  if (in_digits) text += "}";
  return text;
}

std::string quoted_label(const std::string& text) {
  std::string escaped;
  for (char c : text) escaped += c == '"' ? std::string("\\\"") : std::string(1, c);
  return "\"" + escaped + "\"";
}

// A user's text (an entry id) shown as written: enhanced text's control
// characters ("Mg_hcp2" would subscript "h") escaped.
std::string literal_text(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    // Two backslashes: the script's double-quoted string takes one.
    if (std::string_view("_^@&~{}").find(c) != std::string_view::npos) escaped += "\\\\";
    escaped += c;
  }
  return escaped;
}

struct HullView {
  const Hull* hull;
  std::string title;
  // The grid pressure whose relaxations the entries' label marks come from:
  // the first model's hull (a re-check's energies are the second model's).
  std::optional<std::size_t> marks_at;
};

// Whether the view marks entry i as relaxed where the model would label it.
bool marked_in_view(const HullStudy& study, const HullView& view, std::size_t i) {
  return view.marks_at && needs_label(extrapolation_at(study.phases[i], *view.marks_at));
}

constexpr const char* ring_colour = "'#d62728'";

// A ring around each point of `marked` ("x y" lines) and a line saying what
// it means; nothing when there is none. Returns the plot clause to append.
std::string label_rings(GnuplotJob& job, const HullStudy& study, const std::string& marked,
                        const std::string& tag, const char* where = "graph 0.01, graph 0.97") {
  if (marked.empty()) return "";
  const bool judged = std::any_of(study.phases.begin(), study.phases.end(), [](const auto& p) {
    return any_force_std_judged(p.extrapolation);
  });
  job.script() << "set label 9 'rings: relaxed where the model would ask for a label (novel atoms"
               << (judged ? fmt::format(", or force std > {:g} σ_f", label_force_std_ratio) : "")
               << ")' at " << where << " left font 'Sans,9' tc rgb " << ring_colour << "\n";
  return ", \\\n  " + job.data("marked" + tag + ".dat", marked) +
         " using 1:2 with points pt 6 ps 2.4 lw 2 lc rgb " + ring_colour;
}

double largest_e_above_hull(const Hull& hull) {
  double largest = 0.0;
  for (const auto& entry : hull.entries)
    if (entry.included && !entry.stable) largest = std::max(largest, entry.e_above_hull);
  return largest > 0 ? 1000.0 * largest : 1.0;
}

// The binary panel: formation enthalpy against composition, the hull as a line.
void binary_panel(GnuplotJob& job, const HullStudy& study, const HullView& view,
                  const std::string& tag) {
  const auto& phases = study.phases;
  const Hull& hull = *view.hull;
  auto& script = job.script();
  std::ostringstream stable_points, unstable_points, labels, lines, marked;
  std::vector<std::pair<double, double>> vertices;
  for (std::size_t i : hull.stable)
    vertices.emplace_back(hull.entries[i].coordinates[1],
                          hull.entries[i].formation_energy_per_atom);
  std::sort(vertices.begin(), vertices.end());
  for (const auto& [x, y] : vertices) lines << x << " " << y << "\n";
  // Labels alternate below and above the hull, left to right, so that
  // neighbouring phases do not print over each other.
  std::vector<std::tuple<double, double, std::string>> stable_labels;
  for (std::size_t i = 0; i < phases.size(); ++i) {
    const HullEntryResult& entry = hull.entries[i];
    if (!entry.included) continue;
    const double x = entry.coordinates[1], y = entry.formation_energy_per_atom;
    if (marked_in_view(study, view, i)) marked << x << " " << y << "\n";
    if (entry.stable) {
      stable_points << x << " " << y << "\n";
      stable_labels.emplace_back(x, y,
                                 enhanced_formula(phases[i].phase.composition.reduced_formula()));
    } else {
      unstable_points << x << " " << y << " " << 1000.0 * entry.e_above_hull << "\n";
    }
  }
  std::sort(stable_labels.begin(), stable_labels.end());
  std::ostringstream labels_above;
  for (std::size_t n = 0; n < stable_labels.size(); ++n) {
    const auto& [x, y, text] = stable_labels[n];
    (n % 2 == 0 ? labels : labels_above) << x << " " << y << " " << quoted_label(text) << "\n";
  }
  script << "set xlabel "
         << quoted_label("fraction of " + enhanced_formula(hull.references[1].reduced_formula()) +
                         " (per atom)")
         << "\nset ylabel 'formation enthalpy (eV/atom)'\nset xrange [-0.05:1.05]\nset grid\nset "
            "key off\n"
         << "set offsets 0, 0, graph 0.08, graph 0.1\n";
  const std::string hull_file = job.data("hull" + tag + ".dat", lines.str());
  const std::string stable_file = job.data("stable" + tag + ".dat", stable_points.str());
  const std::string unstable_file =
      job.data("unstable" + tag + ".dat", unstable_points.str() + "nan nan nan\n");
  const std::string label_file = job.data("labels" + tag + ".dat", labels.str());
  const std::string above_file =
      job.data("labels_above" + tag + ".dat", labels_above.str() + "nan nan \"\"\n");
  const std::string rings = label_rings(job, study, marked.str(), tag);
  script << "plot " << hull_file << " using 1:2 with lines lw 2 lc rgb 'black', \\\n  "
         << unstable_file << " using 1:2:3 with points pt 7 ps 1.0 lc palette, \\\n  "
         << stable_file << " using 1:2 with points pt 7 ps 1.4 lc rgb 'black', \\\n  " << label_file
         << " using 1:2:3 with labels offset 0,-1.2 font 'Sans,9', \\\n  " << above_file
         << " using 1:2:3 with labels offset 0,1.2 font 'Sans,9'" << rings << "\n";
  script << "unset label 9\n";
}

// The ternary panel: the composition triangle with the hull's tie lines.
void ternary_panel(GnuplotJob& job, const HullStudy& study, const HullView& view,
                   const std::string& tag) {
  const auto& phases = study.phases;
  const Hull& hull = *view.hull;
  auto& script = job.script();
  std::ostringstream stable_points, unstable_points, labels, lines, marked;
  // Ternary: (a, b, c) → (b + c/2, c·√3/2).
  const double height = std::sqrt(3.0) / 2.0;
  auto point = [&](const Eigen::VectorXd& x) {
    return std::make_pair(x[1] + 0.5 * x[2], height * x[2]);
  };
  for (const auto& facet : hull.facets)
    for (std::size_t a = 0; a < facet.size(); ++a)
      for (std::size_t b = a + 1; b < facet.size(); ++b) {
        const auto p = point(hull.entries[facet[a]].coordinates),
                   q = point(hull.entries[facet[b]].coordinates);
        lines << p.first << " " << p.second << "\n" << q.first << " " << q.second << "\n\n";
      }
  for (std::size_t i = 0; i < phases.size(); ++i) {
    const HullEntryResult& entry = hull.entries[i];
    if (!entry.included) continue;
    const auto [x, y] = point(entry.coordinates);
    if (marked_in_view(study, view, i)) marked << x << " " << y << "\n";
    if (entry.stable) {
      stable_points << x << " " << y << "\n";
      bool corner = entry.coordinates.maxCoeff() > 1 - 1e-9;
      if (!corner)
        labels << x << " " << y << " "
               << quoted_label(enhanced_formula(phases[i].phase.composition.reduced_formula()))
               << "\n";
    } else {
      unstable_points << x << " " << y << " " << 1000.0 * entry.e_above_hull << "\n";
    }
  }
  const std::string corners[3] = {enhanced_formula(hull.references[0].reduced_formula()),
                                  enhanced_formula(hull.references[1].reduced_formula()),
                                  enhanced_formula(hull.references[2].reduced_formula())};
  script << "unset xtics\nunset ytics\nunset border\nset size ratio -1\nset key off\n"
         << "set xrange [-0.12:1.12]\nset yrange [-0.1:" << height + 0.1 << "]\n"
         << "set label 1 " << quoted_label(corners[0]) << " at -0.03,-0.04 right font 'Sans,12'\n"
         << "set label 2 " << quoted_label(corners[1]) << " at 1.03,-0.04 left font 'Sans,12'\n"
         << "set label 3 " << quoted_label(corners[2]) << " at 0.5," << height + 0.04
         << " center font 'Sans,12'\n";
  const std::string border =
      job.data("border" + tag + ".dat", fmt::format("0 0\n1 0\n0.5 {}\n0 0\n", height));
  const std::string tie_file = job.data("ties" + tag + ".dat", lines.str() + "nan nan\n");
  const std::string stable_file = job.data("stable" + tag + ".dat", stable_points.str());
  const std::string unstable_file =
      job.data("unstable" + tag + ".dat", unstable_points.str() + "nan nan nan\n");
  const std::string label_file = job.data("labels" + tag + ".dat", labels.str() + "nan nan \"\"\n");
  const std::string rings = label_rings(job, study, marked.str(), tag);
  script << "plot " << border << " using 1:2 with lines lw 1.5 lc rgb 'black', \\\n  " << tie_file
         << " using 1:2 with lines lw 1 lc rgb '#555555', \\\n  " << unstable_file
         << " using 1:2:3 with points pt 7 ps 0.9 lc palette, \\\n  " << stable_file
         << " using 1:2 with points pt 7 ps 1.4 lc rgb 'black', \\\n  " << label_file
         << " using 1:2:3 with labels offset 0,0.9 font 'Sans,9'" << rings << "\n";
  script << "unset label 1\nunset label 2\nunset label 3\nunset label 9\n";
}

// Commands for one binary or ternary panel; data files go into the job.
void hull_panel(GnuplotJob& job, const HullStudy& study, const HullView& view,
                const std::string& tag) {
  const Hull& hull = *view.hull;
  auto& script = job.script();
  const std::string palette = "set palette defined (0 '#2166ac', 0.5 '#fddb7a', 1 '#b2182b')\n";
  script << "set title " << quoted_label(view.title) << " noenhanced\n" << palette;
  script << "set cblabel 'E above hull (meV/atom)'\nset cbrange [0:" << largest_e_above_hull(hull)
         << "]\n";
  if (hull.num_components() == 2)
    binary_panel(job, study, view, tag);
  else
    ternary_panel(job, study, view, tag);
}

bool plottable(const Hull& hull, const std::string& what) {
  if (hull.num_components() == 2 || hull.num_components() == 3) return true;
  logger().info("no {} plot: plots exist for two- and three-component hulls, this one has {}", what,
                hull.num_components());
  return false;
}

}  // namespace

bool plot_hull(const HullStudy& study, std::size_t k, const std::filesystem::path& png) {
  const Hull& hull = study.sweep.hulls.at(k);
  if (!plottable(hull, "hull")) return false;
  GnuplotJob job;
  hull_panel(job, study,
             {&hull,
              fmt::format("{} hull at {:g} GPa", references_label(hull.references),
                          study.sweep.pressures[k]),
              k},
             "");
  return job.run(png, "hull");
}

bool plot_recheck(const HullStudy& study, std::size_t k, const std::filesystem::path& png) {
  if (!study.recheck) return false;
  const Hull& first = study.sweep.hulls.at(k);
  if (!plottable(first, "re-check")) return false;
  GnuplotJob job;
  job.size(1600, 650);
  job.script() << "set multiplot layout 1,2\n";
  hull_panel(job, study,
             {&first, fmt::format("first model, {:g} GPa", study.sweep.pressures[k]), k}, "a");
  hull_panel(job, study,
             {&study.recheck->hulls.at(k),
              fmt::format("re-check: {}, {:g} GPa", study.recheck->spec, study.sweep.pressures[k]),
              std::nullopt},
             "b");
  job.script() << "unset multiplot\n";
  return job.run(png, "re-check");
}

namespace {

// Phases that are in the references' space somewhere on the grid; row r of
// the sweep's bar chart is shown[r].
std::vector<std::size_t> sweep_rows(const HullStudy& study) {
  std::vector<std::size_t> shown;
  for (std::size_t i = 0; i < study.phases.size(); ++i)
    for (const auto& hull : study.sweep.hulls)
      if (hull.entries[i].included) {
        shown.push_back(i);
        break;
      }
  return shown;
}

// The sweep's data files: energies above the hull per row, stable ranges as
// bars, transition ticks; `names` gets the rows' tic labels.
struct SweepFiles {
  std::string energies, bars, ticks;
  std::string marked;  // "P row" where a phase was relaxed where the model would label
};

SweepFiles write_sweep_data(GnuplotJob& job, const HullStudy& study,
                            const std::vector<std::size_t>& shown, std::ostringstream& names) {
  const Sweep& sweep = study.sweep;
  std::ostringstream energies, bars, ticks, marked;
  for (std::size_t row = 0; row < shown.size(); ++row) {
    const std::size_t i = shown[row];
    for (std::size_t k = 0; k < sweep.pressures.size(); ++k) {
      const auto& entry = sweep.hulls[k].entries[i];
      if (needs_label(extrapolation_at(study.phases[i], k)))
        marked << sweep.pressures[k] << " " << row << "\n";
      energies << sweep.pressures[k] << " "
               << (entry.included ? fmt::format("{}", 1000.0 * entry.e_above_hull) : "nan") << "\n";
    }
    energies << "\n\n";
    // Stable ranges with their refined ends.
    for (const StableRange& range : stable_ranges(sweep, i))
      bars << range.from_gpa.value_or(range.from_grid) << " " << row << "\n"
           << range.to_gpa.value_or(range.to_grid) << " " << row << "\n\n";
    const std::string formula = study.phases[i].phase.composition.reduced_formula();
    const std::string& id = study.phases[i].phase.id;
    names << (row > 0 ? ", " : "")
          << quoted_label(enhanced_formula(formula) +
                          (id == formula ? "" : " (" + literal_text(id) + ")"))
          << " " << row;
    for (const auto& transition : sweep.transitions)
      if (transition.entry == i) ticks << transition.pressure_gpa << " " << row << "\n";
  }
  return {job.data("energies.dat", energies.str()), job.data("bars.dat", bars.str() + "nan nan\n"),
          job.data("ticks.dat", ticks.str() + "nan nan\n"), marked.str()};
}

// The upper panel: E above the hull against pressure, without the phases far
// above the hull at every pressure (named in the title), which would squash
// the rest.
void sweep_energy_panel(std::ostream& script, const HullStudy& study,
                        const std::vector<std::size_t>& shown, const std::string& energy_file) {
  constexpr double far_above = 100.0;  // meV/atom
  std::string hidden;
  bool first_plotted = true;
  std::ostringstream curves;
  for (std::size_t row = 0; row < shown.size(); ++row) {
    double closest = 1e300;
    for (const auto& hull : study.sweep.hulls)
      if (hull.entries[shown[row]].included)
        closest = std::min(closest, 1000.0 * hull.entries[shown[row]].e_above_hull);
    if (closest > far_above) {
      hidden += (hidden.empty() ? "" : ", ") + study.phases[shown[row]].phase.id;
      continue;
    }
    curves << (first_plotted ? "" : ", \\\n  ") << energy_file << " index " << row
           << " using 1:2 with linespoints pt 7 ps 0.5 lw 1.5 title "
           << quoted_label(study.phases[shown[row]].phase.id);
    first_plotted = false;
  }
  if (!hidden.empty())
    script << "set title "
           << quoted_label(fmt::format("not shown, > {:g} meV/atom above the hull throughout: {}",
                                       far_above, hidden))
           << " noenhanced font 'Sans,9'\n";
  script << "plot " << curves.str() << "\n";
}

}  // namespace

bool plot_sweep(const HullStudy& study, const std::filesystem::path& png) {
  const Sweep& sweep = study.sweep;
  if (sweep.pressures.size() < 2) return false;
  GnuplotJob job;
  const std::vector<std::size_t> shown = sweep_rows(study);
  const std::size_t count = shown.size();
  if (count == 0) return false;
  job.size(1000, 500 + 22 * static_cast<int>(count));
  std::ostringstream names;
  const SweepFiles files = write_sweep_data(job, study, shown, names);
  auto& script = job.script();
  script << "set multiplot layout 2,1 title "
         << quoted_label(fmt::format("{} hull vs pressure",
                                     references_label(sweep.hulls.front().references)))
         << "\n";
  script << "set xrange [" << sweep.pressures.front() << ":" << sweep.pressures.back()
         << "]\nset grid\n"
         << "set lmargin at screen 0.2\nset rmargin at screen 0.8\n";
  script << "set ylabel 'E above hull (meV/atom)'\nset key outside right top noenhanced\nunset "
            "xlabel\n";
  sweep_energy_panel(script, study, shown, files.energies);
  script << "unset title\n";
  const std::string rings = label_rings(job, study, files.marked, "_sweep", "graph 0, graph 1.05");
  script << "set xlabel 'pressure (GPa)'\nset ylabel ''\nset key off\nset yrange [-0.7:"
         << count - 0.3 << "]\n"
         << "set ytics (" << names.str() << ")\nset grid xtics\n"
         << "plot " << files.bars << " using 1:2 with lines lw 8 lc rgb '#2166ac', \\\n  "
         << files.ticks << " using 1:2 with points pt 2 ps 1.5 lc rgb '#b2182b'" << rings << "\n";
  script << "unset multiplot\n";
  return job.run(png, "sweep");
}

}  // namespace otfgp
