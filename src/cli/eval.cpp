// otfgp eval: energy, forces and stress (and GP uncertainty) of every frame.

#include <cmath>
#include <memory>
#include <vector>

#include "commands.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/extra_property.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/output_paths.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/gp/validation.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "progress.hpp"

namespace otfgp::cli {

namespace {

struct EvalOptions {
  std::string potential;
  std::string input;
  std::string output;
  std::string format = "auto";
  bool per_atom_energy = false;
};

// Mean absolute errors of predictions against the labels the input carried.
struct ErrorTally {
  int energy_count = 0, force_count = 0, stress_count = 0;
  double energy_per_atom = 0, force_component = 0, force_squared = 0, stress = 0;
  // Calibrated force std against the errors: components within 1σ and 2σ, per-atom pairs.
  int within_1 = 0, within_2 = 0;
  std::vector<double> force_std, force_error;

  void add(const Structure& reference, const Evaluation& predicted) {
    if (reference.energy) {
      energy_per_atom += std::abs(predicted.energy - *reference.energy) / reference.size();
      ++energy_count;
    }
    if (reference.forces) {
      const Positions difference = predicted.forces - *reference.forces;
      force_component += difference.cwiseAbs().sum();
      force_squared += difference.squaredNorm();
      force_count += 3 * reference.size();
      if (predicted.force_uncertainty)
        for (int i = 0; i < reference.size(); ++i) {
          const double sigma = (*predicted.force_uncertainty)[i];
          force_std.push_back(sigma);
          force_error.push_back(difference.row(i).norm());
          for (int d = 0; d < 3; ++d) {
            within_1 += std::abs(difference(i, d)) <= sigma;
            within_2 += std::abs(difference(i, d)) <= 2.0 * sigma;
          }
        }
    }
    if (reference.stress && predicted.stress) {
      stress += (*predicted.stress - *reference.stress).cwiseAbs().sum();
      stress_count += 6;
    }
  }
  void report() const {
    if (energy_count)
      logger().info("energy MAE vs input labels: {:.3f} meV/atom over {} frames",
                    1e3 * energy_per_atom / energy_count, energy_count);
    if (force_count)
      logger().info("force MAE vs input labels: {:.4f} eV/Å (RMSE {:.4f}) over {} components",
                    force_component / force_count, std::sqrt(force_squared / force_count),
                    force_count);
    if (!force_std.empty())
      logger().info(
          "force std vs errors: coverage {:.3f} within 1σ, {:.3f} within 2σ; Spearman(σ_F, "
          "|ΔF|) {:.3f}",
          within_1 / (3.0 * force_std.size()), within_2 / (3.0 * force_std.size()),
          spearman_correlation(force_std, force_error));
    if (stress_count)
      logger().info("stress MAE vs input labels: {:.4f} GPa over {} components",
                    units::ev_per_a3_in_gpa * stress / stress_count, stress_count);
  }
};

void run_eval(const EvalOptions& options) {
  // Ctrl-C or SIGTERM: the frame in hand finishes, nothing is written, exit 128 + signal.
  const InterruptGuard interrupt_guard;
  check_output_paths(
      {{"input", options.input}, {"--potential", potential_spec_file(options.potential)}},
      {{"-o", options.output}});
  check_writable(options.output);
  std::vector<Structure> frames = read_structures(options.input, options.format);
  if (frames.empty()) throw Error("'" + options.input + "' has no structures");
  auto potential = make_potential(options.potential);
  ComputeRequest request;
  request.per_atom_energy = options.per_atom_energy;
  request.uncertainty = potential->provides_uncertainty();
  logger().info("evaluating {} frame(s) from {} with {}", frames.size(), options.input,
                potential->spec());

  ErrorTally errors;
  long atoms = 0, novel_atoms = 0;
  Progress progress("eval", static_cast<long>(frames.size()), "frames");
  auto stop_if_interrupted = [&](std::size_t done) {
    if (interrupt_requested())
      throw InterruptedError(interrupt_signal(), "eval stopped after " + std::to_string(done) +
                                                     " of " + std::to_string(frames.size()) +
                                                     " frames; nothing was written to '" +
                                                     options.output +
                                                     "': run the same command again");
  };
  for (std::size_t k = 0; k < frames.size(); ++k) {
    stop_if_interrupted(k);
    Structure& frame = frames[k];
    const Evaluation evaluation = [&] {
      try {
        return evaluate(*potential, frame, request);
      } catch (const Error& error) {
        throw Error(options.input + ", frame " + std::to_string(k + 1) + ": " + error.what());
      }
    }();
    errors.add(frame, evaluation);
    frame.clear_results();
    attach_labels(frame, evaluation);
    if (evaluation.uncertainty)
      set_real_property(frame, "uncertainty", Eigen::MatrixXd(*evaluation.uncertainty));
    if (evaluation.uncertainty_normalised)
      set_real_property(frame, "uncertainty_normalised",
                        Eigen::MatrixXd(*evaluation.uncertainty_normalised));
    if (evaluation.force_uncertainty)
      set_real_property(frame, "force_std", Eigen::MatrixXd(*evaluation.force_uncertainty));
    if (evaluation.novel) {
      set_real_property(frame, "novel", Eigen::MatrixXd(*evaluation.novel));
      novel_atoms += static_cast<long>(evaluation.novel->sum());
    }
    if (evaluation.per_atom_energy)
      set_real_property(frame, "energies", Eigen::MatrixXd(*evaluation.per_atom_energy));
    atoms += frame.size();
    progress.update(static_cast<long>(k + 1));
  }
  progress.finish();
  stop_if_interrupted(frames.size());
  write_structures(options.output, frames);
  const double seconds = progress.elapsed_seconds();
  logger().info("wrote {} ({} frames, {} atoms) in {:.3f} s ({:.3g} atoms/s)", options.output,
                frames.size(), atoms, seconds, seconds > 0 ? atoms / seconds : 0.0);
  errors.report();
  if (novel_atoms > 0)
    logger().warn("{} of {} atoms are novel (column 'novel'): {}; the model extrapolates there",
                  novel_atoms, atoms, novelty_meaning);
}

}  // namespace

void add_eval_command(CLI::App& app, Commands& commands) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* command =
      app.add_subcommand("eval",
                         "Energy, forces and stress of every frame with a potential (plus per-atom "
                         "uncertainty for GP potentials), written as extended XYZ");
  command
      ->add_option("-p,--potential", options->potential,
                   "Potential spec, e.g. sw:/usr/share/lammps/potentials/Si.sw or gp:model.h5")
      ->required();
  add_frame_file_options(command, options->input, options->output, options->format);
  command->add_flag("--per-atom-energy", options->per_atom_energy,
                    "Also write each atom's energy as an 'energies' column");
  commands.emplace_back(command, [options] { run_eval(*options); });
}

}  // namespace otfgp::cli
