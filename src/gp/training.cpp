#include "otfgp/gp/training.hpp"

#include <nlopt.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include "otfgp/core/error.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/gp/reference_energies.hpp"
#include "otfgp/potentials/evaluate.hpp"

#include "otfgp/core/elements.hpp"
#include "otfgp/gp/validation.hpp"

namespace otfgp {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The model's size into the report, and the time since `start` as its total.
void record_model(const SparseGp& gp, Clock::time_point start, GpTrainingReport& report) {
  report.frames = gp.num_frames();
  report.sparse = gp.num_sparse();
  for (int g = 0; g < label_kind_count; ++g)
    report.labels[g] = gp.num_labels(static_cast<LabelKind>(g));
  report.factor_bytes = gp.memory_bytes();
  report.seconds_total = seconds_since(start);
}

// Logs about ten progress lines per phase.
class PhaseLog {
 public:
  PhaseLog(const char* phase, int total) : phase_(phase), total_(total), start_(Clock::now()) {}
  void step(int done) {
    const int every = std::max(1, total_ / 10);
    if (done % every == 0 || done == total_)
      logger().info("{}: {}/{} frames ({:.0f}%), {:.1f} s", phase_, done, total_,
                    100.0 * done / std::max(total_, 1), seconds_since(start_));
  }

 private:
  const char* phase_;
  int total_;
  Clock::time_point start_;
};

// Negative log likelihood (up to constants) of the error components with
// variance (a u)² + (g v)² + b² + (c |F|)², θ = log(a, b[, c][, g]).
struct CalibrationObjective {
  const ForceErrorSample* sample;
  bool relative;   // c free (θ[2]); otherwise c = 0
  bool neighbour;  // g free (the last θ); otherwise g = 0
  ForceStdTerms terms(const double* theta) const {
    return {std::exp(theta[0]), std::exp(theta[1]), relative ? std::exp(theta[2]) : 0.0,
            neighbour ? std::exp(theta[relative ? 3 : 2]) : 0.0};
  }
};

double calibration_nll(unsigned, const double* theta, double*, void* data) {
  const auto& objective = *static_cast<CalibrationObjective*>(data);
  const ForceErrorSample& s = *objective.sample;
  const ForceStdTerms t = objective.terms(theta);
  double sum = 0.0;
  for (std::size_t i = 0; i < s.energy_std.size(); ++i) {
    const double v = objective.neighbour ? s.neighbour_std[i] : 0.0;
    const double sigma = t.force_std(s.energy_std[i], v, s.force_norm[i]);
    const double variance = sigma * sigma;
    sum += 3.0 * std::log(variance) + s.error[i].squaredNorm() / variance;
  }
  return sum;
}

}  // namespace

ForceErrorSample force_error_sample(const SparseGp& gp, const std::vector<Structure>& frames,
                                    double novelty_margin) {
  ForceErrorSample sample;
  for (const Structure& frame : frames)
    if (frame.forces) add_force_errors(sample, gp, frame, gp.describe(frame, true), novelty_margin);
  return sample;
}

void add_force_errors(ForceErrorSample& sample, const SparseGp& gp, const Structure& frame,
                      const DescriptorValues& values, double novelty_margin,
                      const Eigen::VectorXd* given_std) {
  if (!frame.forces) return;
  if (given_std && given_std->size() != frame.size())
    throw Error("force errors: " + std::to_string(given_std->size()) +
                " energy stds for a frame of " + std::to_string(frame.size()) + " atoms");
  const double sigma = gp.hyperparameters().signal_std;
  const GpPrediction prediction = gp.predict(frame, values, !given_std);
  Eigen::VectorXd energy_std(frame.size());
  if (given_std) {
    energy_std = *given_std;
  } else {
    const Eigen::VectorXd novel = gp.novel_atoms(values, novelty_margin);
    for (int i = 0; i < frame.size(); ++i)
      energy_std[i] =
          sigma * (novel[i] > 0 ? std::max(prediction.atom_std[i], 1.0) : prediction.atom_std[i]);
  }
  const Eigen::VectorXd neighbour_std = neighbour_energy_std(values, energy_std, gp.descriptor());
  for (int i = 0; i < frame.size(); ++i) {
    sample.energy_std.push_back(energy_std[i]);
    sample.neighbour_std.push_back(neighbour_std[i]);
    sample.force_norm.push_back(prediction.forces.row(i).norm());
    sample.error.push_back((prediction.forces.row(i) - frame.forces->row(i)).transpose());
    sample.species.push_back(values.species[i]);
  }
}

Eigen::VectorXd neighbour_energy_std(const DescriptorValues& values,
                                     const Eigen::VectorXd& energy_std,
                                     const Descriptor& descriptor) {
  const int natoms = static_cast<int>(values.species.size());
  if (values.offsets.size() != std::size_t(natoms) + 1 || energy_std.size() != natoms)
    throw Error("neighbour energy std: the frame was described without its neighbours");
  Eigen::VectorXd v(natoms);
  for (int i = 0; i < natoms; ++i) {
    double sum = 0.0;
    for (int e = values.offsets[i]; e < values.offsets[i + 1]; ++e) {
      const int j = values.neighbor[e];
      const double rc = descriptor.pair_cutoff(values.species[i], values.species[j]);
      sum += neighbour_std_weight(values.pair_vector.row(e).norm(), rc) * energy_std[j] *
             energy_std[j];
    }
    v[i] = std::sqrt(sum);
  }
  return v;
}

namespace {

// Maximum-likelihood a, b (and c with `relative_term`) for the atoms of `sample`.
ForceStdTerms fit_force_std_terms(const ForceErrorSample& sample, bool relative_term) {
  const std::size_t n = sample.energy_std.size();
  const bool neighbour = relative_term && sample.neighbour_std.size() == n;
  double error2 = 0.0, u2 = 0.0, f2 = 0.0, v2 = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    error2 += sample.error[i].squaredNorm() / 3.0;
    u2 += sample.energy_std[i] * sample.energy_std[i];
    f2 += sample.force_norm[i] * sample.force_norm[i];
    if (neighbour) v2 += sample.neighbour_std[i] * sample.neighbour_std[i];
  }
  const double rms = std::sqrt(error2 / n) + 1e-12;
  // Start: each term explains an equal part of the mean squared error.
  const unsigned dimensions = 2 + relative_term + neighbour;
  const double share = std::sqrt(static_cast<double>(dimensions));
  std::vector<double> theta = {std::log(rms / share / std::sqrt(u2 / n + 1e-300)),
                               std::log(rms / share)};
  if (relative_term) theta.push_back(std::log(rms / share / std::sqrt(f2 / n + 1e-300)));
  if (neighbour) theta.push_back(std::log(rms / share / std::sqrt(v2 / n + 1e-300)));
  for (double& t : theta) t = std::clamp(t, -30.0, 30.0);
  std::vector<double> lower(dimensions, -30.0), upper(dimensions, 30.0);
  CalibrationObjective objective{&sample, relative_term, neighbour};
  nlopt_opt optimizer = nlopt_create(NLOPT_LN_NELDERMEAD, dimensions);
  nlopt_set_lower_bounds(optimizer, lower.data());
  nlopt_set_upper_bounds(optimizer, upper.data());
  nlopt_set_min_objective(optimizer, calibration_nll, &objective);
  nlopt_set_xtol_abs1(optimizer, 1e-6);
  nlopt_set_maxeval(optimizer, 4000);
  double best = 0.0;
  const nlopt_result result = nlopt_optimize(optimizer, theta.data(), &best);
  nlopt_destroy(optimizer);
  if (result < 0 && result != NLOPT_ROUNDOFF_LIMITED)
    throw Error("force-uncertainty calibration: the likelihood fit failed (NLopt code " +
                std::to_string(static_cast<int>(result)) + ")");
  return objective.terms(theta.data());
}

// The atoms of species s in `sample`.
ForceErrorSample species_sample(const ForceErrorSample& sample, int s) {
  ForceErrorSample part;
  for (std::size_t i = 0; i < sample.species.size(); ++i)
    if (sample.species[i] == s) {
      part.energy_std.push_back(sample.energy_std[i]);
      part.force_norm.push_back(sample.force_norm[i]);
      part.error.push_back(sample.error[i]);
      part.species.push_back(s);
      if (sample.neighbour_std.size() == sample.species.size())
        part.neighbour_std.push_back(sample.neighbour_std[i]);
    }
  return part;
}

}  // namespace

ForceUncertaintyCalibration fit_force_uncertainty(const ForceErrorSample& sample, int frames,
                                                  bool relative_term) {
  const std::size_t n = sample.energy_std.size();
  if (n < 10) throw Error("force-uncertainty calibration needs at least 10 atoms with forces");
  ForceUncertaintyCalibration c;
  c.pooled = fit_force_std_terms(sample, relative_term);
  c.frames = frames;
  c.atoms = static_cast<int>(n);
  const bool by_species = relative_term && sample.species.size() == n && n > 0 &&
                          *std::min_element(sample.species.begin(), sample.species.end()) !=
                              *std::max_element(sample.species.begin(), sample.species.end());
  if (by_species) {
    c.species.assign(*std::max_element(sample.species.begin(), sample.species.end()) + 1, c.pooled);
    for (std::size_t s = 0; s < c.species.size(); ++s) {
      const ForceErrorSample part = species_sample(sample, static_cast<int>(s));
      if (static_cast<int>(part.energy_std.size()) >=
          ForceUncertaintyCalibration::min_species_atoms)
        c.species[s] = fit_force_std_terms(part, true);
    }
  }
  std::vector<double> std_values(n), error_norms(n);
  int within_1 = 0, within_2 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const int s = by_species ? sample.species[i] : -1;
    const double v = sample.neighbour_std.size() == n ? sample.neighbour_std[i] : 0.0;
    std_values[i] = c.force_std(sample.energy_std[i], v, sample.force_norm[i], s);
    error_norms[i] = sample.error[i].norm();
    for (int d = 0; d < 3; ++d) {
      const double z = std::abs(sample.error[i][d]) / std_values[i];
      within_1 += z <= 1.0;
      within_2 += z <= 2.0;
    }
  }
  c.coverage_1 = within_1 / (3.0 * n);
  c.coverage_2 = within_2 / (3.0 * n);
  c.spearman = spearman_correlation(std_values, error_norms);
  return c;
}

nlohmann::json calibration_summary(const ForceUncertaintyCalibration& c,
                                   const std::string& scale_key, const std::vector<int>& elements) {
  const auto terms = [&](const ForceStdTerms& t) {
    return nlohmann::json{{scale_key, t.energy_scale},
                          {"neighbour_" + scale_key, t.neighbour_scale},
                          {"floor_ev_per_a", t.floor},
                          {"relative", t.relative}};
  };
  nlohmann::json summary = terms(c.pooled);
  summary.update({{"frames", c.frames},
                  {"atoms", c.atoms},
                  {"coverage_1sigma", c.coverage_1},
                  {"coverage_2sigma", c.coverage_2},
                  {"spearman", c.spearman}});
  if (!c.species.empty()) {
    nlohmann::json& species = summary["species"] = nlohmann::json::object();
    for (std::size_t s = 0; s < c.species.size() && s < elements.size(); ++s)
      species[element(elements[s]).symbol] = terms(c.species[s]);
  }
  return summary;
}

std::vector<int> add_frame_with_sparse_selection(SparseGp& gp, const Structure& frame,
                                                 const SparseSelection& selection,
                                                 std::mt19937_64& rng, const LabelSelection& labels,
                                                 double min_residual) {
  const DescriptorValues values = gp.describe(frame, true);
  const Eigen::VectorXd uncertainty =
      needs_uncertainty(selection.method) ? gp.atom_std(values) : Eigen::VectorXd();
  const std::vector<int> atoms = select_sparse_atoms(selection, frame.size(), uncertainty, rng);
  // Columns first: the new frame's rows then come in with every column at once.
  gp.add_sparse_atoms(values, gp.num_frames(), atoms, min_residual);
  gp.add_frame(frame, values, labels);
  return atoms;
}

void check_training_frames(const std::vector<Structure>& frames) {
  // Bad labels or a broken frame end here, named, not deep in the factorisation.
  for (std::size_t f = 0; f < frames.size(); ++f) try {
      frames[f].validate();
      check_no_coincident_atoms(frames[f]);
    } catch (const Error& error) {
      throw Error("frame " + std::to_string(f + 1) + " (" + frames[f].formula() +
                  "): " + error.what());
    }
}

namespace {

void stop_if_interrupted(std::size_t done, std::size_t total) {
  if (interrupt_requested())
    throw InterruptedError(interrupt_signal(), "stopped after " + std::to_string(done) + " of " +
                                                   std::to_string(total) + " frames");
}

// The sparse set chosen by uncertainty as each frame joins, as on the fly.
void train_frame_by_frame(SparseGp& gp, const std::vector<Structure>& frames,
                          const GpTrainingSettings& settings, std::mt19937_64& rng) {
  PhaseLog progress("training (sparse set chosen by uncertainty, frame by frame)",
                    static_cast<int>(frames.size()));
  for (std::size_t f = 0; f < frames.size(); ++f) {
    add_frame_with_sparse_selection(gp, frames[f], settings.sparse, rng, settings.labels,
                                    settings.min_residual);
    progress.step(static_cast<int>(f) + 1);
    stop_if_interrupted(f + 1, frames.size());
  }
}

// Frame by frame, each frame's least represented atoms join the sparse set at
// once (descriptors only, no labels yet); returns how many joined.
int add_sparse_greedily(SparseGp& gp, const std::vector<Structure>& frames,
                        const SparseSelection& selection, double min_residual) {
  const bool threshold = selection.method == SparseSelectionMethod::threshold;
  int added = 0;
  for (std::size_t f = 0; f < frames.size(); ++f) {
    stop_point("the choice of the sparse set");
    const DescriptorValues values = gp.describe(frames[f], false);
    const std::vector<int> atoms =
        gp.least_represented_atoms(values, selection.count, threshold ? selection.threshold : 0.0);
    added += gp.add_sparse_atoms(values, static_cast<int>(f), atoms, min_residual);
  }
  return added;
}

// The (frame, atom) candidates of a sparse set chosen without the model, in
// frame order: `total` at random over every atom, or frame by frame.
std::vector<std::pair<int, int>> sparse_candidates(const std::vector<Structure>& frames,
                                                   const SparseSelection& selection,
                                                   std::mt19937_64& rng) {
  std::vector<std::pair<int, int>> chosen;
  if (selection.method == SparseSelectionMethod::random && selection.total > 0) {
    for (std::size_t f = 0; f < frames.size(); ++f)
      for (int i = 0; i < frames[f].size(); ++i) chosen.emplace_back(static_cast<int>(f), i);
    std::shuffle(chosen.begin(), chosen.end(), rng);
    chosen.resize(std::min<std::size_t>(chosen.size(), selection.total));
    std::sort(chosen.begin(), chosen.end());
  } else {
    for (std::size_t f = 0; f < frames.size(); ++f)
      for (int atom : select_sparse_atoms(selection, frames[f].size(), Eigen::VectorXd(), rng))
        chosen.emplace_back(static_cast<int>(f), atom);
  }
  return chosen;
}

// Adds the candidates `chosen` (sorted by frame) to the sparse set, describing
// each of their frames once; returns how many joined (near-duplicates do not).
int add_sparse_candidates(SparseGp& gp, const std::vector<Structure>& frames,
                          const std::vector<std::pair<int, int>>& chosen, double min_residual) {
  Eigen::MatrixXd rows(chosen.size(), gp.descriptor().size());
  std::vector<int> sparse_species(chosen.size());
  std::vector<SparseEnvironmentSource> sources(chosen.size());
  std::size_t next = 0;
  for (std::size_t f = 0; f < frames.size() && next < chosen.size(); ++f) {
    if (chosen[next].first != static_cast<int>(f)) continue;
    stop_point("the descriptors of the sparse set");
    const DescriptorValues values = gp.describe(frames[f], false);
    for (; next < chosen.size() && chosen[next].first == static_cast<int>(f); ++next) {
      rows.row(next) = values.values.row(chosen[next].second);
      sparse_species[next] = values.species[chosen[next].second];
      sources[next] = {chosen[next].first, chosen[next].second};
    }
  }
  return gp.add_sparse_environments(rows, sparse_species, sources, min_residual);
}

// Sparse set first (descriptors only), then one pass of label rows.
void train_sparse_set_first(SparseGp& gp, const std::vector<Structure>& frames,
                            const GpTrainingSettings& settings, std::mt19937_64& rng,
                            GpTrainingReport& report) {
  const auto sparse_start = Clock::now();
  if (needs_uncertainty(settings.sparse.method)) {
    const int added = add_sparse_greedily(gp, frames, settings.sparse, settings.min_residual);
    report.seconds_sparse = seconds_since(sparse_start);
    logger().info("sparse set: {} environments chosen greedily frame by frame ({}), {:.1f} s",
                  added, sparse_selection_method_name(settings.sparse.method),
                  report.seconds_sparse);
  } else {
    const std::vector<std::pair<int, int>> chosen = sparse_candidates(frames, settings.sparse, rng);
    const int added = add_sparse_candidates(gp, frames, chosen, settings.min_residual);
    report.seconds_sparse = seconds_since(sparse_start);
    logger().info(
        "sparse set: {} environments ({} candidates, {} near-duplicates skipped), {:.1f} s", added,
        chosen.size(), chosen.size() - added, report.seconds_sparse);
  }
  const auto frames_start = Clock::now();
  PhaseLog progress("training", static_cast<int>(frames.size()));
  for (std::size_t f = 0; f < frames.size(); ++f) {
    gp.add_frame(frames[f], settings.labels);
    progress.step(static_cast<int>(f) + 1);
    stop_if_interrupted(f + 1, frames.size());
  }
  report.seconds_frames = seconds_since(frames_start);
}

SparseGp train_core(std::shared_ptr<const Descriptor> descriptor,
                    std::shared_ptr<const Kernel> kernel, const std::vector<Structure>& frames,
                    const GpTrainingSettings& settings, GpTrainingReport* report_out) {
  const auto start = Clock::now();
  if (frames.empty()) throw Error("no training frames");
  check_training_frames(frames);
  GpTrainingReport report;
  const std::vector<int>& species = descriptor->species();
  report.reference_energies = settings.reference_energies ? *settings.reference_energies
                                                          : fit_reference_energies(frames, species);
  if (report.reference_energies.size() != static_cast<Eigen::Index>(species.size()))
    throw Error("reference energies: one value per species expected");
  SparseGp gp(descriptor, kernel, settings.hyperparameters, report.reference_energies);
  std::mt19937_64 rng(settings.sparse.seed);

  if (needs_uncertainty(settings.sparse.method) && settings.replay) {
    train_frame_by_frame(gp, frames, settings, rng);
    report.seconds_frames = seconds_since(start);
  } else {
    train_sparse_set_first(gp, frames, settings, rng, report);
  }

  if (settings.optimize_hyperparameters) {
    const auto h_start = Clock::now();
    report.hyperparameters = optimize_hyperparameters(gp, settings.optimization);
    report.seconds_hyperparameters = seconds_since(h_start);
  }
  gp.alpha();  // solve now, so that the timing below includes it
  record_model(gp, start, report);
  logger().info(
      "trained on {} frames: {} energy, {} force and {} stress labels, {} sparse environments, "
      "{:.1f} s",
      report.frames, report.labels[0], report.labels[1], report.labels[2], report.sparse,
      report.seconds_total);
  if (report_out) *report_out = report;
  return gp;
}

// A warning per species whose sparse set is empty, or small for the descriptor: the
// mean is a quadratic form of rank ≤ M_s in d̂ (D × D), and on the CuNi alloy of
// docs/BENCHMARKS.md 200 → 750 environments per species (D = 680) cut the
// held-out force error from 15 % to 9 % of the force RMS.
// Also per species whose training atoms are mostly without a neighbour within
// the cutoff: the descriptor sees nothing of them (a 1 Å cutoff on CuNi gave a
// model with zero forces and zero uncertainty everywhere).
// "4.5 Å" and, where they differ, species s's pair cutoffs ("; Si-Si 0.3 Å").
std::string cutoffs_of(const Descriptor& descriptor, int s) {
  std::string text = fmt::format("{:g} Å", descriptor.cutoff());
  for (int b = 0; b < static_cast<int>(descriptor.species().size()); ++b)
    if (descriptor.pair_cutoff(s, b) != descriptor.cutoff())
      text += fmt::format("; {}-{} {:g} Å", element(descriptor.species()[s]).symbol,
                          element(descriptor.species()[b]).symbol, descriptor.pair_cutoff(s, b));
  return text;
}

void warn_small_sparse_set(const SparseGp& gp, const std::vector<Structure>& frames) {
  std::vector<int> count(gp.num_species(), 0);
  for (int s : gp.sparse_species()) ++count[s];
  std::vector<double> atoms(gp.num_species(), 0.0);
  for (const Structure& frame : frames)
    for (int z : frame.numbers) {
      const auto& species = gp.descriptor().species();
      const auto found = std::find(species.begin(), species.end(), z);
      if (found != species.end()) atoms[found - species.begin()] += 1;
    }
  const int size = gp.descriptor().size();
  for (int s = 0; s < gp.num_species(); ++s) {
    const char* symbol = element(gp.descriptor().species()[s]).symbol;
    const double isolated = s < gp.isolated_atoms().size() ? gp.isolated_atoms()[s] : 0.0;
    if (atoms[s] > 0 && isolated > 0.5 * atoms[s])
      logger().warn(
          "{:.0f} of the {:.0f} {} atoms of the training frames have no neighbour within the "
          "descriptor's cutoffs ({}): the model sees nothing of them (no forces, no "
          "uncertainty); raise descriptor.cutoff, or its pair_cutoffs entries, past the "
          "nearest-neighbour distance",
          isolated, atoms[s], symbol, cutoffs_of(gp.descriptor(), s));
    else if (count[s] == 0)
      logger().warn(
          "sparse set: no environment of {0} (no {0} atom in the training frames?): the model "
          "knows nothing of it, and its reference energy is not fitted but the minimum-norm "
          "choice (0 eV unless given); list only species the data hold",
          symbol);
    else if (2 * count[s] < size)
      logger().warn(
          "sparse set: {} environments of {} for a descriptor of size {}; fewer than D/2 "
          "underfit in our measurements (docs/BENCHMARKS.md, issue 9): raise sparse.count or "
          "lower n_max/l_max",
          count[s], symbol, size);
  }
}

SparseGp train_calibrated(std::shared_ptr<const Descriptor> descriptor,
                          std::shared_ptr<const Kernel> kernel,
                          const std::vector<Structure>& frames, const GpTrainingSettings& settings,
                          GpTrainingReport* report_out);

}  // namespace

SparseGp train_sparse_gp(std::shared_ptr<const Descriptor> descriptor,
                         std::shared_ptr<const Kernel> kernel, const std::vector<Structure>& frames,
                         const GpTrainingSettings& settings, GpTrainingReport* report_out) {
  SparseGp gp =
      train_calibrated(std::move(descriptor), std::move(kernel), frames, settings, report_out);
  // A descriptor that sees no atom's neighbours makes a model of nothing.
  double isolated = 0.0, atoms = 0.0;
  for (double n : gp.isolated_atoms()) isolated += n;
  for (const Structure& frame : frames) atoms += static_cast<double>(frame.size());
  if (atoms > static_cast<double>(frames.size()) && isolated >= atoms)
    throw Error(fmt::format(
        "none of the {:.0f} atoms of the training frames has a neighbour within the "
        "descriptor's cutoffs ({}): the model would see no environment at all; the cutoffs are "
        "in Å and should reach past the nearest neighbours (typically 4-6 Å)",
        atoms, cutoffs_of(gp.descriptor(), 0)));
  warn_small_sparse_set(gp, frames);
  return gp;
}

namespace {

// The fitted force-std terms, pooled and per species, with their coverage.
void log_calibration(const ForceUncertaintyCalibration& calibration,
                     const std::vector<int>& species) {
  const auto formula = [](const ForceStdTerms& t) {
    return fmt::format("sqrt(({:.4g}/Å · u)² + ({:.4g}/Å · v)² + {:.4g}² + ({:.4g} |F|)²) eV/Å",
                       t.energy_scale, t.neighbour_scale, t.floor, t.relative);
  };
  logger().info(
      "calibration on {} held-out frames ({} atoms): force std = {} (u: the atom's energy "
      "std, v: its neighbours'){}; coverage {:.3f} (1σ), {:.3f} (2σ); Spearman(σ_F, |ΔF|) "
      "{:.3f}",
      calibration.frames, calibration.atoms, formula(calibration.pooled),
      calibration.species.empty() ? "" : " for a species without terms of its own",
      calibration.coverage_1, calibration.coverage_2, calibration.spearman);
  for (std::size_t s = 0; s < calibration.species.size(); ++s)
    logger().info("calibration of {}: force std = {}", element(species[s]).symbol,
                  formula(calibration.species[s]));
}

SparseGp train_calibrated(std::shared_ptr<const Descriptor> descriptor,
                          std::shared_ptr<const Kernel> kernel,
                          const std::vector<Structure>& frames, const GpTrainingSettings& settings,
                          GpTrainingReport* report_out) {
  const double fraction = settings.calibration_holdout;
  if (!(fraction > 0.0)) return train_core(descriptor, kernel, frames, settings, report_out);
  if (fraction >= 0.5) throw Error("calibration holdout must be below 0.5");
  const int every = std::max(2, static_cast<int>(std::lround(1.0 / fraction)));
  if (frames.size() < 5 || static_cast<int>(frames.size()) < every) {
    logger().warn(
        "calibration: {} frames are too few to hold some out; the model is not "
        "calibrated (force std not available)",
        frames.size());
    return train_core(descriptor, kernel, frames, settings, report_out);
  }
  const auto start = Clock::now();
  std::vector<Structure> kept, held;
  for (std::size_t f = 0; f < frames.size(); ++f)
    (static_cast<int>(f % every) == every - 1 ? held : kept).push_back(frames[f]);
  GpTrainingSettings first = settings;
  // The reference energies of all frames, so that adding the held-out ones keeps them.
  if (!first.reference_energies)
    first.reference_energies = fit_reference_energies(frames, descriptor->species());
  GpTrainingReport report;
  SparseGp gp = train_core(descriptor, kernel, kept, first, &report);
  const ForceErrorSample sample = force_error_sample(gp, held);
  ForceUncertaintyCalibration calibration;
  if (sample.energy_std.size() >= 10) {
    calibration = fit_force_uncertainty(sample, static_cast<int>(held.size()));
    log_calibration(calibration, descriptor->species());
  } else {
    logger().warn("calibration: the held-out frames carry too few forces; not calibrated");
  }
  // The held-out frames join: their atoms chosen as offline (least represented by the sparse
  // set for uncertain/threshold, else random/all), added as columns in one step (one pass
  // over the stored frames, whose descriptors that recomputes), then their label rows.
  std::mt19937_64 rng(settings.sparse.seed + 1);
  std::vector<Eigen::RowVectorXd> rows;
  std::vector<int> new_species;
  std::vector<SparseEnvironmentSource> sources;
  const bool threshold = settings.sparse.method == SparseSelectionMethod::threshold;
  for (std::size_t h = 0; h < held.size(); ++h) {
    const DescriptorValues values = gp.describe(held[h], false);
    const std::vector<int> atoms =
        needs_uncertainty(settings.sparse.method)
            ? gp.least_represented_atoms(values, settings.sparse.count,
                                         threshold ? settings.sparse.threshold : 0.0)
            : select_sparse_atoms(settings.sparse, held[h].size(), Eigen::VectorXd(), rng);
    for (int atom : atoms) {
      rows.push_back(values.values.row(atom));
      new_species.push_back(values.species[atom]);
      sources.push_back({gp.num_frames() + static_cast<int>(h), atom});
    }
  }
  Eigen::MatrixXd block(rows.size(), descriptor->size());
  for (std::size_t r = 0; r < rows.size(); ++r) block.row(r) = rows[r];
  gp.add_sparse_environments(block, new_species, sources, settings.min_residual);
  for (const Structure& frame : held) gp.add_frame(frame, settings.labels);
  if (settings.optimize_hyperparameters) {
    const auto h_start = Clock::now();
    report.hyperparameters = optimize_hyperparameters(gp, settings.optimization);
    report.seconds_hyperparameters += seconds_since(h_start);
  }
  gp.set_force_calibration(calibration);
  gp.alpha();
  report.calibration = calibration;
  record_model(gp, start, report);
  logger().info("with the {} calibration frames: {} frames, {} sparse environments, {:.1f} s",
                held.size(), report.frames, report.sparse, report.seconds_total);
  if (report_out) *report_out = report;
  return gp;
}

}  // namespace

}  // namespace otfgp
