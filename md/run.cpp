#include <unistd.h>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "otfgp/core/environment_error.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/extra_property.hpp"
#include "otfgp/core/file_fingerprint.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/output_lock.hpp"
#include "otfgp/core/output_paths.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/core/version.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/md/output.hpp"
#include "otfgp/md/restart.hpp"
#include "otfgp/md/run.hpp"

namespace otfgp::md {

namespace {

double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

constexpr const char* potential_files_prefix = "potential.files.";

// dynamics_settings and the contents of the potential's parameter files
// ("potential.files.NAME: content fnv1a64 …"): a file edited under its name
// changes the dynamics as much as another spec does.
std::string run_settings(const RunConfig& config, const Potential& potential) {
  std::string text = dynamics_settings(config);
  for (const auto& [key, file] : named_files(potential.parameter_files()))
    text += "potential." + key + ": " + content_fingerprint(file) + "\n";
  return text;
}

// Restart files of builds before 2026-12-02 hold no file lines: compared
// without them, with a warning.
std::string settings_as_recorded(const RunConfig& config, const std::string& recorded,
                                 const std::string& now) {
  std::string compared = file_lines_as_recorded(recorded, now, potential_files_prefix);
  if (compared != now)
    logger().warn(
        "{}: restart file '{}' was written by a build that did not record the potential's "
        "parameter files; their contents are not compared (the spec text is)",
        config.source, config.restart->string());
  return compared;
}

// A continued run must integrate the same dynamics; name the first difference.
void check_same_dynamics(const RunConfig& config, const RestartData& restart,
                         const std::string& settings) {
  const std::optional<SettingChange> change = first_setting_change(
      restart.settings, settings_as_recorded(config, restart.settings, settings));
  if (!change) return;
  if (change->key.rfind(potential_files_prefix, 0) == 0 && change->before && change->now)
    throw Error(config.source + ": restart file '" + config.restart->string() +
                "' was written when the potential's file " +
                change->key.substr(std::string(potential_files_prefix).size()) + " held " +
                *change->before + "; it now holds " + *change->now +
                ": a continued run must keep the potential");
  throw Error(config.source + ": restart file '" + config.restart->string() + "' was written " +
              (change->before
                   ? "with " + change->key + " = " + *change->before + ", the config has " +
                         change->now.value_or("none")
                   : "without " + change->key + ", the config sets it to " + *change->now) +
              "; a continued run must keep the settings that shape the dynamics");
}

void prepare_directory(const std::filesystem::path& directory) {
  make_output_folder(directory, "output directory");
  std::error_code error;
  const auto probe = directory / (".otfgp-write-test-" + std::to_string(::getpid()));
  {
    std::ofstream file(probe);
    if (!file) throw Error("output directory '" + directory.string() + "' is not writable");
  }
  std::filesystem::remove(probe, error);
}

// The environment variables that change how otfgp computes (docs/cli.md:
// forms of the force kernels, phase fences) and are set, for a summary to say
// which form a timing is of. Bytes outside printable ASCII become '?'.
nlohmann::json computing_environment() {
  nlohmann::json set = nlohmann::json::object();
  for (const char* name : {"OTFGP_MANYBODY_FORM", "OTFGP_GP_FORCE_FORM", "OTFGP_GP_PAIR_SCRATCH",
                           "OTFGP_FENCE_PHASES"})
    if (const char* value = std::getenv(name)) set[name] = printable_ascii(value);
  return set;
}

nlohmann::json summary(const RunConfig& config, const Engine& engine, long first_step,
                       double wall_seconds, double loop_cpu_seconds) {
  const RunStatistics& s = engine.statistics();
  const int n = engine.state().natoms;
  const double dof = 3.0 * n - 3.0;
  nlohmann::json json;
  json["program"] = build_description();
  json["concurrency"] = ExecSpace().concurrency();  // threads (OpenMP), resident threads (GPU)
  json["environment"] = computing_environment();
  json["config"] = config.source;
  json["ensemble"] = ensemble_name(config.engine);
  json["potential"] = config.potential;
  json["atoms"] = n;
  json["timestep_fs"] = config.engine.timestep;
  json["first_step"] = first_step;
  json["final_step"] = engine.step();
  json["time_fs"] = engine.time();
  json["samples"] = s.samples;
  json["mean_temperature_K"] = s.mean_temperature();
  json["std_temperature_K"] = s.std_temperature();
  json["mean_pressure_GPa"] = s.mean_pressure();
  json["mean_volume_A3"] = s.mean_volume();
  json["mean_potential_energy_eV"] = s.mean_potential_energy();
  json["mean_kinetic_energy_eV"] = s.mean_kinetic_energy();
  json["kinetic_energy_variance_eV2"] = s.kinetic_energy_variance();
  if (config.engine.thermostat.type != ThermostatType::none) {
    const double kT = units::boltzmann * config.engine.thermostat.temperature;
    json["canonical_kinetic_energy_variance_eV2"] = 0.5 * dof * kT * kT;
  }
  json["conserved_initial_eV"] = s.initial_conserved;
  json["conserved_final_eV"] = s.last_conserved;
  json["conserved_drift_eV_per_atom"] = (s.last_conserved - s.initial_conserved) / n;
  json["conserved_max_deviation_eV_per_atom"] = s.max_conserved_deviation / n;
  json["conserved_slope_eV_per_atom_per_ps"] = s.conserved_slope() * 1e3 / n;
  const PhaseTimers& timers = engine.timers();
  nlohmann::json phases;
  for (int k = 0; k < phase_count; ++k)
    phases[phase_name(static_cast<Phase>(k))] = timers.seconds[k];
  phases["total"] = timers.total();
  phases["setup"] = timers.setup;
  json["timings_s"] = phases;
  json["steps_this_run"] = timers.steps;
  json["neighbor_builds"] = engine.neighbor_list() ? engine.neighbor_list()->num_builds() : 0;
  json["wall_time_s"] = wall_seconds;
  json["loop_cpu_seconds"] = loop_cpu_seconds;
  const double loop = timers.total();
  json["atom_steps_per_second"] = loop > 0 ? static_cast<double>(timers.steps) * n / loop : 0.0;
  return json;
}

}  // namespace

std::map<std::string, std::string> settings_lines(const std::string& yaml) {
  std::map<std::string, std::string> values;
  std::istringstream lines(yaml);
  std::string line;
  while (std::getline(lines, line)) {
    const auto colon = line.find(": ");
    if (colon != std::string::npos) values[line.substr(0, colon)] = line.substr(colon + 2);
  }
  return values;
}

// A value as a person reads it: a real recorded with 17 digits
// (4.5999999999999996) in its shortest form (4.6).
static std::string shown(const std::string& value) {
  if (value.size() <= 15 || parse_integer(value)) return value;  // a seed stays a whole number
  const std::optional<double> real = parse_real(value);
  return real ? format_real(*real) : value;
}

std::optional<SettingChange> first_setting_change(const std::string& before,
                                                  const std::string& now) {
  const auto old_values = settings_lines(before), new_values = settings_lines(now);
  for (const auto& [key, value] : old_values) {
    const auto found = new_values.find(key);
    if (found == new_values.end()) return SettingChange{key, shown(value), std::nullopt};
    if (found->second != value) return SettingChange{key, shown(value), shown(found->second)};
  }
  for (const auto& [key, value] : new_values)
    if (!old_values.count(key)) return SettingChange{key, std::nullopt, shown(value)};
  return std::nullopt;
}

// No output may be an input or another output. The restart file alone may be
// read and then replaced: that is how a run is continued.
static void check_run_paths(const RunConfig& config) {
  const OutputSettings& out = config.output;
  const auto path = [&](const std::string& name) { return out.directory / name; };
  std::vector<NamedPath> inputs = {{"the config", config.source},
                                   {"potential", potential_spec_file(config.potential)}};
  if (config.structure_file) inputs.push_back({"structure", *config.structure_file});
  std::vector<NamedPath> outputs = {
      {"thermo_file", out.thermo_interval > 0 ? path(out.thermo_file) : std::filesystem::path()},
      {"trajectory_file",
       out.trajectory_interval > 0 ? path(out.trajectory_file) : std::filesystem::path()},
      {"summary_file", path(out.summary_file)},
      {"last_good_file", path(out.last_good_file)}};
  if (config.restart) outputs.push_back({"restart (input)", *config.restart});
  outputs.push_back({"restart_file", path(out.restart_file)});
  // The restart input is listed among the outputs, ahead of restart_file, so that
  // it may coincide only with restart_file: the check skips that one pair.
  std::vector<NamedPath> before_restart(outputs.begin(), outputs.end() - 1);
  check_output_paths(inputs, before_restart);
  std::vector<NamedPath> without_restart_input;
  for (const auto& output : outputs)
    if (output.role != "restart (input)") without_restart_input.push_back(output);
  check_output_paths(inputs, without_restart_input);
}

namespace {

// The restart file of a continued run, checked against the config; none for a fresh run.
std::optional<RestartData> read_restart(const RunConfig& config, const std::string& settings) {
  if (!config.restart) return std::nullopt;
  RestartData restart = read_restart_file(*config.restart);
  check_same_dynamics(config, restart, settings);
  if (restart.step >= config.steps)
    throw Error(config.source + ": restart file '" + config.restart->string() + "' is at step " +
                std::to_string(restart.step) + ", not before steps: " +
                std::to_string(config.steps) + "; raise 'steps' to continue the run");
  return restart;
}

// The lengths the thermo and trajectory files had when the restart file was
// written (a continued run cuts them back there and appends); none when fresh.
struct OutputSizes {
  std::optional<long> thermo, trajectory;
};

// Brings the thermo and trajectory files in the output directory to where the
// run starts, and removes an earlier run's files that this run replaces.
OutputSizes prepare_outputs(const OutputSettings& out, const std::optional<RestartData>& restart) {
  const auto recorded = [&](const char* key) -> std::optional<long> {
    if (!restart) return std::nullopt;
    const auto found = restart->output_sizes.find(key);
    return found == restart->output_sizes.end() ? std::nullopt : std::optional<long>(found->second);
  };
  OutputSizes sizes;
  if (out.thermo_interval > 0) sizes.thermo = recorded("thermo");
  if (out.trajectory_interval > 0) sizes.trajectory = recorded("trajectory");
  if (sizes.thermo) truncate_output(out.directory / out.thermo_file, *sizes.thermo);
  if (sizes.trajectory) truncate_output(out.directory / out.trajectory_file, *sizes.trajectory);
  std::error_code ignored;
  // A fresh run starts a fresh trajectory, and leaves no earlier thermo file
  // when it writes none (with thermo_interval > 0 it writes the file anew).
  if (out.trajectory_interval > 0 ? !sizes.trajectory : !restart)
    std::filesystem::remove(out.directory / out.trajectory_file, ignored);
  if (!restart && out.thermo_interval == 0)
    std::filesystem::remove(out.directory / out.thermo_file, ignored);
  // An earlier run's summary, last good frame and (for a fresh run) restart
  // file must not stay beside this run's outputs: they would read as this
  // run's, and a later `restart:` would continue that run onto this run's
  // thermo file. The run writes them again as it goes and when it ends.
  std::filesystem::remove(out.directory / out.summary_file, ignored);
  std::filesystem::remove(out.directory / out.last_good_file, ignored);
  if (!restart) std::filesystem::remove(out.directory / out.restart_file, ignored);
  return sizes;
}

// SIGINT/SIGTERM: the step in hand finishes, then the run stops like a
// finished one (restart and summary written) and says how to continue.
struct InterruptObserver final : StepObserver {
  long interval() const override { return 1; }
  bool observe(Engine&) override { return !interrupt_requested(); }
  bool reads_engine() const override { return false; }
};

// Runs the engine to the last step; a failed step leaves its last good frame
// in last_good_file and names it. Returns the process CPU time of the loop (s).
double run_steps(Engine& engine, const RunConfig& config, ThermoOutput& thermo) {
  const OutputSettings& out = config.output;
  const double cpu_start = process_cpu_seconds();
  try {
    engine.run_until(config.steps);
  } catch (const Error& error) {
    thermo.flush();
    if (engine.last_good_frame()) {
      write_frame_file(out.directory / out.last_good_file, *engine.last_good_frame());
      throw Error(std::string(error.what()) + "; its frame is in '" +
                  (out.directory / out.last_good_file).string() + "'");
    }
    throw;
  }
  return process_cpu_seconds() - cpu_start;
}

// Writes the summary; after a signal, throws InterruptedError saying how to continue.
void finish_run(const RunConfig& config, const Engine& engine, nlohmann::json& result) {
  const OutputSettings& out = config.output;
  const auto summary_path = out.directory / out.summary_file;
  const auto restart_path = out.directory / out.restart_file;
  if (interrupt_requested()) result["interrupted_by_signal"] = interrupt_signal();
  OutputFile file(summary_path);
  file.stream() << result.dump(2) << '\n';
  file.commit();
  if (interrupt_requested())
    throw InterruptedError(interrupt_signal(),
                           "md stopped at step " + std::to_string(engine.step()) + " of " +
                               std::to_string(config.steps) + "; restart written to '" +
                               restart_path.string() + "', summary to '" + summary_path.string() +
                               "'. To continue, set 'restart: " + restart_path.string() + "' in " +
                               config.source + " and run it again");
}

// The engine at the run's first step: fresh (Maxwell–Boltzmann velocities)
// or restored, forces computed. What is wrong with the starting atoms names
// the config and where they came from.
std::unique_ptr<Engine> start_engine(const RunConfig& config,
                                     const std::shared_ptr<Potential>& potential,
                                     const std::optional<RestartData>& restart) {
  const Structure first = restart ? restart->structure : starting_structure(config);
  if (!restart && find_extra_property(first, "momenta"))
    logger().warn(
        "{}: the structure's momenta column is not used: the run starts from Maxwell–Boltzmann "
        "velocities at {} K (initial_temperature); a continued run needs its restart file",
        config.source, format_real(config.initial_temperature));
  const auto in_context = [&](const auto& step) {
    try {
      step();
    } catch (const InterruptedError&) {
      throw;
    } catch (const EnvironmentError&) {
      throw;
    } catch (const Error& error) {
      throw Error(config.source + ", " +
                  (restart                 ? "restart file '" + config.restart->string() + "'"
                   : config.structure_file ? "structure '" + config.structure_file->string() + "'"
                                           : std::string("structure (lattice)")) +
                  ": " + error.what());
    }
  };
  AtomState state;
  in_context([&] {
    state = AtomState::from_structure(first);
    state.take_masses(first);
  });
  if (!restart) maxwell_boltzmann(state, config.initial_temperature, config.seed);
  std::unique_ptr<Engine> engine;
  in_context(
      [&] { engine = std::make_unique<Engine>(std::move(state), potential, config.engine); });
  if (restart) engine->restore(*restart);
  // A GP's per-atom uncertainty goes into the trajectory frames: asked for at
  // the trajectory's steps only, so the other steps cost what they did.
  if (config.output.trajectory_interval > 0 && potential->provides_uncertainty())
    engine->set_compute_request({false, true}, config.output.trajectory_interval);
  in_context([&] { engine->setup(); });
  return engine;
}

}  // namespace

nlohmann::json run(const RunConfig& config, std::ostream* thermo_echo, StepObserver* progress) {
  const auto start = std::chrono::steady_clock::now();
  const OutputSettings& out = config.output;

  // Everything that can be wrong with the input is found before any output is touched.
  check_run_paths(config);
  std::shared_ptr<Potential> potential = make_potential(config.potential);
  const std::string settings = run_settings(config, *potential);
  const std::optional<RestartData> restart = read_restart(config, settings);
  const std::unique_ptr<Engine> started = start_engine(config, potential, restart);
  Engine& engine = *started;
  const long first_step = engine.step();

  prepare_directory(out.directory);
  const OutputLock lock(OutputLock::in_folder(out.directory),
                        "output directory '" + out.directory.string() + "'", "otfgp md");
  const OutputSizes sizes = prepare_outputs(out, restart);
  ThermoOutput thermo(
      out.thermo_interval,
      out.thermo_interval > 0 ? out.directory / out.thermo_file : std::filesystem::path(),
      thermo_echo, sizes.thermo.has_value());
  TrajectoryOutput trajectory(out.trajectory_interval, out.directory / out.trajectory_file);
  RestartOutput restart_output(out.restart_interval, out.directory / out.restart_file,
                               [&](RestartData& data) {
                                 data.settings = settings;
                                 if (out.thermo_interval > 0)
                                   data.output_sizes["thermo"] = thermo.flush();
                                 if (out.trajectory_interval > 0)
                                   data.output_sizes["trajectory"] = trajectory.size();
                               });
  if (out.thermo_interval > 0) engine.add_observer(thermo);
  if (out.trajectory_interval > 0) engine.add_observer(trajectory);
  if (progress) engine.add_observer(*progress);
  const InterruptGuard interrupt_guard;
  InterruptObserver interrupt_observer;
  engine.add_observer(interrupt_observer);
  engine.add_observer(restart_output);  // last: it reseats the engine

  logger().info("md: {} atoms, {} from step {} to {}, dt = {} fs", engine.state().natoms,
                ensemble_name(config.engine), first_step, config.steps, config.engine.timestep);
  const double loop_cpu_seconds = run_steps(engine, config, thermo);
  thermo.flush();
  if (restart_output.last_step() != engine.step()) restart_output.write(engine);

  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json result = summary(config, engine, first_step, wall, loop_cpu_seconds);
  if (out.trajectory_interval > 0 && potential->provides_uncertainty()) {
    result["novel_frames"] = trajectory.novel_frames();
    result["max_novel_atoms"] = trajectory.most_novel_atoms();
    if (trajectory.novel_frames() > 0) {
      result["first_novel_step"] = trajectory.first_novel_step();
      logger().warn(
          "{} trajectory frames of this run had atoms the GP flagged novel (at most {} of {} "
          "atoms, first at step {}): the run left the model's training data there; check the "
          "`novel` column of {}",
          trajectory.novel_frames(), trajectory.most_novel_atoms(), engine.state().natoms,
          trajectory.first_novel_step(), trajectory.path().string());
    }
  }
  finish_run(config, engine, result);
  return result;
}

}  // namespace otfgp::md
