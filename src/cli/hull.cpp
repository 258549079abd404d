// otfgp hull: stability of compounds at pressure — convex hull of formation
// enthalpy from tables, labelled frames or structures relaxed on the spot,
// pressure sweeps with transition pressures, stability probabilities and a
// re-check with a second energy model. Options: docs/hull.md.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <optional>

#include "commands.hpp"
#include "otfgp/analysis/hull.hpp"
#include "otfgp/analysis/hull_phases.hpp"
#include "otfgp/analysis/hull_plot.hpp"
#include "otfgp/analysis/hull_report.hpp"
#include "otfgp/analysis/hull_sweep.hpp"
#include "otfgp/analysis/phase_table.hpp"
#include "otfgp/analysis/relax.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/output_paths.hpp"
#include "otfgp/core/target_pressure.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "otfgp/potentials/potential.hpp"

namespace otfgp::cli {

namespace {

// Relaxations stop at the step in hand on SIGINT/SIGTERM; the hull is then
// not computed (it would mix relaxed and unrelaxed entries).
struct HullSettings {
  std::vector<std::string> inputs;
  std::string pressure = "0";
  std::vector<std::string> references;
  std::string relax_with;
  std::string relax_algorithm = "fire";
  bool fixed_cell = false;
  double force_tolerance = 0.01;
  double stress_tolerance = 0.005;
  int max_steps = 1000;
  std::string relaxed_dir;
  int samples = 2000;
  std::uint64_t seed = 20240501;
  double degenerate_within = SweepOptions{}.degenerate_tolerance;
  double recheck_within = -1.0;
  bool recheck_within_given = false;
  std::string recheck_with;
  bool recheck_relax = false;
  std::string json_path, csv_path, plot_prefix;
};

bool is_table(const std::filesystem::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return extension == ".csv" || extension == ".json";
}

RelaxOptions relax_options(const HullSettings& settings) {
  RelaxOptions options;
  options.algorithm = parse_relax_algorithm(settings.relax_algorithm);
  options.relax_cell = !settings.fixed_cell;
  options.force_tolerance = settings.force_tolerance;
  options.stress_tolerance = settings.stress_tolerance;
  options.max_steps = settings.max_steps;
  return options;
}

RecheckResult run_recheck(const HullSettings& settings, const HullStudy& study,
                          const std::vector<std::optional<std::vector<Structure>>>& structures,
                          const HullOptions& hull_options) {
  auto potential = make_potential(settings.recheck_with);
  RecheckOptions options;
  options.within = settings.recheck_within;
  options.relax = settings.recheck_relax;
  options.relax_options = relax_options(settings);
  try {
    return recheck_study(*potential, study, structures, hull_options, options);
  } catch (const Error& error) {
    throw Error(std::string("--recheck-with: ") + error.what());
  }
}

// What the settings ask for once they are checked: the pressure grid and the
// reference compositions.
struct HullRequest {
  std::vector<double> pressures;
  HullOptions hull_options;
};

// Refuses colliding or unwritable outputs now, not after the relaxations.
void check_hull_outputs(const HullSettings& settings) {
  std::vector<NamedPath> inputs = {{"--relax-with", potential_spec_file(settings.relax_with)},
                                   {"--recheck-with", potential_spec_file(settings.recheck_with)}};
  for (const auto& input : settings.inputs) inputs.push_back({"input", input});
  std::vector<NamedPath> outputs = {{"--json", settings.json_path}, {"--csv", settings.csv_path}};
  if (!settings.plot_prefix.empty())
    for (const char* plot : {"_hull.png", "_recheck.png", "_sweep.png"})
      outputs.push_back({"--plot", settings.plot_prefix + plot});
  check_output_paths(inputs, outputs);
  if (!settings.json_path.empty()) check_writable(settings.json_path);
  if (!settings.csv_path.empty()) check_writable(settings.csv_path);
  if (!settings.plot_prefix.empty()) check_writable(settings.plot_prefix + "_hull.png");
}

// Checks the options and the outputs; the words of --references that name
// files join the inputs.
HullRequest parse_hull_request(HullSettings& settings) {
  // "--references BaO RhO2 a.csv b.csv": the option takes every word after it,
  // so words that name existing files are inputs, not formulas.
  std::vector<std::string> formulas;
  for (const auto& word : settings.references)
    (std::filesystem::is_regular_file(word) ? settings.inputs : formulas).push_back(word);
  if (settings.inputs.empty())
    throw Error("no inputs: give tables (*.csv, *.json) or structure files");
  HullRequest request;
  request.pressures = parse_pressure_grid(settings.pressure);
  // The ends of a sweep bound every point of it.
  check_given_pressure(request.pressures.front(), "-P/--pressure");
  if (request.pressures.size() > 1) check_given_pressure(request.pressures.back(), "-P/--pressure");
  for (const auto& formula : formulas)
    request.hull_options.references.push_back(parse_formula(formula));
  if (settings.recheck_within_given && !(settings.recheck_within >= 0))
    throw Error("--recheck-within must be a non-negative energy above the hull (eV/atom)");
  if (settings.recheck_within_given != !settings.recheck_with.empty())
    throw Error("--recheck-within and --recheck-with go together");
  if (!settings.relaxed_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(settings.relaxed_dir, error);
    if (!std::filesystem::is_directory(settings.relaxed_dir))
      throw Error("--relaxed-dir '" + settings.relaxed_dir +
                  "' is not a directory and cannot be "
                  "made" +
                  (error ? ": " + error.message() : std::string()));
  }
  check_hull_outputs(settings);
  return request;
}

// The study's phases as read: the structures of each phase for the re-check
// (nothing for a table row), and whether any entry keeps a fixed E and V.
struct LoadedPhases {
  std::vector<std::optional<std::vector<Structure>>> structures;
  bool any_table = false, any_fixed = false;
};

// One structure file's structures: each relaxed at every pressure with
// --relax-with, else taken as labelled.
void add_structure_phases(const std::vector<StructureInput>& inputs, Potential* relax_potential,
                          const PressureRelaxation& relaxation,
                          const std::vector<double>& pressures, HullStudy& study,
                          LoadedPhases& loaded) {
  for (const auto& input : inputs) {
    if (relax_potential) {
      std::vector<Structure> relaxed;
      study.phases.push_back(
          relaxed_phase(input, *relax_potential, relaxation, pressures, relaxed));
      loaded.structures.emplace_back(std::move(relaxed));
    } else {
      if (!input.structure.energy)
        throw Error(input.source +
                    " has no energy: give --relax-with SPEC to relax and evaluate the structures");
      study.phases.push_back(phase_from_frame(input, pressures));
      loaded.structures.emplace_back(std::vector<Structure>{input.structure});
      loaded.any_fixed = true;
    }
  }
}

// Reads every input (tables and structure files) into study.phases.
LoadedPhases load_phases(const HullSettings& settings, const std::vector<double>& pressures,
                         HullStudy& study) {
  std::unique_ptr<Potential> relax_potential;
  PressureRelaxation relaxation;
  if (!settings.relax_with.empty()) {
    relax_potential = make_potential(settings.relax_with);
    relaxation.relax = relax_options(settings);
    relaxation.relaxed_dir = settings.relaxed_dir;
    relaxation.recheck_follows = !settings.recheck_with.empty();
  }
  // Every input is read first, so that two entries of one id are found before
  // any relaxation (whose results --relaxed-dir names by id).
  struct Input {
    bool table = false;
    std::vector<PhaseRecord> records;
    std::vector<StructureInput> structures;
  };
  std::vector<Input> inputs;
  std::vector<PhaseRecord> ids;
  for (const auto& name : settings.inputs) {
    const std::filesystem::path path(name);
    if (!std::filesystem::exists(path)) throw Error("input '" + name + "' does not exist");
    Input input;
    input.table = is_table(path);
    if (input.table) {
      input.records = read_phase_table(path);
      ids.insert(ids.end(), input.records.begin(), input.records.end());
    } else {
      input.structures = read_structure_inputs(path);
      for (const auto& structure : input.structures)
        ids.push_back({structure.id, {}, 0.0, {}, {}, structure.source, {}});
    }
    inputs.push_back(std::move(input));
  }
  check_unique_ids(ids);
  LoadedPhases loaded;
  for (const Input& input : inputs) {
    if (!input.table) {
      add_structure_phases(input.structures, relax_potential.get(), relaxation, pressures, study,
                           loaded);
      continue;
    }
    for (const auto& record : input.records) {
      study.phases.push_back(phase_from_record(record, pressures));
      loaded.structures.emplace_back();
    }
    loaded.any_table = loaded.any_fixed = true;
  }
  return loaded;
}

void write_plots(const HullStudy& study, const std::vector<double>& pressures,
                 const std::string& prefix) {
  std::vector<std::size_t> shown = {0};
  if (pressures.size() > 1) shown.push_back(pressures.size() - 1);
  const std::vector<std::string> tags = pressure_tags(pressures);
  for (std::size_t k : shown) {
    const std::string tag = pressures.size() > 1 ? "_" + tags[k] : "";
    plot_hull(study, k, prefix + "_hull" + tag + ".png");
    if (study.recheck) plot_recheck(study, k, prefix + "_recheck" + tag + ".png");
  }
  if (pressures.size() > 1) plot_sweep(study, prefix + "_sweep.png");
}

// The table on the terminal, then the files asked for.
void write_study(const HullSettings& settings, const HullStudy& study,
                 const std::vector<double>& pressures) {
  std::cout << study_text(study) << std::flush;
  // Both files are written whole before either replaces an older one.
  std::optional<OutputFile> json, csv;
  if (!settings.json_path.empty())
    write_study_json(study, json.emplace(settings.json_path).stream());
  if (!settings.csv_path.empty()) write_study_csv(study, csv.emplace(settings.csv_path).stream());
  for (auto* file : {&json, &csv})
    if (*file) (*file)->finish();
  for (auto* file : {&json, &csv})
    if (*file) (*file)->commit();
  if (json) logger().info("wrote {}", settings.json_path);
  if (csv) logger().info("wrote {}", settings.csv_path);
  if (!settings.plot_prefix.empty()) write_plots(study, pressures, settings.plot_prefix);
}

void run_hull(HullSettings settings) {
  // Only relaxations stop cleanly on a signal; a plain hull ends as usual.
  std::optional<InterruptGuard> interrupt_guard;
  if (!settings.relax_with.empty() || settings.recheck_relax) interrupt_guard.emplace();
  const HullRequest request = parse_hull_request(settings);
  const std::vector<double>& pressures = request.pressures;

  HullStudy study;
  const LoadedPhases loaded = load_phases(settings, pressures, study);
  if (loaded.any_fixed && (pressures.size() > 1 || pressures.front() != 0.0))
    logger().info(
        "{} entries keep their energy and volume at every pressure (H = E + PV); only structures "
        "given "
        "with --relax-with are relaxed at each pressure",
        loaded.any_table ? "table and frame" : "frame");

  SweepOptions sweep_options;
  sweep_options.hull = request.hull_options;
  sweep_options.degenerate_tolerance = settings.degenerate_within;
  SamplingOptions sampling;
  sampling.samples = settings.samples;
  sampling.seed = settings.seed;
  sweep_study(study, pressures, sweep_options, sampling);

  if (!settings.recheck_with.empty())
    study.recheck = run_recheck(settings, study, loaded.structures, request.hull_options);
  write_study(settings, study, pressures);
}

}  // namespace

void add_hull_command(CLI::App& app, Commands& commands) {
  auto settings = std::make_shared<HullSettings>();
  CLI::App* command =
      app.add_subcommand("hull",
                         "Convex hull of formation enthalpy at pressure, with sweeps, "
                         "stability probabilities and re-checks (docs/hull.md)");
  command->add_option(
      "inputs", settings->inputs,
      "Tables (*.csv, *.json: id, formula, energy or energy_per_atom, volume or "
      "volume_per_atom, std) "
      "and structure files (extended XYZ with energies, POSCAR; relaxed with --relax-with)");
  command
      ->add_option("-P,--pressure", settings->pressure,
                   "Pressure in GPa, or a sweep START:STOP:STEP")
      ->capture_default_str();
  command->add_option("-r,--references", settings->references,
                      "Reference compositions (end members), e.g. BaO RhO2; default: the elements");
  command->add_option("--relax-with", settings->relax_with,
                      "Potential spec to relax every structure at each pressure");
  command->add_option("--relax-algorithm", settings->relax_algorithm, "fire or lbfgs")
      ->capture_default_str();
  command->add_flag("--fixed-cell", settings->fixed_cell,
                    "Relax positions only (default: full cell at the pressure)");
  command->add_option("--fmax", settings->force_tolerance, "Force tolerance of relaxations (eV/Å)")
      ->capture_default_str();
  command->add_option("--smax", settings->stress_tolerance, "Stress tolerance of relaxations (GPa)")
      ->capture_default_str();
  command->add_option("--max-steps", settings->max_steps, "Step limit of each relaxation")
      ->capture_default_str();
  command->add_option("--relaxed-dir", settings->relaxed_dir,
                      "Write each relaxed structure here (extended XYZ)");
  command
      ->add_option("--samples", settings->samples,
                   "Draws for stability probabilities (entries with std)")
      ->capture_default_str();
  command->add_option("--seed", settings->seed, "Random seed of the draws")->capture_default_str();
  command
      ->add_option("--degenerate-within", settings->degenerate_within,
                   "Polymorphs whose enthalpies are closer than this at every pressure are one "
                   "phase: the lower on average stands for both (eV/atom; 0: never)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  auto* recheck_within =
      command->add_option("--recheck-within", settings->recheck_within,
                          "Re-evaluate entries within this distance of the hull (eV/atom)");
  command->add_option("--recheck-with", settings->recheck_with,
                      "Potential spec of the trusted second model");
  command->add_flag("--recheck-relax", settings->recheck_relax,
                    "Relax with the second model before re-evaluating");
  command->add_option("--json", settings->json_path, "Write the results as JSON");
  command->add_option("--csv", settings->csv_path, "Write the results as CSV");
  command->add_option("--plot", settings->plot_prefix,
                      "Write PNG plots PREFIX_hull*.png, PREFIX_sweep.png, PREFIX_recheck*.png");
  commands.emplace_back(command, [settings, recheck_within] {
    settings->recheck_within_given = recheck_within->count() > 0;
    run_hull(*settings);
  });
}

}  // namespace otfgp::cli
