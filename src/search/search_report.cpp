// What a search leaves behind: the ranked table (text and CSV), a JSON
// summary with the statistics, the minima and the top structures as POSCAR
// and extended XYZ, and two PNG plots.

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <sstream>

#include "otfgp/core/cif.hpp"
#include "otfgp/core/gnuplot.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/search/search.hpp"
#include "otfgp/search/space_group.hpp"

namespace otfgp::search {

std::vector<double> pair_distance_fingerprint(const Structure& structure, double r_max, double bin,
                                              double width) {
  const std::vector<int> species = structure.species();
  const std::size_t kinds = species.size();
  const int bins = static_cast<int>(std::ceil(r_max / bin));
  std::vector<double> histogram(kinds * kinds * static_cast<std::size_t>(bins), 0.0);
  auto kind = [&](int number) {
    return static_cast<std::size_t>(std::lower_bound(species.begin(), species.end(), number) -
                                    species.begin());
  };
  std::vector<int> count(kinds, 0);
  for (const int number : structure.numbers) ++count[kind(number)];
  // Images far enough to hold every neighbour within r_max (+ the smearing).
  const double reach = r_max + 3 * width;
  const Eigen::Matrix3d reciprocal = structure.cell.inverse().transpose();
  int images[3];
  for (int a = 0; a < 3; ++a)
    images[a] = static_cast<int>(std::ceil(reach * reciprocal.row(a).norm())) + 1;
  const Eigen::Matrix3d inverse = structure.cell.inverse();
  for (int i = 0; i < structure.size(); ++i)
    for (int j = 0; j < structure.size(); ++j) {
      const std::size_t ki = kind(structure.numbers[static_cast<std::size_t>(i)]),
                        kj = kind(structure.numbers[static_cast<std::size_t>(j)]);
      Eigen::RowVector3d fractional =
          (structure.positions.row(j) - structure.positions.row(i)) * inverse;
      for (int a = 0; a < 3; ++a) fractional[a] -= std::round(fractional[a]);
      for (int a = -images[0]; a <= images[0]; ++a)
        for (int b = -images[1]; b <= images[1]; ++b)
          for (int c = -images[2]; c <= images[2]; ++c) {
            const Eigen::RowVector3d shifted = fractional + Eigen::RowVector3d(a, b, c);
            const double r = (shifted * structure.cell).norm();
            if (r < 1e-8 || r > reach) continue;
            const int centre = static_cast<int>(r / bin);
            const int spread = static_cast<int>(std::ceil(3 * width / bin));
            for (int k = std::max(0, centre - spread); k <= std::min(bins - 1, centre + spread);
                 ++k) {
              const double x = (k + 0.5) * bin - r;
              histogram[(ki * kinds + kj) * static_cast<std::size_t>(bins) +
                        static_cast<std::size_t>(k)] +=
                  std::exp(-0.5 * x * x / (width * width)) / count[ki];
            }
          }
    }
  return histogram;
}

double fingerprint_distance(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return 1.0;
  double dot = 0, na = 0, nb = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    dot += a[k] * b[k];
    na += a[k] * a[k];
    nb += b[k] * b[k];
  }
  if (na == 0 || nb == 0) return na == nb ? 0.0 : 1.0;
  return 1.0 - dot / std::sqrt(na * nb);
}

namespace {

std::string how_found(const SearchConfig& config, const CandidateSummary& c) {
  return fmt::format("{} #{} from {}{}", strategy_name(config.strategy), c.index,
                     space_group(c.generated_space_group).symbol,
                     c.p1_fallback ? " (fallback)" : "");
}

nlohmann::json candidate_json(const SearchConfig& config, const CandidateSummary& c) {
  nlohmann::json j = {{"index", c.index},
                      {"status", status_name(c.status)},
                      {"steps", c.steps},
                      {"atoms", c.atoms},
                      {"generated_space_group", c.generated_space_group},
                      {"p1_fallback", c.p1_fallback},
                      {"found_at_steps", c.found_at_steps},
                      {"found_at_seconds", c.found_at_seconds},
                      {"duplicate_of", c.duplicate_of},
                      {"how_found", how_found(config, c)}};
  if (c.status != CandidateStatus::failed && c.atoms > 0 && c.structure.size() > 0) {
    j["enthalpy_per_atom"] = c.enthalpy_per_atom;
    j["energy_per_atom"] = c.energy_per_atom;
    j["volume_per_atom"] = c.volume_per_atom;
    j["max_force"] = c.max_force;
    j["space_group"] = c.space_group;
    j["space_group_symbol"] = c.space_group_symbol;
    add_extrapolation_json(j, c.extrapolation);
  }
  if (!c.note.empty()) j["note"] = c.note;
  if (c.recheck_enthalpy_per_atom) j["recheck_enthalpy_per_atom"] = *c.recheck_enthalpy_per_atom;
  if (!c.recheck_error.empty()) j["recheck_error"] = c.recheck_error;
  return j;
}

Structure labelled(const SearchConfig& config, const CandidateSummary& c, int rank) {
  Structure s = c.structure;
  s.set_info_value("candidate", std::to_string(c.index));
  if (rank > 0) s.set_info_value("rank", std::to_string(rank));
  s.set_info_value("enthalpy_per_atom", format_real(c.enthalpy_per_atom));
  s.set_info_value("space_group", c.space_group_symbol);
  s.set_info_value("target_pressure_gpa", format_real(config.pressure_gpa));
  return s;
}

void plot_best(const SearchConfig& config, const SearchResult& result,
               const std::filesystem::path& png) {
  if (result.statistics.best_history.empty()) return;
  GnuplotJob job;
  std::ostringstream data;
  double best = 0;
  for (const auto& [steps, value] : result.statistics.best_history) {
    data << steps << " " << value << "\n";
    best = value;
  }
  data << result.statistics.total_steps << " " << best << "\n";
  const std::string file = job.data("best.dat", data.str());
  job.script()
      << "set xlabel 'cumulative optimisation steps'\nset ylabel 'best enthalpy (eV/atom)'\n"
      << "set title '" << config.stoichiometry.formula() << " at " << config.pressure_gpa
      << " GPa, " << strategy_name(config.strategy) << "' noenhanced\nset grid\n"
      << "plot " << file << " using 1:2 with steps lw 2 title '" << strategy_name(config.strategy)
      << "'\n";
  job.run(png, "best enthalpy");
}

void plot_energy_volume(const SearchConfig& config, const SearchResult& result,
                        const std::filesystem::path& png) {
  std::ostringstream data;
  int points = 0;
  for (const auto& c : result.candidates)
    if (c.status == CandidateStatus::converged) {
      data << c.volume_per_atom << " " << c.enthalpy_per_atom << " " << c.energy_per_atom << "\n";
      ++points;
    }
  if (points == 0) return;
  GnuplotJob job;
  const std::string file = job.data("minima.dat", data.str());
  job.script() << "set xlabel 'volume (Å^3/atom)'\nset ylabel 'eV/atom'\nset grid\n"
               << "set title 'minima of " << config.stoichiometry.formula() << "' noenhanced\n"
               << "plot " << file << " using 1:2 with points pt 7 ps 1.2 title 'enthalpy at "
               << config.pressure_gpa << " GPa', " << file
               << " using 1:3 with points pt 6 ps 1.2 title 'energy'\n";
  job.run(png, "energy-volume");
}

// How many candidates repeat unique minimum k (its duplicates).
int duplicates_of(const SearchResult& result, int k) {
  int duplicates = 0;
  for (const auto& other : result.candidates) duplicates += other.duplicate_of == k ? 1 : 0;
  return duplicates;
}

void write_ranking_csv(const SearchConfig& config, const SearchResult& result,
                       const std::filesystem::path& csv) {
  OutputFile out(csv);
  out.stream() << "rank,candidate,enthalpy_per_atom,energy_per_atom,volume_per_atom,space_group,"
                  "space_group_number,steps,found_at_steps,how_found,recheck_enthalpy_per_atom,"
                  "duplicates,"
               << extrapolation_csv_header << "\n";
  int rank = 0;
  for (const int k : result.ranking) {
    const auto& c = result.candidates[static_cast<std::size_t>(k)];
    out.stream() << fmt::format(
        "{},{},{},{},{},{},{},{},{},{},{},{},{}\n", ++rank, c.index,
        format_real(c.enthalpy_per_atom), format_real(c.energy_per_atom),
        format_real(c.volume_per_atom), c.space_group_symbol, c.space_group, c.steps,
        c.found_at_steps, how_found(config, c),
        c.recheck_enthalpy_per_atom ? format_real(*c.recheck_enthalpy_per_atom) : "",
        duplicates_of(result, k), extrapolation_csv(c.extrapolation));
  }
  out.commit();
}

// The oracle calls of an active-learning search, and the force RMSE the model
// had on the frames it then learnt.
nlohmann::json active_learning_json(const ActiveLearningReport& al) {
  nlohmann::json calls = nlohmann::json::array();
  double squared = 0.0;
  int learnt = 0;
  for (const auto& call : al.history) {
    calls.push_back(to_json(call));
    if (call.error.empty()) {
      squared += call.force_rmse_before * call.force_rmse_before;
      ++learnt;
    }
  }
  return {{"calls", al.calls},
          {"skipped", al.skipped},
          {"frames", al.calls},
          {"model", al.model},
          {"force_rmse_before_learning",
           learnt > 0 ? nlohmann::json(std::sqrt(squared / learnt)) : nlohmann::json(nullptr)},
          {"history", calls}};
}

// summary.json: the settings, the statistics, the ranking and every candidate.
nlohmann::json summary_json(const SearchConfig& config, const SearchResult& result) {
  const SearchStatistics& s = result.statistics;
  const bool found = s.best_candidate >= 0;
  const nlohmann::json none(nullptr);
  nlohmann::json summary = {
      {"composition", config.stoichiometry.formula()},
      {"pressure_gpa", config.pressure_gpa},
      {"potential", result.potential},
      {"algorithm", strategy_name(config.strategy)},
      {"seed", config.seed},
      {"statistics",
       {{"total_steps", s.total_steps},
        {"total_evaluations", s.total_evaluations},
        {"wall_seconds", s.wall_seconds},
        {"converged", s.converged},
        {"unconverged", s.unconverged},
        {"failed", s.failed},
        {"unique", s.unique},
        {"best_candidate", s.best_candidate},
        // null when no candidate reached a minimum (best_candidate −1).
        {"best_enthalpy_per_atom", found ? nlohmann::json(s.best_enthalpy_per_atom) : none},
        {"steps_to_best", found ? nlohmann::json(s.steps_to_best) : none},
        {"seconds_to_best", found ? nlohmann::json(s.seconds_to_best) : none},
        {"steps_to_ground_state", s.steps_to_ground_state ? nlohmann::json(*s.steps_to_ground_state)
                                                          : nlohmann::json(nullptr)},
        {"best_history", s.best_history}}}};
  nlohmann::json ranking = nlohmann::json::array(), candidates = nlohmann::json::array();
  for (const int k : result.ranking) ranking.push_back(k);
  for (const auto& c : result.candidates) candidates.push_back(candidate_json(config, c));
  summary["ranking"] = ranking;
  summary["candidates"] = candidates;
  if (result.active_learning)
    summary["active_learning"] = active_learning_json(*result.active_learning);
  if (const auto& r = result.recheck)
    summary["recheck"] = {{"rechecked", r->rechecked},
                          {"oracle_lowest_candidate", r->oracle_lowest},
                          {"difference_min_ev_per_atom", r->difference_min},
                          {"difference_max_ev_per_atom", r->difference_max}};
  return summary;
}

// The best `config.top` minima as POSCAR, extended XYZ and CIF, in a folder
// emptied first.
void write_top_structures(const SearchConfig& config, const SearchResult& result,
                          const std::filesystem::path& top) {
  std::filesystem::remove_all(top);  // no stale files from an earlier search
  std::filesystem::create_directories(top);
  int rank = 0;
  for (const int k : result.ranking) {
    if (rank >= config.top) break;
    const auto& c = result.candidates[static_cast<std::size_t>(k)];
    const Structure s = labelled(config, c, ++rank);
    const std::string stem = fmt::format("rank{:02d}_candidate{:04d}", rank, c.index);
    write_structure(top / (stem + ".vasp"), s);
    write_structure(top / (stem + ".xyz"), s);
    write_cif(top / (stem + ".cif"), s, stem);
  }
}

}  // namespace

std::string ranking_text(const SearchResult& result, int rows) {
  // A GP's minima also show its largest std (÷ its signal std σ), novel
  // atoms and largest force std (÷ its force noise σ_f).
  const bool uncertain = std::any_of(result.ranking.begin(), result.ranking.end(), [&](int k) {
    return result.candidates[static_cast<std::size_t>(k)].extrapolation.has_value();
  });
  // The space-group column is as wide as its longest shown symbol
  // ("P6_3/mmc (194)"), so the columns after it stay aligned.
  const std::size_t shown =
      rows > 0 ? std::min(result.ranking.size(), std::size_t(rows)) : result.ranking.size();
  std::vector<std::string> groups;
  std::size_t width = 12;
  for (std::size_t r = 0; r < shown; ++r) {
    const auto& c = result.candidates[static_cast<std::size_t>(result.ranking[r])];
    groups.push_back(fmt::format("{} ({})", c.space_group_symbol, c.space_group));
    width = std::max(width, groups.back().size());
  }
  std::ostringstream out;
  out << fmt::format(
      "{:>4} {:>5} {:>14} {:>14} {:>10} {:>{}} {:>6} {:>6}{}\n", "rank", "cand", "H (eV/atom)",
      "E (eV/atom)", "V (Å³/at)", "space group", width, "steps", "dups",
      uncertain ? fmt::format(" {:>9} {:>6} {:>9}", "std/σ", "novel", "Fstd/σ_f") : "");
  for (std::size_t r = 0; r < shown; ++r) {
    const int k = result.ranking[r];
    const auto& c = result.candidates[static_cast<std::size_t>(k)];
    const auto& x = c.extrapolation;
    out << fmt::format(
        "{:>4} {:>5} {:>14.6f} {:>14.6f} {:>10.3f} {:>{}} {:>6} {:>6}{}\n", r + 1, c.index,
        c.enthalpy_per_atom, c.energy_per_atom, c.volume_per_atom, groups[r], width, c.steps,
        duplicates_of(result, k),
        x ? fmt::format(
                " {:>9.3f} {:>6} {:>9}", x->max_uncertainty_normalised, x->novel_atoms,
                x->force_std_in_noise() ? fmt::format("{:.3g}", *x->force_std_in_noise()) : "-")
          : std::string(uncertain ? 27 : 0, ' '));
  }
  return out.str();
}

void write_search_report(const SearchConfig& config, const SearchResult& result) {
  const std::filesystem::path folder = config.output;
  {
    OutputFile out(folder / "ranking.txt");
    out.stream() << ranking_text(result);
    out.commit();
  }
  write_ranking_csv(config, result, folder / "ranking.csv");
  {
    OutputFile out(folder / "summary.json");
    out.stream() << summary_json(config, result).dump(2) << "\n";
    out.commit();
  }
  std::vector<Structure> minima;
  for (const int k : result.ranking)
    minima.push_back(labelled(config, result.candidates[static_cast<std::size_t>(k)], 0));
  if (!minima.empty()) write_structures(folder / "minima.xyz", minima);
  write_top_structures(config, result, folder / "top");
  if (config.plots) {
    plot_best(config, result, folder / "best_enthalpy.png");
    plot_energy_volume(config, result, folder / "energy_volume.png");
  }
}

}  // namespace otfgp::search
