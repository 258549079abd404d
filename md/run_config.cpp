#include <algorithm>
#include <cmath>

#include "otfgp/core/config.hpp"
#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/target_pressure.hpp"
#include "otfgp/md/run.hpp"
#include "otfgp/md/thermostat.hpp"

namespace otfgp::md {

namespace {

const std::vector<std::string> ensembles = {"nve", "nvt", "npt"};
const std::vector<std::string> couplings = {"isotropic", "anisotropic", "triclinic"};

double positive_number(const ConfigSection& section, const std::string& key, double fallback) {
  const double value = section.number(key, fallback);
  if (!(value > 0.0))
    section.fail(key, "must be positive, got " + section.node()[key].as<std::string>(""));
  return value;
}

long non_negative_integer(const ConfigSection& section, const std::string& key, long fallback) {
  const long value = section.integer(key, fallback);
  if (value < 0) section.fail(key, "must not be negative");
  return value;
}

void read_structure_section(const ConfigSection& root, RunConfig& config, bool restarting) {
  if (!root.has("structure")) {
    if (!restarting)
      throw Error(root.location() + ": missing required key 'structure' (a file or a lattice)");
    return;
  }
  ConfigSection structure = root.section("structure");
  structure.expect_keys({"file", "format", "lattice", "elements", "a", "c", "repeat"});
  const bool has_file = structure.has("file"), has_lattice = structure.has("lattice");
  if (has_file == has_lattice)
    throw Error(structure.location() +
                ": key 'structure' needs exactly one of 'structure.file' and 'structure.lattice'");
  if (has_file) {
    config.structure_file = structure.text("file");
    config.structure_format = structure.text("format", "auto");
    structure.finish("with structure.file (it belongs to structure.lattice)");
    return;
  }
  LatticeSpec spec;
  spec.lattice = structure.choice("lattice", lattice_names());
  spec.elements = structure.texts("elements", lattice_site_count(spec.lattice));
  spec.a = positive_number(structure, "a", 0.0);
  if (structure.has("c")) {
    if (spec.lattice != "hcp") structure.fail("c", "applies to the hcp lattice only");
    spec.c = positive_number(structure, "c", 0.0);
  }
  if (structure.has("repeat")) {
    const auto repeat = structure.integers("repeat");
    if (repeat.size() != 1 && repeat.size() != 3)
      structure.fail("repeat", "expected one count or three");
    for (int d = 0; d < 3; ++d) {
      const long n = repeat[repeat.size() == 1 ? 0 : d];
      if (n < 1 || n > 1000) structure.fail("repeat", "counts must be between 1 and 1000");
      spec.repeat[d] = static_cast<int>(n);
    }
  }
  try {
    for (const auto& symbol : spec.elements) atomic_number(symbol);
  } catch (const Error& error) {
    structure.fail("elements", error.what());
  }
  config.lattice = spec;
  structure.finish("with structure.lattice");
}

void check_top_level_keys(ConfigSection& root, bool embedded) {
  if (embedded) {
    // What otfgp otf does instead of each (its config has no such top-level
    // potential or restart either).
    if (root.has("structure"))
      root.fail("structure",
                "belongs to the top level of the otfgp otf config (structure: FILE, or campaign: "
                "for several), not to its md section");
    refuse_keys_otf_replaces(root);
  }
  root.expect_keys({"structure", "potential", "ensemble", "timestep", "steps", "temperature",
                    "initial_temperature", "seed", "thermostat", "barostat", "neighbor", "checks",
                    "restart", "output"});
}

}  // namespace

void refuse_keys_otf_replaces(const ConfigSection& section) {
  if (section.has("potential"))
    section.fail("potential",
                 "does not apply to otfgp otf: the MD runs on the GP being learnt (model:), and "
                 "the oracle: section labels its frames (oracle: {kind: potential, potential: "
                 "SPEC} for an otfgp potential)");
  if (section.has("restart"))
    section.fail("restart",
                 "does not apply to otfgp otf: the loop checkpoints itself in its output folder; "
                 "continue a stopped run with otfgp otf CONFIG --resume");
}

namespace {

// A key of md: that a campaign's stages may set instead, missing from both:
// the error says where else it may go, and which stage (from 1) lacks it.
[[noreturn]] void missing_for_stages(const ConfigSection& section, const std::string& key,
                                     const std::string& what, const std::string& stage_keys,
                                     bool md_stages, int lacking) {
  throw Error(section.location() + ": missing required key '" + section.name(key) + "' (" + what +
              "; or give every " + (md_stages ? "MD " : "") + "stage of the campaign " +
              stage_keys + ": campaign[" + std::to_string(lacking) + "] has none)");
}

void read_steps_and_seed(const ConfigSection& root, const StageKeys& stages, RunConfig& config) {
  config.engine.timestep = positive_number(root, "timestep", 1.0);
  // Seconds given where femtoseconds are meant pass every other check: a
  // run of 1e-15 fs steps goes nowhere, silently.
  if (config.engine.timestep < 0.01)
    logger().warn(
        "{}: key '{}' is {} fs; the unit is fs (1 fs = 1e-15 s), and MD steps are typically "
        "0.5-2 fs",
        root.location("timestep"), root.name("timestep"),
        format_significant(config.engine.timestep, 6));
  if (root.has("steps") || !stages.campaign) {
    config.steps = root.integer("steps");
    if (config.steps < 1)
      root.fail("steps",
                "must be at least 1 (a run of no steps has no temperature, pressure or "
                "volume to average)");
  } else if (stages.steps > 0) {
    missing_for_stages(root, "steps", "the MD steps", "its 'steps'", true, stages.steps);
  }
  const long seed = root.integer("seed", 1);
  if (seed < 0) root.fail("seed", "must not be negative");
  config.seed = static_cast<std::uint64_t>(seed);
  config.engine.seed = config.seed;
}

// A missing temperature: an error, unless a campaign's MD stages set it
// (`lacking`: the first that does not, 0 when all do; `stage_keys` they may
// give); `what` says what it is.
void require_temperature(const ConfigSection& root, const StageKeys& stages, int lacking,
                         const std::string& stage_keys, const std::string& what) {
  if (!stages.campaign)
    throw Error(root.location() + ": missing required key '" + root.name("temperature") + "' (" +
                what + ")");
  if (lacking > 0) missing_for_stages(root, "temperature", what, stage_keys, true, lacking);
}

// Sets the initial temperature; returns the target (required unless nve, or
// a campaign's MD stages set it).
std::optional<double> read_temperatures(const ConfigSection& root, const std::string& ensemble,
                                        const StageKeys& stages, RunConfig& config) {
  const auto temperature = root.optional_number("temperature");
  if (temperature && !(*temperature >= 0.0)) root.fail("temperature", "must not be negative (K)");
  const bool nve = ensemble == "nve";
  if (!nve && !temperature)
    require_temperature(root, stages, stages.target_temperature, "its 'temperature'",
                        "the target of " + ensemble + ", K");
  if (!nve && temperature && !(*temperature > 0.0))
    root.fail("temperature", "must be positive for " + ensemble);
  const auto initial = root.optional_number("initial_temperature");
  if (initial && !(*initial >= 0.0)) root.fail("initial_temperature", "must not be negative (K)");
  if (!temperature && !initial) {
    require_temperature(root, stages, stages.initial_temperature,
                        "its 'temperature' or 'initial_temperature'",
                        "for nve: the temperature of the initial velocities, K; 0 starts at rest");
    return std::nullopt;  // every stage its own; initial_temperature stays 0
  }
  config.initial_temperature = initial ? *initial : *temperature;
  return temperature;
}

// The thermostat section: type and damping, then the keys its kind reads.
void read_thermostat(const ConfigSection& root, const std::string& ensemble,
                     ThermostatSettings& settings) {
  if (!root.has("thermostat"))
    throw Error(root.location() + ": missing required key 'thermostat' (ensemble " + ensemble +
                ")");
  ConfigSection thermostat = root.section("thermostat");
  std::vector<std::string> keys = {"type", "damping"};
  for (const auto& kind : thermostat_kinds())
    for (const auto& key : kind.keys)
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  thermostat.expect_keys(keys);
  const std::string type = thermostat.choice("type", thermostat_names());
  settings.type = ThermostatType(type);
  settings.damping = positive_number(thermostat, "damping", 100.0);
  const ThermostatKind& kind = find_thermostat(type);
  if (kind.read_keys) kind.read_keys(thermostat, settings);
  thermostat.finish("with thermostat type " + type);
}

void read_barostat(const ConfigSection& root, const StageKeys& stages, BarostatSettings& settings) {
  if (!root.has("barostat"))
    throw Error(root.location() + ": missing required key 'barostat' (ensemble npt)");
  ConfigSection barostat = root.section("barostat");
  barostat.expect_keys({"pressure", "coupling", "damping", "chain_length"});
  settings.enabled = true;
  if (barostat.has("pressure") || !stages.campaign)
    settings.pressure = read_target_pressure(barostat, "pressure");
  else if (stages.pressure > 0)  // else every stage its own: 0 here
    missing_for_stages(barostat, "pressure", "the target pressure, GPa", "its 'pressure'", false,
                       stages.pressure);
  const std::string coupling = barostat.choice("coupling", couplings, "isotropic");
  settings.coupling = coupling == "isotropic"     ? PressureCoupling::isotropic
                      : coupling == "anisotropic" ? PressureCoupling::anisotropic
                                                  : PressureCoupling::triclinic;
  settings.damping = positive_number(barostat, "damping", 1000.0);
  settings.chain_length = static_cast<int>(barostat.integer("chain_length", 3));
  if (settings.chain_length < 1 || settings.chain_length > 20)
    barostat.fail("chain_length", "must be between 1 and 20");
  barostat.finish();
}

// The thermostat and barostat sections the ensemble needs, refusing the others.
void read_ensemble(const ConfigSection& root, const std::string& ensemble, const StageKeys& stages,
                   std::optional<double> temperature, EngineSettings& engine) {
  if (ensemble == "nve") {
    if (root.has("thermostat"))
      root.fail("thermostat", "does not apply to ensemble nve; remove it or use nvt");
    if (root.has("barostat"))
      root.fail("barostat", "does not apply to ensemble nve; remove it or use npt");
    return;
  }
  engine.thermostat.temperature = temperature.value_or(0.0);  // 0: every stage its own
  read_thermostat(root, ensemble, engine.thermostat);
  if (ensemble == "nvt" && root.has("barostat"))
    root.fail("barostat", "does not apply to ensemble nvt; remove it or use npt");
  if (ensemble == "npt") read_barostat(root, stages, engine.barostat);
}

void read_neighbor_and_checks(const ConfigSection& root, EngineSettings& engine) {
  if (const auto neighbor = root.optional_section("neighbor")) {
    ConfigSection section = *neighbor;
    section.expect_keys({"skin"});
    engine.neighbor_skin = section.number("skin", 1.0);
    if (!(engine.neighbor_skin >= 0.0)) section.fail("skin", "must not be negative (Å)");
    section.finish();
  }
  if (const auto checks = root.optional_section("checks")) {
    ConfigSection section = *checks;
    section.expect_keys({"min_distance", "max_force"});
    if (section.has("min_distance"))
      engine.min_distance = positive_number(section, "min_distance", 1.0);
    engine.max_force = positive_number(section, "max_force", engine.max_force);
    section.finish();
  }
}

void read_output(const ConfigSection& root, bool embedded, OutputSettings& out) {
  const auto output = root.optional_section("output");
  if (!output) return;
  ConfigSection section = *output;
  section.expect_keys({"directory", "thermo_interval", "thermo_file", "trajectory_interval",
                       "trajectory_file", "restart_interval", "restart_file", "summary_file",
                       "last_good_file"});
  if (embedded)
    for (const char* key : {"directory", "restart_interval", "restart_file", "thermo_interval",
                            "thermo_file", "trajectory_file", "summary_file", "last_good_file"})
      if (section.has(key))
        section.fail(key,
                     "set by the otf loop (output directory, checkpoints, uncertainty.csv with "
                     "the thermo of every check, trajectory.xyz, summary.json); only "
                     "trajectory_interval applies here");
  out.directory = section.text("directory", ".");
  out.thermo_interval = non_negative_integer(section, "thermo_interval", out.thermo_interval);
  out.thermo_file = section.text("thermo_file", out.thermo_file);
  out.trajectory_interval =
      non_negative_integer(section, "trajectory_interval", out.trajectory_interval);
  out.trajectory_file = section.text("trajectory_file", out.trajectory_file);
  out.restart_interval = non_negative_integer(section, "restart_interval", out.restart_interval);
  out.restart_file = section.text("restart_file", out.restart_file);
  out.summary_file = section.text("summary_file", out.summary_file);
  out.last_good_file = section.text("last_good_file", out.last_good_file);
  for (const char* key :
       {"thermo_file", "trajectory_file", "restart_file", "summary_file", "last_good_file"})
    if (section.has(key) && std::filesystem::path(section.text(key)).has_parent_path())
      section.fail(key, "must be a file name; put the folder in output.directory");
  section.finish();
}

RunConfig from_section(ConfigSection root, bool embedded, const StageKeys& stages) {
  check_top_level_keys(root, embedded);
  RunConfig config;
  config.source = root.file();
  if (!embedded) {
    if (root.has("restart")) config.restart = root.text("restart");
    read_structure_section(root, config, config.restart.has_value());
    config.potential = root.text("potential");
  }
  const std::string ensemble = root.choice("ensemble", ensembles);
  read_steps_and_seed(root, stages, config);
  const std::optional<double> temperature = read_temperatures(root, ensemble, stages, config);
  read_ensemble(root, ensemble, stages, temperature, config.engine);
  read_neighbor_and_checks(root, config.engine);
  read_output(root, embedded, config.output);
  root.finish();
  try {
    config.engine.validate(temperature.has_value());
  } catch (const Error& error) {
    throw Error(config.source + ": " + error.what());
  }
  return config;
}

}  // namespace

RunConfig read_run_config(const std::filesystem::path& file) {
  return from_section(ConfigSection::load(file), false, {});
}

RunConfig parse_run_config(const std::string& text, const std::string& source) {
  return from_section(ConfigSection::parse(text, source), false, {});
}

RunConfig read_md_section(ConfigSection section, const StageKeys& stages) {
  return from_section(std::move(section), true, stages);
}

std::string dynamics_settings(const RunConfig& config) {
  const EngineSettings& e = config.engine;
  auto number = [](double value) { return format_significant(value, 17); };
  std::string yaml;
  auto line = [&](const std::string& key, const std::string& value) {
    yaml += key + ": " + value + "\n";
  };
  line("potential", "'" + config.potential + "'");
  line("ensemble", ensemble_name(e));
  line("timestep", number(e.timestep));
  line("seed", std::to_string(config.seed));
  line("neighbor.skin", number(e.neighbor_skin));
  line("checks.max_force", number(e.max_force));
  if (e.thermostat.type != ThermostatType::none) {
    line("temperature", number(e.thermostat.temperature));
    line("thermostat.type", to_string(e.thermostat.type));
    line("thermostat.damping", number(e.thermostat.damping));
    const ThermostatKind& kind = find_thermostat(e.thermostat.type.name());
    if (kind.write_keys)
      for (const auto& [key, value] : kind.write_keys(e.thermostat))
        line("thermostat." + key, value);
  }
  if (e.barostat.enabled) {
    line("barostat.pressure", number(e.barostat.pressure));
    line("barostat.coupling", to_string(e.barostat.coupling));
    line("barostat.damping", number(e.barostat.damping));
    line("barostat.chain_length", std::to_string(e.barostat.chain_length));
  }
  return yaml;
}

Structure starting_structure(const RunConfig& config) {
  if (config.lattice) return build_lattice(*config.lattice);
  if (!config.structure_file)
    throw Error(config.source + ": no starting structure (structure.file or structure.lattice)");
  Structure structure = otfgp::read_structure(*config.structure_file, config.structure_format);
  structure.validate();
  if (structure.size() == 0)
    throw Error(config.source + ": the structure in '" + config.structure_file->string() +
                "' has no atoms");
  structure.refuse_fixed_atoms(
      config.source + ": the structure in '" + config.structure_file->string() + "'", "otfgp md");
  return structure;
}

}  // namespace otfgp::md
