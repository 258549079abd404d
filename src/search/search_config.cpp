// Reads `otfgp search` configs: every key validated through ConfigSection
// (unknown keys answered with "did you mean"), ranges checked up front.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <set>

#include "otfgp/core/error.hpp"
#include "otfgp/core/formula.hpp"
#include "otfgp/core/output_paths.hpp"
#include "otfgp/core/target_pressure.hpp"
#include "otfgp/oracle/oracle_settings.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "otfgp/search/search.hpp"

namespace otfgp::search {

namespace {

// A number or a two-entry [min, max] list.
std::pair<double, double> range(const ConfigSection& section, const std::string& key, double low,
                                double high) {
  if (!section.has(key)) return {low, high};
  const std::vector<double> values = section.numbers(key);
  if (values.size() == 1) return {values[0], values[0]};
  if (values.size() != 2 || values[0] > values[1])
    section.fail(key, "expected a number or [min, max] with min <= max");
  return {values[0], values[1]};
}

constexpr int max_atoms_per_cell = 1000;

int positive(const ConfigSection& section, const std::string& key, long fallback) {
  const long value = section.integer(key, fallback);
  if (value < 1 || value > 100000000) section.fail(key, "must be a positive whole number");
  return static_cast<int>(value);
}

double positive_number(const ConfigSection& section, const std::string& key, double fallback) {
  const double value = section.number(key, fallback);
  if (!(value > 0) || !std::isfinite(value)) section.fail(key, "must be a positive number");
  return value;
}

// The folder a config's relative paths are read from.
std::filesystem::path config_folder(const std::string& source) {
  return std::filesystem::path(source).has_parent_path()
             ? std::filesystem::path(source).parent_path()
             : std::filesystem::path(".");
}

// `active_learning:` (docs/search.md); paths relative to the config's folder.
ActiveLearningConfig parse_active_learning(ConfigSection section, const std::string& source) {
  section.expect_keys({"oracle", "model", "training", "std_threshold", "std_threshold_relative",
                       "max_calls", "check_interval", "target_force_error", "label_minima",
                       "max_sparse_per_frame", "calibration_frames", "calibration_window"});
  const std::filesystem::path base = config_folder(source);
  ActiveLearningConfig al;
  std::string model = section.text("model");
  if (model.rfind("gp:", 0) == 0) model = model.substr(3);
  if (const auto comma = model.find(','); comma != std::string::npos) {
    al.model_options = model.substr(comma);
    model.erase(comma);
  }
  if (model.empty())
    section.fail("model", "expected gp:MODEL.h5[,options] (a GP model file, docs/gp.md)");
  al.model =
      std::filesystem::path(model).is_relative() ? base / model : std::filesystem::path(model);
  if (!std::filesystem::exists(al.model))
    section.fail("model", "no model file " + al.model.string());
  if (section.has("training")) {
    al.training = section.text("training");
    if (al.training.is_relative()) al.training = base / al.training;
    if (!std::filesystem::exists(al.training))
      section.fail("training", "no training database " + al.training.string());
  }
  if (section.has("std_threshold") && section.has("std_threshold_relative"))
    section.fail("std_threshold",
                 "give one of std_threshold (eV/Å) and std_threshold_relative (× force noise)");
  al.relative = !section.has("std_threshold");
  al.std_threshold = al.relative ? section.number("std_threshold_relative", label_force_std_ratio)
                                 : section.number("std_threshold");
  if (!(al.std_threshold > 0) || !std::isfinite(al.std_threshold))
    section.fail(al.relative ? "std_threshold_relative" : "std_threshold",
                 al.relative ? "must be a positive multiple of the force noise"
                             : "must be a positive force std (eV/Å)");
  al.max_calls = positive(section, "max_calls", 20);
  al.check_interval = positive(section, "check_interval", 10);
  al.target_force_error = section.number("target_force_error", 0.1);
  al.label_minima = section.flag("label_minima", true);
  if (!(al.target_force_error >= 0) || !std::isfinite(al.target_force_error))
    section.fail("target_force_error", "must be a fraction >= 0 (0: no audits)");
  const long sparse = section.integer("max_sparse_per_frame", 10);
  if (sparse < 0 || sparse > 100000000)
    section.fail("max_sparse_per_frame", "must be a whole number >= 0 (0: no cap)");
  al.max_sparse_per_frame = static_cast<int>(sparse);
  al.calibration_frames = positive(section, "calibration_frames", 2);
  al.calibration_window = positive(section, "calibration_window", 20);
  if (al.calibration_window < al.calibration_frames)
    section.fail("calibration_window", "must be at least calibration_frames");
  al.oracle = oracle::make_oracle(section.section("oracle"), base);
  al.oracle_settings = oracle::label_settings(section.section("oracle"), *al.oracle);
  section.finish();
  return al;
}

// `grid:` (end members and max_units): every reduced mixture, and the end
// members as hull references.
void read_grid(ConfigSection grid, SearchConfig& config) {
  grid.expect_keys({"end_members", "max_units"});
  const std::vector<std::string> ends = grid.texts("end_members");
  if (ends.size() < 2 || ends.size() > 3)
    grid.fail("end_members", "a binary or ternary grid takes 2 or 3 end members");
  const int units = positive(grid, "max_units", 4);
  if (units > 12) grid.fail("max_units", "at most 12");
  for (const auto& end : ends) {
    try {
      config.compositions.push_back(Stoichiometry::parse(end));
    } catch (const Error& error) {
      grid.fail("end_members", error.what());
    }
  }
  config.compositions = composition_grid(config.compositions, units);
  config.hull_references = ends;
  grid.finish();
}

// `formula_units:`, and the largest cell it makes for each composition.
void read_formula_units(const ConfigSection& root, SearchConfig& config, bool variable) {
  const auto [units_min, units_max] = range(root, "formula_units", 1, 1);
  if (units_min < 1 || units_max > 64 || units_min != std::floor(units_min) ||
      units_max != std::floor(units_max))
    root.fail("formula_units", "must be whole numbers between 1 and 64");
  config.generator.min_formula_units = static_cast<int>(units_min);
  config.generator.max_formula_units = static_cast<int>(units_max);
  // Counts as large as Si1000000000 overflowed the atom count (a crash).
  for (const Stoichiometry& composition : config.compositions) {
    double atoms = 0;
    for (const int count : composition.counts) atoms += count;
    if (atoms * units_max > max_atoms_per_cell)
      root.fail(variable ? (root.has("grid") ? "grid" : "compositions") : "composition",
                composition.formula() + " with up to " +
                    std::to_string(config.generator.max_formula_units) +
                    " formula units makes cells of " + fmt::format("{:g}", atoms * units_max) +
                    " atoms; a search takes at most " + std::to_string(max_atoms_per_cell));
  }
}

// The hull of a variable-composition search takes its references (the
// hull_references, else every element) from its own minima: each must be the
// composition of a searched formula, which is known before any search.
void check_references_searched(const ConfigSection& root, const SearchConfig& config) {
  std::vector<Composition> references;
  for (const std::string& reference : config.hull_references)
    references.push_back(parse_formula(reference));
  if (config.hull_references.empty()) {
    std::set<int> elements;
    for (const Stoichiometry& composition : config.compositions)
      elements.insert(composition.numbers.begin(), composition.numbers.end());
    for (const int z : elements) references.push_back(Composition({{z, 1.0}}));
  }
  for (const Composition& reference : references) {
    bool searched = false;
    for (const Stoichiometry& composition : config.compositions) {
      std::map<int, double> amounts;
      for (std::size_t k = 0; k < composition.numbers.size(); ++k)
        amounts[composition.numbers[k]] += composition.counts[k];
      searched = searched || Composition(amounts).same_fractions(reference);
    }
    if (!searched)
      root.fail(config.hull_references.empty() ? (root.has("grid") ? "grid" : "compositions")
                                               : "hull_references",
                "the hull reference " + reference.reduced_formula() +
                    (config.hull_references.empty() ? " (an element: no hull_references given)"
                                                    : std::string()) +
                    " is not among the searched compositions, so the hull would have no entry "
                    "for it; add it to compositions or give hull_references that are");
  }
}

// Exactly one of `composition:`, `compositions:` and `grid:`; then
// `hull_references:` and `formula_units:`.
void read_compositions(const ConfigSection& root, SearchConfig& config) {
  const int given = (root.has("composition") ? 1 : 0) + (root.has("compositions") ? 1 : 0) +
                    (root.has("grid") ? 1 : 0);
  const std::string choice =
      "give exactly one of composition (one formula), compositions (a list) and grid";
  if (given == 0) throw Error(root.location() + ": missing required key: " + choice);
  if (given > 1) root.fail(root.has("grid") ? "grid" : "compositions", choice);
  const bool variable = !root.has("composition");
  if (auto grid = root.optional_section("grid")) {
    read_grid(*grid, config);
  } else {
    for (const std::string& formula : variable
                                          ? root.texts("compositions")
                                          : std::vector<std::string>{root.text("composition")}) {
      try {
        config.compositions.push_back(Stoichiometry::parse(formula));
      } catch (const Error& error) {
        root.fail(variable ? "compositions" : "composition", error.what());
      }
    }
  }
  for (std::size_t k = 0; k < config.compositions.size(); ++k)
    for (std::size_t other = 0; other < k; ++other)
      if (config.compositions[k].formula() == config.compositions[other].formula())
        root.fail(variable ? (root.has("grid") ? "grid" : "compositions") : "composition",
                  config.compositions[k].formula() +
                      " is listed twice: each formula is searched once, in its own folder");
  config.stoichiometry = config.compositions.front();
  if (root.has("hull_references")) {
    if (!variable) root.fail("hull_references", "applies to compositions: or grid: runs only");
    config.hull_references = root.texts("hull_references");
    for (const auto& reference : config.hull_references) {
      try {
        parse_formula(reference);
      } catch (const Error& error) {
        root.fail("hull_references", error.what());
      }
    }
  }
  read_formula_units(root, config, variable);
  // As the CLI decides (src/cli/search.cpp): one formula without hull
  // references is an ordinary search, with no hull.
  if (config.compositions.size() > 1 || !config.hull_references.empty())
    check_references_searched(root, config);
}

// `potential:`, or the model of `active_learning:`.
void read_potential(const ConfigSection& root, SearchConfig& config) {
  if (root.has("active_learning")) {
    if (root.has("potential"))
      root.fail("potential",
                "with active_learning the potential is its model (active_learning.model); remove "
                "potential");
    config.active_learning = parse_active_learning(root.section("active_learning"), config.source);
    config.potential = config.active_learning->spec_of(config.active_learning->model);
  } else {
    config.potential = root.text("potential");
  }
}

// The top-level scalars (pressure, seed, templates, algorithm, candidates,
// budget, ground state); returns the algorithm's name.
std::string read_run_settings(const ConfigSection& root, SearchConfig& config) {
  config.pressure_gpa = read_target_pressure(root, "pressure", 0.0);
  const long seed = root.integer("seed", 1);
  if (seed < 0) root.fail("seed", "must not be negative");
  config.seed = static_cast<std::uint64_t>(seed);
  if (root.has("templates")) config.templates = root.texts("templates");
  const std::string algorithm =
      root.choice("algorithm", {"random", "laqa", "shotgun", "template"}, "laqa");
  // `template`: the substituted templates alone, each relaxed fully.
  if (algorithm == "template" && config.templates.empty())
    root.fail("algorithm", "algorithm template needs a templates: list of files or folders");
  config.candidates =
      static_cast<int>(root.integer("candidates", algorithm == "template" ? 0 : 20));
  if (config.candidates < 0 || config.candidates > 100000000 ||
      (config.candidates == 0 && config.templates.empty()))
    root.fail("candidates", "must be positive (or 0 with templates)");
  config.strategy = algorithm == "random" || algorithm == "template" ? Strategy::random
                    : algorithm == "laqa"                            ? Strategy::laqa
                                                                     : Strategy::shotgun;
  config.max_total_steps = root.integer("max_total_steps", 0);
  if (config.max_total_steps < 0)
    root.fail("max_total_steps", "must not be negative (0: no limit)");
  if (root.has("ground_state")) config.ground_state = root.number("ground_state");
  return algorithm;
}

// `structure:`: the random-structure generator's settings.
void read_structure(ConfigSection structure, RandomStructureOptions& generator) {
  structure.expect_keys({"space_groups", "volume_factor", "distance_tolerance", "p1_fallback",
                         "attempts_per_group", "groups_to_try"});
  if (structure.has("space_groups")) {
    for (const long number : structure.integers("space_groups")) {
      if (number < 1 || number > 230) structure.fail("space_groups", "numbers must be 1–230");
      generator.space_groups.push_back(static_cast<int>(number));
    }
  }
  const auto [low, high] = range(structure, "volume_factor", 2.0, 3.0);
  // Far beyond 100 the cell is a gas of isolated atoms (and 1e300 hung the generator).
  if (!(low > 0) || !(high <= 100))
    structure.fail("volume_factor", "must be positive and at most 100");
  generator.volume_factor_min = low;
  generator.volume_factor_max = high;
  generator.distance_tolerance = structure.number("distance_tolerance", 0.7);
  if (!(generator.distance_tolerance >= 0) || generator.distance_tolerance > 2)
    structure.fail("distance_tolerance", "must be between 0 and 2");
  generator.p1_fallback = structure.flag("p1_fallback", true);
  generator.attempts_per_group = positive(structure, "attempts_per_group", 20);
  generator.groups_to_try = positive(structure, "groups_to_try", 30);
  structure.finish();
}

// The relaxation of each candidate: search defaults, then `relax:`.
void read_relax(const ConfigSection& root, SearchConfig& config) {
  config.relax.relax_cell = true;
  config.relax.pressure_gpa = config.pressure_gpa;
  config.relax.force_tolerance = 0.02;
  config.relax.stress_tolerance = 0.05;
  config.relax.max_steps = 500;
  if (auto relax = root.optional_section("relax")) {
    relax->expect_keys(
        {"algorithm", "force_tolerance", "stress_tolerance", "max_steps", "max_step"});
    config.relax.algorithm =
        parse_relax_algorithm(relax->choice("algorithm", {"fire", "lbfgs"}, "fire"));
    config.relax.force_tolerance = positive_number(*relax, "force_tolerance", 0.02);
    config.relax.stress_tolerance = positive_number(*relax, "stress_tolerance", 0.05);
    config.relax.max_steps = positive(*relax, "max_steps", 500);
    config.relax.max_step = positive_number(*relax, "max_step", 0.2);
    relax->finish();
  }
}

// `recheck:`: how many of the top minima, and the oracle that labels them.
void read_recheck(ConfigSection recheck, SearchConfig& config) {
  recheck.expect_keys({"top", "oracle"});
  config.recheck_top = positive(recheck, "top", 3);
  config.recheck_oracle =
      oracle::make_oracle(recheck.section("oracle"), config_folder(config.source));
  recheck.finish();
}

// The keys of `laqa:`.
void read_laqa_keys(const ConfigSection& laqa, LaqaSettings& settings) {
  settings.initial_steps = positive(laqa, "initial_steps", 10);
  settings.n_select = positive(laqa, "n_select", 5);
  settings.n_steps = positive(laqa, "n_steps", 10);
  settings.weight_force = laqa.number("weight_force", 0.1);
  settings.weight_stress = laqa.number("weight_stress", 10.0);
  if (settings.weight_force < 0) laqa.fail("weight_force", "must not be negative");
  if (settings.weight_stress < 0) laqa.fail("weight_stress", "must not be negative");
  const std::string stress = laqa.choice("stress", {"deviation", "raw", "none"}, "deviation");
  settings.stress = stress == "raw"    ? StressScore::raw
                    : stress == "none" ? StressScore::none
                                       : StressScore::deviation;
}

// `laqa:` and `shotgun:`: each algorithm's section is read with that algorithm
// only; under another one its keys (typos named first) are refused.
void read_algorithm_sections(const ConfigSection& root, SearchConfig& config,
                             const std::string& algorithm) {
  const std::string other = "with algorithm " + algorithm;
  if (auto laqa = root.optional_section("laqa")) {
    laqa->expect_keys(
        {"initial_steps", "n_select", "n_steps", "weight_force", "weight_stress", "stress"});
    if (config.strategy == Strategy::laqa) read_laqa_keys(*laqa, config.laqa);
    laqa->finish(config.strategy == Strategy::laqa ? "" : other);
  }
  if (auto shotgun = root.optional_section("shotgun")) {
    shotgun->expect_keys({"pre_steps", "keep"});
    if (config.strategy == Strategy::shotgun) {
      config.shotgun.pre_steps = positive(*shotgun, "pre_steps", 10);
      config.shotgun.keep = positive(*shotgun, "keep", 5);
    }
    shotgun->finish(config.strategy == Strategy::shotgun ? "" : other);
  }
}

// `output:`: the folder, the ranking and duplicate tolerances, plots.
void read_output(ConfigSection output, SearchConfig& config) {
  output.expect_keys({"folder", "top", "duplicate_enthalpy", "duplicate_fingerprint", "symprec",
                      "collapse_tolerance", "plots"});
  config.output = output.text("folder", "search");
  config.top = positive(output, "top", 5);
  config.duplicate_enthalpy = positive_number(output, "duplicate_enthalpy", 0.002);
  config.duplicate_fingerprint = positive_number(output, "duplicate_fingerprint", 0.01);
  config.symprec = positive_number(output, "symprec", 0.1);
  // Beyond an ångström every structure looks alike to spglib (1e300 gave nonsense groups).
  if (config.symprec > 1.0) output.fail("symprec", "must be at most 1 Å");
  config.collapse_tolerance = output.number("collapse_tolerance", 0.5);
  if (!(config.collapse_tolerance >= 0 && config.collapse_tolerance < 1))
    output.fail("collapse_tolerance", "must be in [0, 1) (a fraction of r_cov,i + r_cov,j)");
  config.plots = output.flag("plots", true);
  output.finish();
}

}  // namespace

std::string strategy_name(Strategy strategy) {
  switch (strategy) {
    case Strategy::random:
      return "random";
    case Strategy::laqa:
      return "laqa";
    case Strategy::shotgun:
      return "shotgun";
  }
  return "?";
}

std::string stress_score_name(StressScore stress) {
  switch (stress) {
    case StressScore::none:
      return "none";
    case StressScore::raw:
      return "raw";
    case StressScore::deviation:
      return "deviation";
  }
  return "?";
}

std::vector<Stoichiometry> composition_grid(const std::vector<Stoichiometry>& ends, int max_units) {
  std::vector<Stoichiometry> out;
  std::vector<std::string> seen;
  std::vector<int> amounts(ends.size(), 0);
  // Every mixture Σ a_k·end_k with 1 ≤ Σ a_k ≤ max_units, reduced by the gcd.
  std::function<void(std::size_t, int)> visit = [&](std::size_t k, int left) {
    if (k == ends.size()) {
      std::map<int, int> counts;
      for (std::size_t e = 0; e < ends.size(); ++e)
        for (std::size_t s = 0; s < ends[e].numbers.size(); ++s)
          counts[ends[e].numbers[s]] += amounts[e] * ends[e].counts[s];
      int divisor = 0;
      for (const auto& [z, n] : counts) divisor = std::gcd(divisor, n);
      if (divisor == 0) return;
      Stoichiometry mixture;
      for (const auto& [z, n] : counts)
        if (n > 0) {
          mixture.numbers.push_back(z);
          mixture.counts.push_back(n / divisor);
        }
      const std::string formula = mixture.formula();
      if (std::find(seen.begin(), seen.end(), formula) != seen.end()) return;
      seen.push_back(formula);
      out.push_back(mixture);
      return;
    }
    for (int a = 0; a <= left; ++a) {
      amounts[k] = a;
      visit(k + 1, left - a);
    }
  };
  visit(0, max_units);
  return out;
}

SearchConfig parse_search_config(ConfigSection root) {
  SearchConfig config;
  config.source = root.file();
  root.expect_keys({"composition",
                    "formula_units",
                    "potential",
                    "pressure",
                    "seed",
                    "candidates",
                    "algorithm",
                    "max_total_steps",
                    "structure",
                    "relax",
                    "laqa",
                    "shotgun",
                    "output",
                    "ground_state",
                    "templates",
                    "compositions",
                    "hull_references",
                    "grid",
                    "recheck",
                    "active_learning"});
  read_compositions(root, config);
  read_potential(root, config);
  const std::string algorithm = read_run_settings(root, config);
  if (auto structure = root.optional_section("structure"))
    read_structure(*structure, config.generator);
  read_relax(root, config);
  if (auto recheck = root.optional_section("recheck")) read_recheck(*recheck, config);
  read_algorithm_sections(root, config, algorithm);
  if (auto output = root.optional_section("output")) read_output(*output, config);
  root.finish();
  return config;
}

void check_search_output_paths(const SearchConfig& config) {
  const std::filesystem::path folder = config.output;
  std::vector<NamedPath> inputs = {{"config", config.source},
                                   {"potential", potential_spec_file(config.potential)}};
  for (const auto& name : config.templates) {
    std::filesystem::path path = name;  // relative to the config file, as search.cpp reads it
    if (path.is_relative() && !config.source.empty())
      path = std::filesystem::path(config.source).parent_path() / path;
    inputs.push_back({"template", path});
  }
  // The files search_report.cpp, search.cpp and variable_composition.cpp write.
  std::vector<NamedPath> outputs = {{"folder", folder}};
  for (const char* name :
       {"checkpoint.json", "ranking.txt", "ranking.csv", "summary.json", "minima.xyz",
        "best_enthalpy.png", "energy_volume.png", "hull_entries.csv", "hull.csv"})
    outputs.push_back({std::string(name) + " in the output folder", folder / name});
  try {
    check_output_paths(inputs, outputs);
    check_inputs_outside_folder(inputs, {"output/top", folder / "top"});
    check_inputs_outside_folder(inputs, {"output/recheck", folder / "recheck"});
  } catch (const Error& error) {
    throw Error((config.source.empty() ? std::string("search") : config.source) + ": " +
                error.what());
  }
}

SearchConfig read_search_config(const std::filesystem::path& file) {
  return parse_search_config(ConfigSection::load(file));
}

}  // namespace otfgp::search
