#include "otfgp/analysis/hull_sweep.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <optional>

#include "otfgp/core/error.hpp"
#include "otfgp/core/units.hpp"

namespace otfgp {

namespace {

double parse_gpa(const std::string& text, const std::string& whole) {
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0 || !std::isfinite(value))
    throw Error("pressure '" + whole + "': '" + text +
                "' is not a number of GPa (expected P or START:STOP:STEP)");
  return value;
}

// H of phase i at pressure p inside grid interval k (Hermite with dH/dP = V).
double interpolated_enthalpy(const SweepPhase& phase, const std::vector<double>& pressures,
                             std::size_t k, double p) {
  const double p0 = pressures[k], p1 = pressures[k + 1];
  const double h0 = phase.enthalpy_per_atom[static_cast<Eigen::Index>(k)];
  const double h1 = phase.enthalpy_per_atom[static_cast<Eigen::Index>(k + 1)];
  const double width = p1 - p0, t = (p - p0) / width;
  const double v0 = phase.volume_per_atom[static_cast<Eigen::Index>(k)];
  const double v1 = phase.volume_per_atom[static_cast<Eigen::Index>(k + 1)];
  if (!std::isfinite(v0) || !std::isfinite(v1)) return (1 - t) * h0 + t * h1;
  const double slope0 = v0 * units::gpa_in_ev_per_a3 * width,
               slope1 = v1 * units::gpa_in_ev_per_a3 * width;
  const double t2 = t * t, t3 = t2 * t;
  return (2 * t3 - 3 * t2 + 1) * h0 + (t3 - 2 * t2 + t) * slope0 + (-2 * t3 + 3 * t2) * h1 +
         (t3 - t2) * slope1;
}

Hull hull_at(const std::vector<SweepPhase>& phases, const std::vector<double>& pressures,
             std::size_t k, double p, const HullOptions& options) {
  std::vector<HullEntry> entries;
  entries.reserve(phases.size());
  for (const auto& phase : phases)
    entries.push_back(
        {phase.id, phase.composition, interpolated_enthalpy(phase, pressures, k, p), std::nullopt});
  return compute_hull(entries, options);
}

bool stable_at(const std::vector<SweepPhase>& phases, const std::vector<double>& pressures,
               std::size_t k, double p, std::size_t entry, const HullOptions& options) {
  return hull_at(phases, pressures, k, p, options).entries[entry].stable;
}

// Where entry `entry` changes from `was` to the other in [low, high] of grid interval k.
double bisect_transition(const std::vector<SweepPhase>& phases,
                         const std::vector<double>& pressures, std::size_t k, std::size_t entry,
                         bool was, double low, double high, const SweepOptions& options) {
  while (high - low > options.transition_tolerance) {
    const double middle = 0.5 * (low + high);
    if (stable_at(phases, pressures, k, middle, entry, options.hull) == was)
      low = middle;
    else
      high = middle;
  }
  return 0.5 * (low + high);
}

// A pressure inside grid interval k at which `entry`, off the hull at both of
// its ends, is on it, if there is one: a polymorph stable only over 60–90 GPa
// on a 50 GPa grid. Its height above the other phases' hull,
// g(P) = H(P) − min over decompositions D of H_D(P), is at least H(P) − H_D(P)
// for each decomposition D met so far (the hulls' `decomposition`: stable
// phases that make its composition), so where their largest is positive over
// the whole interval the entry stays off the hull. Otherwise the hull at that
// bound's lowest point either has the entry on it or gives a new D that lifts
// the bound there (Kelley's cutting planes; for table entries g is convex and
// each cut is a line, so the search ends on the exact answer).
std::optional<double> inner_stable_pressure(const std::vector<SweepPhase>& phases,
                                            const std::vector<double>& pressures, std::size_t k,
                                            std::size_t entry, const SweepOptions& options,
                                            const Hull& below, const Hull& above) {
  std::vector<std::vector<DecompositionPart>> cuts{below.entries[entry].decomposition,
                                                   above.entries[entry].decomposition};
  const auto bound = [&](double p) {
    double largest = -std::numeric_limits<double>::infinity();
    for (const auto& cut : cuts) {
      double h = interpolated_enthalpy(phases[entry], pressures, k, p);
      for (const DecompositionPart& part : cut)
        h -= part.fraction * interpolated_enthalpy(phases[part.entry], pressures, k, p);
      if (std::isfinite(h)) largest = std::max(largest, h);
    }
    return largest;
  };
  const double p0 = pressures[k], p1 = pressures[k + 1];
  constexpr int samples = 64, rounds = 50;
  for (int round = 0; round < rounds; ++round) {
    // The bound's lowest point: the best of a uniform sample, then a golden-section search
    // around it (the bound is convex for table entries, smooth for relaxed ones).
    double best = p0, lowest = bound(p0);
    for (int s = 1; s <= samples; ++s) {
      const double p = p0 + (p1 - p0) * s / samples;
      if (const double value = bound(p); value < lowest) lowest = value, best = p;
    }
    const double step = (p1 - p0) / samples;
    double a = std::max(p0, best - step), b = std::min(p1, best + step);
    const double golden = 0.5 * (std::sqrt(5.0) - 1.0);
    while (b - a > options.transition_tolerance) {
      const double c = b - golden * (b - a), d = a + golden * (b - a);
      if (bound(c) < bound(d))
        b = d;
      else
        a = c;
    }
    if (const double middle = 0.5 * (a + b); bound(middle) < lowest)
      lowest = bound(middle), best = middle;
    if (lowest > 0.0) return std::nullopt;
    const Hull hull = hull_at(phases, pressures, k, best, options.hull);
    const HullEntryResult& result = hull.entries[entry];
    if (result.stable) return best;
    if (!result.included || result.e_above_hull <= lowest + 1e-12 * std::max(1.0, std::abs(lowest)))
      return std::nullopt;  // the bound is g there: g ≥ 0 everywhere, touching 0 at most
    cuts.push_back(result.decomposition);
  }
  return std::nullopt;
}

// The largest |H_a − H_b| over the grid pressures where both have one, if
// below `tolerance` (and one such pressure at least).
std::optional<double> within(const SweepPhase& a, const SweepPhase& b, double tolerance) {
  double largest = 0.0;
  bool compared = false;
  for (Eigen::Index k = 0; k < a.enthalpy_per_atom.size(); ++k) {
    const double ha = a.enthalpy_per_atom[k], hb = b.enthalpy_per_atom[k];
    if (!std::isfinite(ha) || !std::isfinite(hb)) continue;
    compared = true;
    largest = std::max(largest, std::abs(ha - hb));
    if (!(largest < tolerance)) return std::nullopt;
  }
  return compared ? std::optional<double>(largest) : std::nullopt;
}

// Phases of one composition within `tolerance` of another at every grid
// pressure: lowest mean enthalpy first (the earlier given among equals), each
// phase not yet taken stands for those still free within the tolerance of it.
std::vector<DegeneratePhase> degenerate_phases(const std::vector<SweepPhase>& phases,
                                               double tolerance) {
  std::vector<double> mean(phases.size(), 0.0);
  for (std::size_t i = 0; i < phases.size(); ++i) {
    int count = 0;
    for (const double h : phases[i].enthalpy_per_atom)
      if (std::isfinite(h)) {
        mean[i] += h;
        ++count;
      }
    mean[i] = count > 0 ? mean[i] / count : std::numeric_limits<double>::infinity();
  }
  std::vector<std::size_t> order(phases.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return mean[a] < mean[b]; });
  std::vector<DegeneratePhase> degenerate;
  std::vector<char> taken(phases.size(), 0);
  for (const std::size_t i : order) {
    if (taken[i]) continue;
    for (const std::size_t j : order) {
      if (j == i || taken[j] || !phases[i].composition.same_fractions(phases[j].composition))
        continue;
      if (const std::optional<double> largest = within(phases[i], phases[j], tolerance)) {
        taken[j] = 1;
        degenerate.push_back({j, i, *largest});
      }
    }
    taken[i] = 1;
  }
  std::sort(degenerate.begin(), degenerate.end(),
            [](const DegeneratePhase& a, const DegeneratePhase& b) { return a.entry < b.entry; });
  return degenerate;
}

}  // namespace

std::vector<double> parse_pressure_grid(const std::string& text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto colon = text.find(':', start);
    parts.push_back(
        text.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() == 1) return {parse_gpa(parts[0], text)};
  if (parts.size() != 3)
    throw Error("pressure '" + text + "': expected P or START:STOP:STEP (GPa)");
  const double first = parse_gpa(parts[0], text), last = parse_gpa(parts[1], text),
               step = parse_gpa(parts[2], text);
  if (!(step > 0)) throw Error("pressure '" + text + "': the step must be positive");
  if (last < first) throw Error("pressure '" + text + "': the end is below the start");
  const double intervals = (last - first) / step;
  // The points, STOP included: ⌈intervals⌉ + 1.
  if (std::ceil(intervals - 1e-9) + 1 > 1e4)
    throw Error("pressure '" + text + "': more than 10000 grid points");
  const long count = static_cast<long>(std::floor(intervals + 1e-9)) + 1;
  std::vector<double> grid;
  for (long i = 0; i < count; ++i) grid.push_back(first + static_cast<double>(i) * step);
  // STOP is in the sweep, exactly (not 0.7000000000000001 for 0:0.7:0.1), also
  // when STEP does not divide the range (the last interval is then shorter).
  if (std::abs(last - grid.back()) <= 1e-9 * step)
    grid.back() = last;
  else if (last > grid.back())
    grid.push_back(last);
  return grid;
}

std::vector<HullEntry> sweep_entries(const std::vector<SweepPhase>& phases, std::size_t k) {
  std::vector<HullEntry> entries;
  entries.reserve(phases.size());
  for (const auto& phase : phases) {
    const auto index = static_cast<Eigen::Index>(k);
    const std::optional<double> std =
        index < phase.std_per_atom_by_pressure.size()
            ? std::optional<double>(phase.std_per_atom_by_pressure[index])
            : phase.std_per_atom;
    entries.push_back({phase.id, phase.composition, phase.enthalpy_per_atom[index], std});
  }
  return entries;
}

Sweep sweep_hull(const std::vector<SweepPhase>& given, const std::vector<double>& pressures,
                 const SweepOptions& options) {
  if (pressures.empty()) throw Error("hull sweep: no pressures");
  if (!std::is_sorted(pressures.begin(), pressures.end()) ||
      std::adjacent_find(pressures.begin(), pressures.end()) != pressures.end())
    throw Error("hull sweep: the pressures must be strictly increasing");
  for (const auto& phase : given)
    if (phase.enthalpy_per_atom.size() != static_cast<Eigen::Index>(pressures.size()) ||
        phase.volume_per_atom.size() != static_cast<Eigen::Index>(pressures.size()))
      throw Error("hull sweep: phase '" + phase.id +
                  "' does not have one enthalpy and volume per pressure");
  Sweep sweep;
  sweep.pressures = pressures;
  if (!(options.degenerate_tolerance >= 0))
    throw Error("hull sweep: the degenerate tolerance must not be negative");
  sweep.degenerate = degenerate_phases(given, options.degenerate_tolerance);
  std::vector<SweepPhase> phases = given;
  for (const DegeneratePhase& same : sweep.degenerate)
    for (Eigen::Index k = 0; k < given[same.entry].enthalpy_per_atom.size(); ++k)
      if (std::isfinite(given[same.entry].enthalpy_per_atom[k]) &&
          std::isfinite(given[same.same_as].enthalpy_per_atom[k])) {
        // A hair above, so that `same_as` is the lower of the two everywhere
        // (the hull keeps the earlier of equal entries, which may be this one):
        // the Hermite interpolant of a constant shift is that shift (its
        // value weights sum to 1), 10⁻¹² of |H|, far above its rounding.
        const double h = given[same.same_as].enthalpy_per_atom[k];
        phases[same.entry].enthalpy_per_atom[k] = h + 1e-12 * std::max(1.0, std::abs(h));
        phases[same.entry].volume_per_atom[k] = given[same.same_as].volume_per_atom[k];
      }
  for (std::size_t k = 0; k < pressures.size(); ++k) {
    try {
      sweep.hulls.push_back(compute_hull(sweep_entries(phases, k), options.hull));
    } catch (const Error& error) {
      if (pressures.size() == 1) throw;
      throw Error(fmt::format("at {:g} GPa: {}", pressures[k], error.what()));
    }
  }

  for (std::size_t k = 0; k + 1 < pressures.size(); ++k) {
    const Hull &below = sweep.hulls[k], &above = sweep.hulls[k + 1];
    for (std::size_t i = 0; i < phases.size(); ++i) {
      const bool was = below.entries[i].stable, is = above.entries[i].stable;
      const bool both_included = below.entries[i].included && above.entries[i].included;
      if (was != is && !both_included) {
        // A NaN enthalpy at either end: no interpolant to bisect.
        sweep.transitions.push_back({i, is, 0.5 * (pressures[k] + pressures[k + 1]), k});
      } else if (was != is) {
        sweep.transitions.push_back({i, is,
                                     bisect_transition(phases, pressures, k, i, was, pressures[k],
                                                       pressures[k + 1], options),
                                     k});
      } else if (!was && both_included) {
        const std::optional<double> inside =
            inner_stable_pressure(phases, pressures, k, i, options, below, above);
        if (!inside) continue;
        sweep.transitions.push_back(
            {i, true,
             bisect_transition(phases, pressures, k, i, false, pressures[k], *inside, options), k});
        sweep.transitions.push_back(
            {i, false,
             bisect_transition(phases, pressures, k, i, true, *inside, pressures[k + 1], options),
             k});
      }
    }
  }
  std::stable_sort(sweep.transitions.begin(), sweep.transitions.end(),
                   [](const PhaseTransition& a, const PhaseTransition& b) {
                     return a.pressure_gpa < b.pressure_gpa;
                   });
  return sweep;
}

std::vector<StableRange> stable_ranges(const Sweep& sweep, std::size_t entry) {
  const std::vector<double>& pressures = sweep.pressures;
  std::vector<StableRange> ranges;
  bool stable = sweep.hulls[0].entries[entry].stable;
  if (stable) ranges.push_back({pressures[0], std::nullopt, pressures[0], pressures[0], true});
  const auto open = [&](std::optional<double> from, double grid) {
    ranges.push_back({from, std::nullopt, grid, grid, false});
    stable = true;
  };
  const auto close = [&](std::optional<double> to, double grid) {
    ranges.back().to_gpa = to;
    ranges.back().to_grid = grid;
    stable = false;
  };
  for (std::size_t k = 0; k + 1 < pressures.size(); ++k) {
    // The transitions are in order of pressure.
    for (const auto& transition : sweep.transitions) {
      if (transition.entry != entry || transition.grid_interval != k) continue;
      if (transition.enters && !stable) open(transition.pressure_gpa, transition.pressure_gpa);
      if (!transition.enters && stable) close(transition.pressure_gpa, transition.pressure_gpa);
    }
    // A change at the grid point with no transition recorded before it.
    const bool at_next = sweep.hulls[k + 1].entries[entry].stable;
    if (at_next && !stable) open(std::nullopt, pressures[k + 1]);
    if (!at_next && stable) close(std::nullopt, pressures[k]);
  }
  if (stable) {
    ranges.back().to_gpa = pressures.back();
    ranges.back().to_grid = pressures.back();
    ranges.back().to_end = true;
  }
  return ranges;
}

}  // namespace otfgp
