#include "otfgp/gp/validation.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include "otfgp/potentials/evaluate.hpp"

namespace otfgp {

namespace {

std::vector<double> ranks(const std::vector<double>& values) {
  std::vector<int> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return values[a] < values[b]; });
  std::vector<double> rank(values.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]]) ++j;
    const double average = 0.5 * (static_cast<double>(i) + static_cast<double>(j));
    for (std::size_t k = i; k <= j; ++k) rank[order[k]] = average;
    i = j + 1;
  }
  return rank;
}

// Running sums for one group of frames.
struct Tally {
  int frames = 0, atoms = 0;
  int energies = 0, force_components = 0, stress_components = 0;
  double energy = 0, force = 0, force_squared = 0, stress = 0;
  std::vector<double> atom_std, atom_force_error;
  std::vector<double> force_std, force_std_error;  // calibrated σ_F per atom, |ΔF| per atom
  int within_1 = 0, within_2 = 0;

  void add(const Structure& reference, const Evaluation& predicted) {
    ++frames;
    atoms += reference.size();
    if (reference.energy) {
      energy += std::abs(predicted.energy - *reference.energy) / reference.size();
      ++energies;
    }
    if (reference.forces) {
      const Positions difference = predicted.forces - *reference.forces;
      force += difference.cwiseAbs().sum();
      force_squared += difference.squaredNorm();
      force_components += 3 * reference.size();
      if (predicted.uncertainty)
        for (int i = 0; i < reference.size(); ++i) {
          atom_std.push_back((*predicted.uncertainty)[i]);
          atom_force_error.push_back(difference.row(i).norm());
        }
      if (predicted.force_uncertainty)
        for (int i = 0; i < reference.size(); ++i) {
          const double sigma = (*predicted.force_uncertainty)[i];
          force_std.push_back(sigma);
          force_std_error.push_back(difference.row(i).norm());
          for (int d = 0; d < 3; ++d) {
            within_1 += std::abs(difference(i, d)) <= sigma;
            within_2 += std::abs(difference(i, d)) <= 2.0 * sigma;
          }
        }
    }
    if (reference.stress && predicted.stress) {
      stress += (*predicted.stress - *reference.stress).cwiseAbs().sum();
      stress_components += 6;
    }
  }

  ErrorSummary summary() const {
    ErrorSummary s;
    s.frames = frames;
    s.atoms = atoms;
    if (energies) s.energy_mae = energy / energies;
    if (force_components) {
      s.force_mae = force / force_components;
      s.force_rmse = std::sqrt(force_squared / force_components);
    }
    if (stress_components) s.stress_mae = stress / stress_components;
    if (atom_std.size() >= 2)
      s.uncertainty_spearman = spearman_correlation(atom_std, atom_force_error);
    if (!force_std.empty()) {
      s.force_std_coverage_1 = within_1 / (3.0 * force_std.size());
      s.force_std_coverage_2 = within_2 / (3.0 * force_std.size());
      double total = 0.0;
      for (double v : force_std) total += v;
      s.force_std_mean = total / force_std.size();
      if (force_std.size() >= 2)
        s.force_std_spearman = spearman_correlation(force_std, force_std_error);
    }
    return s;
  }
};

}  // namespace

double spearman_correlation(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size() || x.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> rx = ranks(x), ry = ranks(y);
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(rx.begin(), rx.end(), 0.0) / n;
  const double my = std::accumulate(ry.begin(), ry.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < rx.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : std::numeric_limits<double>::quiet_NaN();
}

std::string reduced_formula(const Structure& structure) {
  std::map<int, int> counts;
  for (int z : structure.numbers) ++counts[z];
  int divisor = 0;
  for (const auto& [z, n] : counts) divisor = std::gcd(divisor, n);
  Structure reduced;
  for (const auto& [z, n] : counts)
    for (int k = 0; k < n / std::max(divisor, 1); ++k) reduced.numbers.push_back(z);
  return reduced.formula();
}

ValidationReport validate_potential(Potential& potential, const std::vector<Structure>& frames) {
  const auto start = std::chrono::steady_clock::now();
  ComputeRequest request;
  request.uncertainty = potential.provides_uncertainty();
  Tally total;
  std::map<std::string, Tally> by_composition;
  for (const Structure& frame : frames) {
    const Evaluation predicted = evaluate(potential, frame, request);
    total.add(frame, predicted);
    by_composition[reduced_formula(frame)].add(frame, predicted);
  }
  ValidationReport report;
  report.total = total.summary();
  for (const auto& [formula, tally] : by_composition)
    report.by_composition[formula] = tally.summary();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace otfgp
