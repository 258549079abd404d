#pragma once
// Hyperparameters of the sparse GP (σ, σ_e, σ_f, σ_s) by maximising the log
// marginal likelihood with its analytic gradient: NLopt's L-BFGS (LD_LBFGS) in
// log space with box bounds, so no value can turn negative or run away. Each
// evaluation costs O(M³) and never touches the labels (SparseGp keeps one
// triangular factor per label kind).

#include <string>

#include "otfgp/gp/sparse_gp.hpp"

namespace otfgp {

struct HyperparameterOptimization {
  int max_evaluations = 200;
  double relative_tolerance = 1e-4;  // on the (log) parameters
  // Box bounds (same units as GpHyperparameters).
  GpHyperparameters lower{1e-3, 1e-6, 1e-4, 1e-6};
  GpHyperparameters upper{1e3, 1.0, 10.0, 1.0};
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

}  // namespace otfgp
