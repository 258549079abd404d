// otfgp train: a sparse GP from labelled extended XYZ frames, written as an
// HDF5 model that `gp:MODEL.h5` evaluates in every verb.

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "commands.hpp"
#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/output_paths.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/gp/b2_descriptor.hpp"
#include "otfgp/gp/model_file.hpp"
#include "otfgp/gp/sparse_gp_potential.hpp"
#include "otfgp/gp/train_config.hpp"
#include "otfgp/gp/validation.hpp"

namespace otfgp::cli {

namespace {

struct TrainOptions {
  std::string data;
  std::string config;
  std::string output;
  std::string test;
  std::string summary;
  std::string format = "auto";
};

nlohmann::json summary_json(const ErrorSummary& s) {
  nlohmann::json j;
  j["frames"] = s.frames;
  j["atoms"] = s.atoms;
  if (s.energy_mae) j["energy_mae_ev_per_atom"] = *s.energy_mae;
  if (s.force_mae) j["force_mae_ev_per_a"] = *s.force_mae;
  if (s.force_rmse) j["force_rmse_ev_per_a"] = *s.force_rmse;
  if (s.stress_mae) j["stress_mae_gpa"] = *s.stress_mae * units::ev_per_a3_in_gpa;
  if (s.uncertainty_spearman) j["uncertainty_force_error_spearman"] = *s.uncertainty_spearman;
  if (s.force_std_coverage_1) {
    j["force_std_mean_ev_per_a"] = *s.force_std_mean;
    j["force_std_coverage_1sigma"] = *s.force_std_coverage_1;
    j["force_std_coverage_2sigma"] = *s.force_std_coverage_2;
  }
  if (s.force_std_spearman) j["force_std_force_error_spearman"] = *s.force_std_spearman;
  return j;
}

void log_errors(const std::string& name, const ErrorSummary& s) {
  std::string line = name + ": " + std::to_string(s.frames) + " frames";
  if (s.energy_mae) line += fmt::format(", energy MAE {:.3f} meV/atom", 1e3 * *s.energy_mae);
  if (s.force_mae)
    line += fmt::format(", force MAE {:.4f} eV/Å (RMSE {:.4f})", *s.force_mae, *s.force_rmse);
  if (s.stress_mae)
    line += fmt::format(", stress MAE {:.4f} GPa", *s.stress_mae * units::ev_per_a3_in_gpa);
  if (s.uncertainty_spearman)
    line += fmt::format(", Spearman(std, |ΔF|) {:.3f}", *s.uncertainty_spearman);
  if (s.force_std_coverage_1)
    line += fmt::format(", force std mean {:.4f} eV/Å, coverage {:.3f} (1σ) {:.3f} (2σ)",
                        *s.force_std_mean, *s.force_std_coverage_1, *s.force_std_coverage_2);
  if (s.force_std_spearman)
    line += fmt::format(", Spearman(σ_F, |ΔF|) {:.3f}", *s.force_std_spearman);
  logger().info("{}", line);
}

// Keys and columns named like labels of a kind some frames lack (ending in
// energy, stress or virial; a column of three ending in force or forces) but
// that the readers do not interpret: GAP's REF_energy, REF_forces,
// REF_virial, a `force` column; "" when none. Without them a user trains on
// less than meant.
std::string unread_label_names(const std::vector<Structure>& frames) {
  std::set<std::string> names;
  const auto ends_with = [](const std::string& name, const std::string& end) {
    const std::string lower = ascii_lower(name);
    return lower.size() >= end.size() &&
           lower.compare(lower.size() - end.size(), end.size(), end) == 0;
  };
  for (const auto& f : frames) {
    for (const auto& [key, value] : f.info)
      if ((!f.energy && ends_with(key, "energy")) ||
          (!f.stress && (ends_with(key, "stress") || ends_with(key, "virial"))))
        names.insert(key);
    for (const auto& column : f.extra_properties)
      if (!f.forces && column.type == 'R' && column.columns == 3 &&
          (ends_with(column.name, "force") || ends_with(column.name, "forces")))
        names.insert(column.name);
  }
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

// The frames of --data, checked; their label counts go to the log.
std::vector<Structure> read_training_frames(const TrainOptions& options) {
  std::vector<Structure> frames = read_structures(options.data, options.format);
  if (frames.empty()) throw Error(options.data + ": no frames");
  int energies = 0, forces = 0, stresses = 0;
  long atoms = 0;
  for (const auto& f : frames) {
    energies += f.energy ? 1 : 0;
    forces += f.forces ? 1 : 0;
    stresses += f.stress ? 1 : 0;
    atoms += f.size();
  }
  try {
    check_training_frames(frames);
  } catch (const Error& error) {
    throw Error(options.data + ": " + error.what());
  }
  const std::string unread = unread_label_names(frames);
  const std::string advice =
      " (otfgp reads labels only as the info keys energy= and stress= and a forces column; "
      "rename the columns to use them, e.g. with ASE)";
  if (energies + forces + stresses == 0)
    throw Error(options.data +
                ": the frames carry no labels (energy, forces or stress) to learn from" +
                (unread.empty() ? std::string() : "; found " + unread + ", not read" + advice));
  logger().info("read {} frames ({} atoms) from {}: {} with energy, {} with forces, {} with stress",
                frames.size(), atoms, options.data, energies, forces, stresses);
  if (!unread.empty())
    logger().warn("{}: not read, though named like labels: {}{}", options.data, unread, advice);
  return frames;
}

// --config over the defaults, with the species of the frames.
GpTrainConfig training_config(const TrainOptions& options, const std::vector<Structure>& frames) {
  std::set<int> elements;
  for (const auto& f : frames) elements.insert(f.numbers.begin(), f.numbers.end());
  const std::vector<int> data_species(elements.begin(), elements.end());
  return options.config.empty() ? default_gp_train_config(data_species)
                                : read_gp_train_config(options.config, data_species);
}

SparseGp train_model(const TrainOptions& options, const GpTrainConfig& config,
                     const std::vector<Structure>& frames, GpTrainingReport& report) {
  // A signal stops the frame loops, the factor updates and a likelihood
  // evaluation where they stand (core/interrupt.hpp), not only between frames.
  const InterruptibleSection interruptible;
  try {
    return train_sparse_gp(config, frames, &report);
  } catch (const InterruptedError& error) {
    throw InterruptedError(
        error.signal(),
        std::string("training ") + error.what() + "; nothing was written to '" + options.output +
            "' (training has no partial state to resume from): run the same command again");
  }
}

void log_training(const GpTrainConfig& config, const GpTrainingReport& report) {
  const bool given = gp_training_settings(config).reference_energies.has_value();
  for (std::size_t s = 0; s < config.descriptor.species.size(); ++s)
    logger().info("reference energy {}: {:.6f} eV{}", element(config.descriptor.species[s]).symbol,
                  report.reference_energies[s], given ? " (given)" : " (least squares)");
  logger().info(
      "timings: sparse set {:.2f} s, label rows and factors {:.2f} s, hyperparameters {:.2f} s, "
      "total {:.2f} s",
      report.seconds_sparse, report.seconds_frames, report.seconds_hyperparameters,
      report.seconds_total);
  logger().info("factor memory {:.1f} MB", report.factor_bytes / 1e6);
}

nlohmann::json training_summary(const std::string& model, const SparseGp& gp,
                                const GpTrainingReport& report) {
  nlohmann::json summary;
  summary["model"] = model;
  summary["frames"] = report.frames;
  summary["sparse"] = report.sparse;
  summary["labels"] = {
      {"energy", report.labels[0]}, {"force", report.labels[1]}, {"stress", report.labels[2]}};
  const GpHyperparameters& h = gp.hyperparameters();
  summary["hyperparameters"] = {{"signal_std", h.signal_std},
                                {"energy_noise", h.energy_noise},
                                {"force_noise", h.force_noise},
                                {"stress_noise", h.stress_noise}};
  summary["log_marginal_likelihood"] = gp.log_marginal_likelihood().value;
  summary["seconds"] = {{"sparse", report.seconds_sparse},
                        {"frames", report.seconds_frames},
                        {"hyperparameters", report.seconds_hyperparameters},
                        {"total", report.seconds_total}};
  summary["factor_bytes"] = report.factor_bytes;
  if (report.calibration.valid()) {
    summary["calibration"] =
        calibration_summary(report.calibration, "energy_scale_per_a", gp.descriptor().species());
  }
  return summary;
}

// Errors and uncertainty quality on the held-out frames of --test, in total
// and per composition.
void test_model(const TrainOptions& options, const std::vector<Structure>& test, SparseGp gp,
                nlohmann::json& summary) {
  auto shared = std::make_shared<const SparseGp>(std::move(gp));
  auto potential = make_sparse_gp_potential(shared, "gp:" + options.output + ",mapped=no");
  const ValidationReport validation = validate_potential(*potential, test);
  log_errors("held-out " + options.test, validation.total);
  summary["test"] = summary_json(validation.total);
  for (const auto& [formula, errors] : validation.by_composition) {
    if (validation.by_composition.size() > 1) log_errors("  " + formula, errors);
    summary["test_by_composition"][formula] = summary_json(errors);
  }
}

void run_train(const TrainOptions& options) {
  const InterruptGuard interrupt_guard;
  check_output_paths(
      {{"--data", options.data}, {"--config", options.config}, {"--test", options.test}},
      {{"-o", options.output}, {"--summary", options.summary}});
  check_writable(options.output);
  if (!options.summary.empty()) check_writable(options.summary);
  const std::vector<Structure> frames = read_training_frames(options);
  const GpTrainConfig config = training_config(options, frames);
  logger().info("{}", describe_gp_config(config));
  // The held-out frames are read and checked before the training, which may take hours.
  std::vector<Structure> test;
  if (!options.test.empty()) {
    test = read_structures(options.test, options.format);
    if (test.empty()) throw Error("--test '" + options.test + "': no frames");
    const std::vector<int>& species = config.descriptor.species;
    for (std::size_t f = 0; f < test.size(); ++f)
      for (const int z : test[f].species())
        if (std::find(species.begin(), species.end(), z) == species.end())
          throw Error(
              fmt::format("--test '{}' frame {}: element {} is not among the model's "
                          "species (those of --data and --config)",
                          options.test, f + 1, element(z).symbol));
  }

  GpTrainingReport report;
  SparseGp gp = train_model(options, config, frames, report);
  log_training(config, report);
  // Forces and stresses are derivatives: they leave each species' energy
  // offset free.
  if (report.labels[0] == 0 && config.reference_energies.empty())
    logger().warn(
        "no energy label was learnt (labels.energy is false, or no frame has an energy): "
        "forces and stresses fix the energy only up to a constant per species, so the model's "
        "absolute energies, and enthalpies or hulls from them, are off by those constants; give "
        "reference_energies (docs/gp.md) or learn some energies");
  // An isolated atom's energy in the model is its species' reference energy.
  if (config.reference_energies.empty())
    for (Eigen::Index s = 0; s < gp.isolated_atoms().size(); ++s)
      if (gp.isolated_atoms()(s) > 0.0)
        logger().warn(
            "the frames hold {} isolated {} atom(s) (no neighbour within the cutoff): the model "
            "gives them the reference energy fitted over all frames, {:.6f} eV, whatever their "
            "label (their descriptor is empty); give reference_energies as the isolated atoms' "
            "energies to make it exact (docs/gp.md, Novelty)",
            gp.isolated_atoms()(s), element(gp.descriptor().species()[std::size_t(s)]).symbol,
            gp.reference_energies()(s));
  save_gp_model(options.output, gp);
  logger().info("wrote {}", options.output);

  nlohmann::json summary = training_summary(options.output, gp, report);
  if (!options.test.empty()) test_model(options, test, std::move(gp), summary);
  if (interrupt_requested()) summary["interrupted_by_signal"] = interrupt_signal();
  if (!options.summary.empty()) {
    OutputFile file(options.summary);
    file.stream() << summary.dump(2) << "\n";
    file.commit();
  }
  if (interrupt_requested())
    throw InterruptedError(interrupt_signal(),
                           "the hyperparameter search stopped early; '" + options.output +
                               "' holds the model with the best hyperparameters found so far; "
                               "run the same command again to optimise them fully");
}

}  // namespace

void add_train_command(CLI::App& app, Commands& commands) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* command = app.add_subcommand("train",
                                         "Train a sparse GP (B2 descriptor) on labelled frames and "
                                         "write an HDF5 model for gp:MODEL.h5");
  command
      ->add_option("--data", options->data,
                   "Labelled frames (extended XYZ with energy, forces, stress)")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--config", options->config, "Training settings (YAML; keys in docs/gp.md)")
      ->check(CLI::ExistingFile);
  command->add_option("-o,--output", options->output, "Model file to write (HDF5)")->required();
  command
      ->add_option("--test", options->test,
                   "Held-out labelled frames: report errors and uncertainty quality")
      ->check(CLI::ExistingFile);
  command->add_option("--summary", options->summary,
                      "Write a JSON summary (counts, hyperparameters, timings, errors)");
  command->add_option("--format", options->format, "Input format: auto, extxyz, poscar")
      ->capture_default_str();
  commands.emplace_back(command, [options] { run_train(*options); });
}

}  // namespace otfgp::cli
