#include "otfgp/gp/hyperparameter_optimizer.hpp"

#include <fmt/format.h>
#include <nlopt.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <vector>

#include "otfgp/core/error.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/log.hpp"

namespace otfgp {

namespace {

std::array<double, 4> as_array(const GpHyperparameters& h) {
  return {h.signal_std, h.energy_noise, h.force_noise, h.stress_noise};
}

GpHyperparameters from_array(const std::array<double, 4>& a) {
  return {a[0], a[1], a[2], a[3]};
}

constexpr const char* parameter_names[4] = {"signal_std", "energy_noise", "force_noise",
                                            "stress_noise"};

struct Objective {
  const SparseGp* gp;
  std::array<double, 4> fixed;  // full parameter vector; free entries overwritten
  std::vector<int> free;        // indices into the 4 parameters
  int evaluations = 0;
  double best_value = -std::numeric_limits<double>::infinity();
  std::array<double, 4> best{};
  bool failed = false;
  std::string failure;
  int interrupted = 0;  // the signal that stopped an evaluation (core/interrupt.hpp)
  nlopt_opt optimizer = nullptr;
};

double objective(unsigned n, const double* x, double* gradient, void* data) {
  auto& o = *static_cast<Objective*>(data);
  std::array<double, 4> values = o.fixed;
  for (unsigned k = 0; k < n; ++k) values[o.free[k]] = std::exp(x[k]);
  // A signal in otfgp train (an InterruptibleSection) ends the search at once
  // with the best point so far, which the caller keeps and reports. otf and
  // search finish it and stop at their own points: a half-optimised model in
  // their checkpoint would make the resumed run differ from an uninterrupted one.
  if (stop_point_reached() && o.best_value > -std::numeric_limits<double>::infinity()) {
    o.interrupted = interrupt_signal();
    nlopt_force_stop(o.optimizer);
    return o.best_value;
  }
  ++o.evaluations;
  try {
    const LikelihoodTerms terms = o.gp->log_marginal_likelihood(from_array(values));
    if (!std::isfinite(terms.value)) throw std::runtime_error("non-finite likelihood");
    if (gradient)
      for (unsigned k = 0; k < n; ++k) gradient[k] = terms.gradient[o.free[k]];
    logger().debug(
        "hyperparameters σ={:.6g} σ_e={:.6g} σ_f={:.6g} σ_s={:.6g}: log likelihood {:.10g}",
        values[0], values[1], values[2], values[3], terms.value);
    if (terms.value > o.best_value) {
      o.best_value = terms.value;
      o.best = values;
    }
    return terms.value;
  } catch (const InterruptedError& error) {
    // Stopped inside an evaluation (otfgp train): end with the best point so far.
    o.interrupted = error.signal();
    nlopt_force_stop(o.optimizer);
    return -std::numeric_limits<double>::max();
  } catch (const std::exception& error) {
    // NLopt is C: nothing may be thrown through it.
    o.failed = true;
    o.failure = error.what();
    return -std::numeric_limits<double>::max();
  }
}

std::string describe(nlopt_result result) {
  switch (result) {
    case NLOPT_SUCCESS:
      return "converged";
    case NLOPT_STOPVAL_REACHED:
      return "reached the stop value";
    case NLOPT_FTOL_REACHED:
      return "converged (relative change of the likelihood)";
    case NLOPT_XTOL_REACHED:
      return "converged (relative change of the parameters)";
    case NLOPT_MAXEVAL_REACHED:
      return "stopped at the evaluation limit";
    case NLOPT_MAXTIME_REACHED:
      return "stopped at the time limit";
    case NLOPT_FAILURE:
      // L-BFGS gives up this way when its line search makes no progress,
      // typically near an optimum; the best point seen is kept all the same.
      return "stopped by the optimiser (L-BFGS could make no further progress)";
    case NLOPT_INVALID_ARGS:
      return "invalid arguments";
    case NLOPT_OUT_OF_MEMORY:
      return "out of memory";
    case NLOPT_ROUNDOFF_LIMITED:
      return "stopped by round-off (no further progress possible)";
    case NLOPT_FORCED_STOP:
      return "stopped";
    default:
      return "NLopt result " + std::to_string(static_cast<int>(result));
  }
}

// The parameters the search moves (indices into as_array): σ when there is a
// sparse set, each noise when there are labels of its kind.
std::vector<int> free_parameters(const SparseGp& gp, const HyperparameterOptimization& settings) {
  std::vector<int> free;
  const LabelKind kinds[3] = {LabelKind::energy, LabelKind::force, LabelKind::stress};
  if (settings.optimize_signal && gp.num_sparse() > 0) free.push_back(0);
  if (settings.optimize_noises)
    for (int g = 0; g < 3; ++g)
      if (gp.num_labels(kinds[g]) > 0) free.push_back(1 + g);
  return free;
}

// L-BFGS over the logarithms of the free parameters within the bounds, from
// the current values clamped into them; `o` keeps the best point seen.
nlopt_result maximise_likelihood(Objective& o, const std::array<double, 4>& lower,
                                 const std::array<double, 4>& upper,
                                 const HyperparameterOptimization& settings) {
  std::vector<double> x, lo, hi;
  for (int k : o.free) {
    lo.push_back(std::log(lower[k]));
    hi.push_back(std::log(upper[k]));
    // Start inside the box.
    x.push_back(std::clamp(std::log(o.fixed[k]), lo.back(), hi.back()));
  }
  nlopt_opt optimizer = nlopt_create(NLOPT_LD_LBFGS, static_cast<unsigned>(o.free.size()));
  nlopt_set_lower_bounds(optimizer, lo.data());
  nlopt_set_upper_bounds(optimizer, hi.data());
  o.optimizer = optimizer;
  nlopt_set_max_objective(optimizer, objective, &o);
  nlopt_set_maxeval(optimizer, settings.max_evaluations);
  nlopt_set_xtol_rel(optimizer, settings.relative_tolerance);
  nlopt_set_ftol_rel(optimizer, 1e-12);
  double value = 0.0;
  const nlopt_result result = nlopt_optimize(optimizer, x.data(), &value);
  nlopt_destroy(optimizer);
  return result;
}

void log_report(const HyperparameterReport& report, const std::vector<int>& free_parameters,
                const std::array<double, 4>& lower, const std::array<double, 4>& upper) {
  const auto s = as_array(report.start), e = as_array(report.end);
  logger().info("hyperparameters: {} after {} likelihood evaluations in {:.2f} s", report.result,
                report.evaluations, report.seconds);
  const bool improved = report.end_likelihood > report.start_likelihood;
  logger().info("  log likelihood {} from {:.8g} to {:.8g}{}",
                improved ? "improved" : "did not improve", report.start_likelihood,
                report.end_likelihood, improved ? "; the best values found are used" : "");
  for (int k = 0; k < 4; ++k) {
    const bool free =
        std::find(free_parameters.begin(), free_parameters.end(), k) != free_parameters.end();
    const bool at_bound = free && (std::abs(std::log(e[k] / lower[k])) < 1e-6 ||
                                   std::abs(std::log(e[k] / upper[k])) < 1e-6);
    logger().info("  {:13s} {:.6g} -> {:.6g}{}", parameter_names[k], s[k], e[k],
                  !free ? " (fixed)" : (at_bound ? " (at its bound)" : ""));
  }
  const bool signal_free =
      std::find(free_parameters.begin(), free_parameters.end(), 0) != free_parameters.end();
  if (signal_free && std::abs(std::log(e[0] / upper[0])) < 1e-6)
    logger().info(
        "  signal_std stops at its upper bound, {:g} eV: a larger prior std of the local "
        "energies would fit these labels a little closer and extrapolate much worse "
        "(docs/gp.md, \"Hyperparameters\"); hyperparameters.upper.signal_std raises it",
        upper[0]);
}

}  // namespace

HyperparameterReport optimize_hyperparameters(SparseGp& gp,
                                              const HyperparameterOptimization& settings) {
  const auto clock_start = std::chrono::steady_clock::now();
  const auto lower = as_array(settings.lower), upper = as_array(settings.upper);
  for (int k = 0; k < 4; ++k)
    if (!(lower[k] > 0) || !(upper[k] >= lower[k]) || !std::isfinite(upper[k]))
      throw Error(fmt::format(
          "hyperparameter bounds for {} must satisfy 0 < lower ≤ upper < ∞, not lower {:g}, upper "
          "{:g} (the defaults: lower {:g}, upper {:g}; set both in hyperparameters.lower and "
          "hyperparameters.upper)",
          parameter_names[k], lower[k], upper[k], as_array(HyperparameterOptimization{}.lower)[k],
          as_array(HyperparameterOptimization{}.upper)[k]));

  HyperparameterReport report;
  report.start = gp.hyperparameters();
  report.start_likelihood = gp.log_marginal_likelihood().value;

  Objective o;
  o.gp = &gp;
  o.fixed = as_array(report.start);
  o.free = free_parameters(gp, settings);
  if (o.free.empty()) {
    report.end = report.start;
    report.end_likelihood = report.start_likelihood;
    report.result = "nothing to optimise";
    report.success = true;
    return report;
  }
  const nlopt_result result = maximise_likelihood(o, lower, upper, settings);

  report.evaluations = o.evaluations;
  report.result = o.interrupted ? std::string("stopped by a signal, at the best point so far")
                                : describe(result);
  if (o.failed) report.result += " (an evaluation failed: " + o.failure + ")";
  // The best point seen (always inside the bounds; NLopt evaluates the
  // clamped start first), whatever NLopt's verdict: it may stop on round-off
  // after improving.
  if (o.best_value > -std::numeric_limits<double>::infinity()) {
    report.end = from_array(o.best);
    report.end_likelihood = o.best_value;
  } else if (o.interrupted) {
    throw InterruptedError(o.interrupted, "stopped during the first likelihood evaluation");
  } else {
    throw Error("hyperparameter optimisation: no likelihood could be evaluated (" + o.failure +
                ")");
  }
  report.success = result > 0 || result == NLOPT_ROUNDOFF_LIMITED;
  gp.set_hyperparameters(report.end);
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - clock_start).count();
  log_report(report, o.free, lower, upper);
  return report;
}

TwoStartHyperparameterReport optimize_hyperparameters_two_starts(
    SparseGp& gp, const GpHyperparameters& configured_start,
    const HyperparameterOptimization& settings) {
  // The likelihood has more than one optimum. One fitted to the first few
  // frames (a handful of energies: the energy noise is not identified and may
  // sit at its bound) is a poor start once the model holds more frames, and a
  // search started there stays in its basin: measured on the OTF quickstart
  // started from a displaced lattice, the loop ended at σ 1.6–1.8 eV with
  // σ_e at its 1e-6 bound where `otfgp train` on the same frames finds σ 3.8
  // eV, σ_e 6e-4, and a 3–5 % smaller held-out force error (docs/otf.md). So
  // the search also starts from the configured values, as `otfgp train` does,
  // and the higher likelihood wins.
  TwoStartHyperparameterReport report;
  report.from_current = optimize_hyperparameters(gp, settings);
  const HyperparameterReport& warm = report.from_current;
  const GpHyperparameters& from = warm.start;
  if (from.signal_std == configured_start.signal_std &&
      from.energy_noise == configured_start.energy_noise &&
      from.force_noise == configured_start.force_noise &&
      from.stress_noise == configured_start.stress_noise)
    return report;
  gp.set_hyperparameters(configured_start);
  report.from_configured = optimize_hyperparameters(gp, settings);
  const HyperparameterReport& cold = *report.from_configured;
  report.configured_won =
      std::isfinite(cold.end_likelihood) &&
      !(std::isfinite(warm.end_likelihood) && cold.end_likelihood <= warm.end_likelihood);
  if (!report.configured_won) gp.set_hyperparameters(warm.end);
  logger().info(
      "hyperparameters: log likelihood {:.6g} from the current values, {:.6g} from the configured "
      "start; kept the {}",
      warm.end_likelihood, cold.end_likelihood,
      report.configured_won ? "configured start's" : "current's");
  return report;
}

}  // namespace otfgp
