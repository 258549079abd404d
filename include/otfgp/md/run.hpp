#pragma once
// An MD run as `otfgp md CONFIG.yaml` does it: the config (every key in
// docs/md.md), the starting structure (file or lattice builder) or a restart
// file, the output files, and a JSON summary at the end. The CLI adds only the
// terminal (progress line, thermo echo).

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "otfgp/core/config.hpp"
#include "otfgp/core/lattice.hpp"
#include "otfgp/md/engine.hpp"
#include "otfgp/md/settings.hpp"

namespace otfgp::md {

struct OutputSettings {
  std::filesystem::path directory = ".";
  long thermo_interval = 100;  // steps; 0: none
  std::string thermo_file = "thermo.dat";
  long trajectory_interval = 1000;  // steps; 0: none
  std::string trajectory_file = "trajectory.xyz";
  long restart_interval = 0;  // steps; 0: only at the end
  std::string restart_file = "restart.h5";
  std::string summary_file = "summary.json";
  std::string last_good_file = "last_good.xyz";
};

struct RunConfig {
  std::string source;  // the config file, for messages
  // The starting structure: a file, or a lattice (exactly one, unless restarting).
  std::optional<std::filesystem::path> structure_file;
  std::string structure_format = "auto";
  std::optional<LatticeSpec> lattice;
  std::string potential;  // spec string, e.g. "sw:/usr/share/lammps/potentials/Si.sw"
  EngineSettings engine;
  long steps = 0;                    // the run ends at this step number
  double initial_temperature = 0.0;  // K, Maxwell–Boltzmann velocities of a fresh start
  std::uint64_t seed = 1;            // initial velocities and Langevin noise
  std::optional<std::filesystem::path> restart;
  OutputSettings output;
};

// Reads and validates a config; every error names the key and the file.
RunConfig read_run_config(const std::filesystem::path& file);
RunConfig parse_run_config(const std::string& text, const std::string& source);
// What the stages of an `otfgp otf` campaign set for themselves, so that its
// md: section may leave the key out: `steps` (every MD stage gives it), the
// thermostat's target (every MD stage gives `temperature`), the velocities'
// temperature (every MD stage gives `temperature` or `initial_temperature`),
// the barostat's `pressure` (every stage gives it). md: then holds 0 there.
// Each count is the first stage (from 1) without the key, 0 when none lacks it.
struct StageKeys {
  bool campaign = false;  // the config has one: missing-key errors say so
  int steps = 0;
  int target_temperature = 0;
  int initial_temperature = 0;
  int pressure = 0;
};
// The `md:` section of an `otfgp otf` config: the keys of an `otfgp md`
// config except structure, potential and restart (the loop owns them) and
// every output key but trajectory_interval (the loop writes its own outputs).
RunConfig read_md_section(ConfigSection section, const StageKeys& stages = {});
// Refuses the keys an otfgp otf config replaces, potential (the GP being
// learnt drives the MD, the oracle labels) and restart (--resume), in its md
// section or at its top level, saying what otf uses instead.
void refuse_keys_otf_replaces(const ConfigSection& section);

// The settings that shape the dynamics, resolved (defaults filled in), as YAML
// with one key per line: stored in restart files and compared on resume.
std::string dynamics_settings(const RunConfig& config);

// Settings texts in that form (one `key: value` per line) as a map, and the
// first key (in key order) whose value differs between two of them; a key only
// one text has gives nullopt on the other side. `otfgp md` restarts and
// `otfgp otf --resume` compare their saved settings with these.
std::map<std::string, std::string> settings_lines(const std::string& yaml);
struct SettingChange {
  std::string key;
  std::optional<std::string> before, now;
};
std::optional<SettingChange> first_setting_change(const std::string& before,
                                                  const std::string& now);

// The structure a fresh run starts from (file or lattice).
Structure starting_structure(const RunConfig& config);

// Runs the configured MD. `thermo_echo` (may be null) also receives the thermo
// lines; `progress` (may be null) is called every step it asks for. All input
// is checked before any output file is touched; on a blow-up the last good
// frame goes to output.last_good_file and the otfgp::Error says so. Returns
// the summary that is also written to output.summary_file.
nlohmann::json run(const RunConfig& config, std::ostream* thermo_echo = nullptr,
                   StepObserver* progress = nullptr);

}  // namespace otfgp::md
