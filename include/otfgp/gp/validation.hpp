#pragma once
// How well a potential reproduces labelled frames it was not trained on:
// mean absolute errors of energies (per atom), force components and stress
// components, overall and per composition, and — for potentials with an
// uncertainty — the Spearman rank correlation between each atom's predicted
// standard deviation and its force error |F_pred − F_ref|.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "otfgp/core/structure.hpp"
#include "otfgp/potentials/potential.hpp"

namespace otfgp {

struct ErrorSummary {
  int frames = 0;
  int atoms = 0;
  std::optional<double> energy_mae;            // eV/atom
  std::optional<double> force_mae;             // eV/Å per component
  std::optional<double> force_rmse;            // eV/Å per component
  std::optional<double> stress_mae;            // eV/Å³ per component
  std::optional<double> uncertainty_spearman;  // per-atom std vs per-atom force error
  // With a calibrated force std (eV/Å): fraction of force components whose error
  // lies within 1σ and 2σ, and Spearman(σ_F, |ΔF|) per atom.
  std::optional<double> force_std_coverage_1;
  std::optional<double> force_std_coverage_2;
  std::optional<double> force_std_spearman;
  std::optional<double> force_std_mean;  // eV/Å
};

struct ValidationReport {
  ErrorSummary total;
  std::map<std::string, ErrorSummary> by_composition;  // key: reduced formula, e.g. "BaO3Rh"
  double seconds = 0.0;
};

ValidationReport validate_potential(Potential& potential, const std::vector<Structure>& frames);

// Spearman's rank correlation (average ranks for ties); NaN for fewer than two points.
double spearman_correlation(const std::vector<double>& x, const std::vector<double>& y);
// Hill formula with the counts divided by their greatest common divisor: Ba2Rh2O6 → "BaO3Rh".
std::string reduced_formula(const Structure& structure);

}  // namespace otfgp
