// otfgp relax: geometry optimisation of every structure in a file with a
// potential, at fixed cell or at a target pressure with a free cell.

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <optional>

#include "commands.hpp"
#include "otfgp/analysis/relax.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/output_paths.hpp"
#include "otfgp/core/target_pressure.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/potentials/potential.hpp"

namespace otfgp::cli {

namespace {

struct RelaxSettings {
  std::string input;
  std::string potential;
  std::string output;
  std::string algorithm = "fire";
  std::string cell = "auto";
  double pressure = 0.0;
  double force_tolerance = 0.01;
  double stress_tolerance = 0.005;
  int max_steps = 1000;
  double max_step = 0.2;
  std::string trajectory;
  int trajectory_every = 1;
  bool pressure_given = false;
};

// The relaxation the options ask for (the cell free under --cell auto only
// when a pressure is given).
RelaxOptions relax_options(const RelaxSettings& settings) {
  RelaxOptions options;
  options.algorithm = parse_relax_algorithm(settings.algorithm);
  if (settings.cell == "auto")
    options.relax_cell = settings.pressure_given;
  else if (settings.cell == "full")
    options.relax_cell = true;
  else if (settings.cell == "fixed")
    options.relax_cell = false;
  else
    throw Error("--cell must be fixed, full or auto, not '" + settings.cell + "'");
  if (settings.pressure_given) check_given_pressure(settings.pressure, "-P/--pressure");
  if (settings.pressure_given && !options.relax_cell)
    logger().warn("--pressure with a fixed cell only adds P·V to the reported enthalpy");
  if (settings.trajectory_every < 1) throw Error("--trajectory-every must be at least 1");
  options.pressure_gpa = settings.pressure;
  options.force_tolerance = settings.force_tolerance;
  options.stress_tolerance = settings.stress_tolerance;
  options.max_steps = settings.max_steps;
  options.max_step = settings.max_step;
  return options;
}

// Appends every trajectory_every-th step of frame f to --trajectory; `started`
// says whether the file has been begun.
std::function<void(const RelaxStep&)> trajectory_writer(const RelaxSettings& settings,
                                                        std::size_t f, bool& started) {
  return [&settings, f, &started](const RelaxStep& step) {
    if (step.step % settings.trajectory_every != 0) return;
    Structure frame = *step.structure;
    frame.set_info_value("step", std::to_string(step.step));
    frame.set_info_value("frame_index", std::to_string(f));
    frame.set_info_value("enthalpy", format_real(step.enthalpy));
    write_structures(settings.trajectory, {frame}, "extxyz", started);
    started = true;
  };
}

void print_result(std::size_t f, const RelaxResult& result, const RelaxOptions& options) {
  const double atoms = result.structure.size();
  std::cout << fmt::format(
      "frame {}: {} in {} steps ({} evaluations), {} — E = {:.6f} eV ({:.6f} eV/atom), H = "
      "{:.6f} eV, V = {:.4f} Å³, "
      "P = {:.4f} GPa, max force {:.2e} eV/Å{}{}\n",
      f, result.converged ? "converged" : "NOT converged", result.steps, result.evaluations,
      relax_algorithm_name(options.algorithm), result.energy, result.energy / atoms,
      result.enthalpy, result.structure.volume(), result.pressure, result.max_force,
      options.relax_cell ? fmt::format(", max |σ + P·I| {:.2e} GPa", result.max_stress_deviation)
                         : "",
      result.extrapolation ? "; " + describe(*result.extrapolation, result.structure.size()) : "");
}

// The relaxed structure as written to -o, marked with its convergence,
// enthalpy and target pressure.
Structure relaxed_output(const RelaxResult& result, double pressure) {
  Structure out = result.structure;
  out.set_info_value("converged", result.converged ? "T" : "F");
  out.set_info_value("enthalpy", format_real(result.enthalpy));
  out.set_info_value("target_pressure_gpa", format_real(pressure));
  return out;
}

// After a signal: keeps the structures relaxed so far in -o and stops.
[[noreturn]] void stop_interrupted(const RelaxSettings& settings,
                                   const std::vector<Structure>& relaxed, std::size_t frames) {
  std::string done = "stopped after " + std::to_string(relaxed.size()) + " of " +
                     std::to_string(frames) + " structures";
  if (!settings.output.empty()) {
    write_structures(settings.output, relaxed);
    done += "; '" + settings.output + "' holds them (converged=F marks one cut short): relax " +
            "those and the rest again";
  }
  throw InterruptedError(interrupt_signal(), "relax " + done);
}

// The warning for the frames (0-based) that ended where the model would ask
// for a label, of `frames` relaxed; `judged`: whether a force std was judged.
void warn_unsure_frames(const std::vector<std::size_t>& unsure, std::size_t frames, bool judged) {
  const bool one = unsure.size() == 1;
  logger().warn(
      "{} of {} relaxed structures {} where the model would ask for a label (frame{} {}: {}): "
      "{} the model's extrapolation, not its prediction; label {} with an oracle before "
      "trusting {}; {}",
      unsure.size(), frames, one ? "ends" : "end", one ? "" : "s", fmt::join(unsure, ", "),
      label_rule(judged), one ? "its energy is" : "their energies are", one ? "it" : "them",
      one ? "it" : "them", label_meaning(judged));
}

void run_relax(const RelaxSettings& settings) {
  const InterruptGuard interrupt_guard;
  RelaxOptions options = relax_options(settings);
  // Refuse unwritable outputs now, not after the relaxations.
  check_output_paths(
      {{"input", settings.input}, {"--potential", potential_spec_file(settings.potential)}},
      {{"-o", settings.output}, {"--trajectory", settings.trajectory}});
  // Without -o the per-frame lines are the whole result (a quick look at
  // energies and enthalpies); say so before the relaxations, not after.
  if (settings.output.empty())
    logger().warn("no -o: the relaxed structures are not written (only their results are printed)");
  else
    check_writable(settings.output);
  if (!settings.trajectory.empty()) check_writable(settings.trajectory);
  auto potential = make_potential(settings.potential);
  std::vector<Structure> frames = read_structures(settings.input);
  if (frames.empty()) throw Error("'" + settings.input + "' has no structures");
  if (!settings.output.empty() && frames.size() > 1 &&
      structure_format(settings.output, "auto") == StructureFormat::poscar)
    throw Error(
        fmt::format("'{}' holds {} structures, and the POSCAR -o '{}' holds one: give an "
                    "extended XYZ -o (*.xyz) for all of them",
                    settings.input, frames.size(), settings.output));
  for (std::size_t f = 0; f < frames.size(); ++f) {
    frames[f].refuse_fixed_atoms(
        "'" + settings.input + "'" + (frames.size() > 1 ? " frame " + std::to_string(f + 1) : ""),
        "otfgp relax");
    // An earlier calculation's results (an eval's uncertainty columns) would
    // travel into -o beside the relaxed structure's and contradict them.
    frames[f].clear_results();
  }
  std::vector<Structure> relaxed;
  bool all_converged = true;
  bool trajectory_started = false;
  std::vector<std::size_t> unsure;  // frames where the model would ask for a label
  bool judged = false;              // whether any frame had a force std to judge
  for (std::size_t f = 0; f < frames.size(); ++f) {
    if (!settings.trajectory.empty())
      options.observer = trajectory_writer(settings, f, trajectory_started);
    std::optional<RelaxResult> done;
    try {
      done = relax(*potential, frames[f], options);
    } catch (const Error& error) {
      // A failure in frame f (its trajectory's disk full, a blow-up) does not
      // take the structures relaxed before it along.
      if (relaxed.empty() || settings.output.empty()) throw;
      try {
        write_structures(settings.output, relaxed);
      } catch (const Error&) {
        throw error;
      }
      throw Error(fmt::format("structure {}: {}; the {} structure(s) relaxed before it are in '{}'",
                              f + 1, error.what(), relaxed.size(), settings.output));
    }
    const RelaxResult& result = *done;
    all_converged = all_converged && result.converged;
    print_result(f, result, options);
    if (needs_label(result.extrapolation)) unsure.push_back(f);
    judged = judged || force_std_judged(result.extrapolation);
    relaxed.push_back(relaxed_output(result, settings.pressure));
    if (interrupt_requested()) break;
  }
  if (interrupt_requested()) stop_interrupted(settings, relaxed, frames.size());
  if (!settings.output.empty()) {
    write_structures(settings.output, relaxed);
    logger().info("wrote {}", settings.output);
  }
  if (!unsure.empty()) warn_unsure_frames(unsure, relaxed.size(), judged);
  if (!all_converged)
    throw Error("not every structure converged within --max-steps " +
                std::to_string(settings.max_steps));
}

}  // namespace

void add_relax_command(CLI::App& app, Commands& commands) {
  auto settings = std::make_shared<RelaxSettings>();
  CLI::App* command = app.add_subcommand(
      "relax", "Relax positions (and the cell at a pressure) with FIRE or L-BFGS");
  command->add_option("input", settings->input, "Structure file (extended XYZ, POSCAR)")
      ->required();
  command
      ->add_option("-p,--potential", settings->potential,
                   "Potential spec, e.g. sw:/usr/share/lammps/potentials/Si.sw")
      ->required();
  command->add_option("-o,--output", settings->output, "Relaxed structures (format from the name)");
  command->add_option("-a,--algorithm", settings->algorithm, "fire or lbfgs")
      ->capture_default_str();
  auto* pressure = command->add_option("-P,--pressure", settings->pressure,
                                       "Target pressure (GPa); frees the cell");
  command
      ->add_option("--cell", settings->cell, "fixed, full, or auto (full when --pressure is given)")
      ->capture_default_str();
  command
      ->add_option("--fmax", settings->force_tolerance,
                   "Converged when every force is below this (eV/Å)")
      ->capture_default_str();
  command
      ->add_option("--smax", settings->stress_tolerance,
                   "… and every |σ_ij + P δ_ij| below this (GPa)")
      ->capture_default_str();
  command->add_option("--max-steps", settings->max_steps, "Step limit")->capture_default_str();
  command->add_option("--max-step", settings->max_step, "Largest move of an atom per step (Å)")
      ->capture_default_str();
  command->add_option("--trajectory", settings->trajectory,
                      "Write every step to this extended XYZ file");
  command->add_option("--trajectory-every", settings->trajectory_every, "Write every N-th step")
      ->capture_default_str();
  commands.emplace_back(command, [settings, pressure] {
    settings->pressure_given = pressure->count() > 0;
    run_relax(*settings);
  });
}

}  // namespace otfgp::cli
