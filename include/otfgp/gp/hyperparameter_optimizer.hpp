#pragma once
// Hyperparameters of the sparse GP (σ, σ_e, σ_f, σ_s) by maximising the log
// marginal likelihood with its analytic gradient: NLopt's L-BFGS (LD_LBFGS) in
// log space with box bounds, so no value can turn negative or run away. Each
// evaluation costs O(M³) and never touches the labels (SparseGp keeps one
// triangular factor per label kind).

#include <optional>
#include <string>

#include "otfgp/gp/sparse_gp.hpp"

namespace otfgp {

struct HyperparameterOptimization {
  int max_evaluations = 200;
  double relative_tolerance = 1e-4;  // on the (log) parameters
  // Box bounds (same units as GpHyperparameters). σ, the prior std of a local
  // energy about its species' reference, at most 5 eV, the scale of cohesive
  // energies: the likelihood can prefer far more (182 eV on SiC), which fits
  // the training forces a little better and extrapolates far worse
  // (docs/gp.md, "Hyperparameters").
  GpHyperparameters lower{1e-3, 1e-6, 1e-4, 1e-6};
  GpHyperparameters upper{5.0, 1.0, 10.0, 1.0};
  bool optimize_signal = true;
  // A noise whose label kind has no rows does not enter the likelihood and stays where it is.
  bool optimize_noises = true;
};

struct HyperparameterReport {
  GpHyperparameters start, end;
  double start_likelihood = 0.0, end_likelihood = 0.0;
  int evaluations = 0;
  std::string result;  // NLopt's verdict, e.g. "converged (relative change of parameters)"
  bool success = false;
  double seconds = 0.0;
};

// Optimises in place (gp.set_hyperparameters with the best point found) and
// logs what it did. Throws otfgp::Error for inconsistent bounds.
HyperparameterReport optimize_hyperparameters(SparseGp& gp,
                                              const HyperparameterOptimization& settings = {});

// What optimize_hyperparameters_two_starts did: the search from the model's
// current values, the one from the configured start (empty when the current
// values are the configured start, so one search was enough), and which one
// the model kept.
struct TwoStartHyperparameterReport {
  HyperparameterReport from_current;
  std::optional<HyperparameterReport> from_configured;
  bool configured_won = false;
  // The search whose optimum the model holds now.
  const HyperparameterReport& kept() const {
    return configured_won ? *from_configured : from_current;
  }
};

// Maximum likelihood searched from the model's current hyperparameters and
// from `configured_start` (the values training starts from); the model is left
// at the higher finite likelihood of the two optima (the current values' on a
// tie or when neither is finite). The second search is skipped when the
// current values equal `configured_start`. The likelihood has more than one
// optimum, and a search started from values fitted to the first few frames
// stays in their basin (see the definition; docs/otf.md). Logs both
// likelihoods and which start was kept; throws what optimize_hyperparameters
// throws.
TwoStartHyperparameterReport optimize_hyperparameters_two_starts(
    SparseGp& gp, const GpHyperparameters& configured_start,
    const HyperparameterOptimization& settings = {});

}  // namespace otfgp
