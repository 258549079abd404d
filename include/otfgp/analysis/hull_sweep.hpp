#pragma once
// Hulls over a pressure grid and the pressures at which phases enter or leave
// the hull. Each phase has its enthalpy per atom and volume per atom at every
// grid pressure (relaxed there, or E + PV with fixed E and V for table
// entries). Between grid points H(P) is the cubic Hermite interpolant with
// dH/dP = V (exact for fixed E and V, where H is linear); transitions are
// refined by bisection on that interpolant to transition_tolerance, and an
// entry off the hull at two neighbouring grid points is searched for a
// range between them where it is on it.
// Polymorphs of one composition whose enthalpies agree within
// degenerate_tolerance at every grid pressure are one phase for the sweep:
// otherwise relaxation noise (10⁻⁸ eV/atom between Tersoff's zincblende and
// wurtzite SiC) decides which is on the hull at each pressure, and the sweep
// reports transitions back and forth between them.

#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "otfgp/analysis/hull.hpp"

namespace otfgp {

struct SweepPhase {
  std::string id;
  Composition composition;
  Eigen::VectorXd enthalpy_per_atom;  // eV/atom at each grid pressure (NaN: not available)
  Eigen::VectorXd volume_per_atom;  // Å³/atom at each grid pressure (NaN: interpolate H linearly)
  std::optional<double> std_per_atom;
  // eV/atom at each grid pressure, from the energy model's own uncertainty
  // (relaxed with a GP); when set it takes the place of std_per_atom there.
  Eigen::VectorXd std_per_atom_by_pressure;
};

struct PhaseTransition {
  std::size_t entry = 0;
  bool enters = false;        // true: becomes stable with increasing pressure
  double pressure_gpa = 0.0;  // refined
  std::size_t grid_interval =
      0;  // between pressures[grid_interval] and pressures[grid_interval + 1]
};

struct SweepOptions {
  HullOptions hull;
  double transition_tolerance = 1e-5;  // GPa
  double degenerate_tolerance = 1e-5;  // eV/atom; 0: no phase is merged
};

// A phase the sweep takes as the same as another (`same_as`, the one of the
// lowest mean enthalpy over the grid, the earlier given among equals): same
// composition, enthalpies closer than SweepOptions::degenerate_tolerance at
// every grid pressure where both have one. Its hulls use `same_as`'s
// enthalpies and volumes there, so that `same_as` alone can be on the hull
// (this one is then HullEntryResult::duplicate_of it, 10⁻¹² of |H| above).
struct DegeneratePhase {
  std::size_t entry = 0, same_as = 0;
  double largest_difference = 0.0;  // eV/atom, max over the grid of |H − H_same_as|
};

struct Sweep {
  std::vector<double> pressures;             // GPa, ascending
  std::vector<Hull> hulls;                   // one per grid pressure
  std::vector<PhaseTransition> transitions;  // by pressure
  std::vector<DegeneratePhase> degenerate;   // by entry
};

// Grid "A:B:STEP" (GPa, both ends included when B − A is a multiple of STEP)
// or a single number. Throws otfgp::Error for malformed text, STEP ≤ 0, B < A
// or more than 10⁴ points.
std::vector<double> parse_pressure_grid(const std::string& text);

// Hull entries at grid point k.
std::vector<HullEntry> sweep_entries(const std::vector<SweepPhase>& phases, std::size_t k);

// A pressure range over which one entry is on the hull.
struct StableRange {
  // Where the entry enters and leaves the hull (GPa): a refined transition, the
  // grid's own end when the range reaches it, and empty where no transition was
  // recorded (an enthalpy missing at a grid point).
  std::optional<double> from_gpa, to_gpa;
  // The grid pressures nearest those ends within the range (for plots where an
  // end is empty): the transition's own pressure where there is one.
  double from_grid = 0.0, to_grid = 0.0;
  bool from_start = false;  // from the grid's first pressure
  bool to_end = false;      // to the grid's last pressure
};

// The stable ranges of entry `entry`, in order of pressure, also those that
// lie between two grid points.
std::vector<StableRange> stable_ranges(const Sweep& sweep, std::size_t entry);

// Throws otfgp::Error when the phases' arrays do not match the grid.
Sweep sweep_hull(const std::vector<SweepPhase>& phases, const std::vector<double>& pressures,
                 const SweepOptions& options = {});

}  // namespace otfgp
