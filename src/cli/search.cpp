// otfgp search: crystal structure search (random, LAQA, shotgun) at a target
// pressure with any potential; see docs/search.md.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "commands.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/search/search.hpp"
#include "otfgp/search/space_group.hpp"

namespace otfgp::cli {

namespace {

struct SearchSettings {
  std::string config;
  std::string output;
  bool resume = false;
  int workers = 1;
};

void run_search_command(const SearchSettings& settings) {
  const InterruptGuard guard;  // Ctrl-C: finish the current unit, checkpoint, stop
  search::SearchConfig config = search::read_search_config(settings.config);
  if (!settings.output.empty()) config.output = settings.output;
  if (config.compositions.size() > 1 || !config.hull_references.empty()) {
    const auto result = search::run_variable_composition(config, settings.resume, settings.workers);
    for (const auto& [formula, one] : result.searches) {
      if (one.ranking.empty()) {
        std::cout << fmt::format("{}: no minimum (no candidate converged), {} steps\n", formula,
                                 one.statistics.total_steps);
        continue;
      }
      std::cout << fmt::format(
          "{}: {} unique minima, best {:.5f} eV/atom ({}), {} steps\n", formula,
          one.statistics.unique, one.statistics.best_enthalpy_per_atom,
          one.candidates[static_cast<std::size_t>(one.ranking.front())].space_group_symbol,
          one.statistics.total_steps);
    }
    std::cout << result.hull_text << "hull entries in " << config.output
              << "/hull_entries.csv (otfgp hull reads them)\n";
    return;
  }
  const search::SearchResult result = search::run_search(config, settings.resume, settings.workers);
  const auto& s = result.statistics;
  std::cout << fmt::format("{} at {:g} GPa, {} search of {} candidates (seed {}):\n",
                           config.stoichiometry.formula(), config.pressure_gpa,
                           search::strategy_name(config.strategy), result.candidates.size(),
                           config.seed);
  std::cout << search::ranking_text(result, config.top);
  std::cout << fmt::format(
      "{} converged ({} unique), {} unconverged, {} failed; {} optimisation steps, {} "
      "evaluations, {:.1f} s\n",
      s.converged, s.unique, s.unconverged, s.failed, s.total_steps, s.total_evaluations,
      s.wall_seconds);
  if (s.best_candidate >= 0)
    std::cout << fmt::format("best first found after {} steps ({:.1f} s)\n", s.steps_to_best,
                             s.seconds_to_best);
  if (config.ground_state)
    std::cout << (s.steps_to_ground_state ? fmt::format("ground state reached after {} steps\n",
                                                        *s.steps_to_ground_state)
                                          : std::string("ground state not reached\n"));
  for (const int k : result.ranking) {
    const auto& c = result.candidates[static_cast<std::size_t>(k)];
    if (c.recheck_enthalpy_per_atom)
      std::cout << fmt::format("recheck ({}) of candidate {}: H = {:.6f} eV/atom ({:+.6f})\n",
                               config.recheck_oracle->kind(), k, *c.recheck_enthalpy_per_atom,
                               *c.recheck_enthalpy_per_atom - c.enthalpy_per_atom);
    else if (!c.recheck_error.empty())
      std::cout << fmt::format("recheck of candidate {} failed: {}\n", k, c.recheck_error);
  }
  std::cout << "results in " << config.output << "/\n";
}

}  // namespace

void add_search_command(CLI::App& app, Commands& commands) {
  auto settings = std::make_shared<SearchSettings>();
  CLI::App* command = app.add_subcommand(
      "search", "Crystal structure search (random, LAQA, shotgun) at a target pressure");
  command->add_option("config", settings->config, "Search config (YAML, see docs/search.md)")
      ->required();
  command->add_flag("--resume", settings->resume,
                    "Continue from the checkpoint in the output folder");
  command
      ->add_option("--np", settings->workers,
                   "Worker processes (fork pool); the result does not depend on it")
      ->capture_default_str();
  command->add_option("-o,--output", settings->output, "Output folder (overrides output.folder)");
  commands.emplace_back(command, [settings] { run_search_command(*settings); });
}

}  // namespace otfgp::cli
