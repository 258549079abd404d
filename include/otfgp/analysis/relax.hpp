#pragma once
// Geometry optimisation of positions and, optionally, the cell at a target
// pressure (enthalpy H = E + PV minimisation), with FIRE or L-BFGS.
//
// The cell enters through a deformation gradient F of the starting cell, as in
// ASE's UnitCellFilter: cell h = h₀Fᵀ, positions r = r₀Fᵀ, and the degrees of
// freedom are r₀ and N·F (N atoms), so position and cell steps have similar
// size. The generalised forces are f·F on r₀ and −V(σ + P·I)F⁻ᵀ/N on N·F;
// both are exact derivatives of H, which L-BFGS's line search relies on.
// Converged when every atomic force is below force_tolerance and (with a free
// cell) every component of σ + P·I is below stress_tolerance.

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "otfgp/core/structure.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "otfgp/potentials/potential.hpp"

namespace otfgp {

enum class RelaxAlgorithm { fire, lbfgs };

// "fire" or "lbfgs"; throws otfgp::Error otherwise.
RelaxAlgorithm parse_relax_algorithm(const std::string& name);
std::string relax_algorithm_name(RelaxAlgorithm algorithm);

// State after each step, for logging and trajectories.
struct RelaxStep {
  int step = 0;
  double energy = 0.0;                 // eV
  double enthalpy = 0.0;               // eV, E + PV
  double max_force = 0.0;              // eV/Å
  double mean_force = 0.0;             // eV/Å, mean over atoms of |f_i|
  double max_stress_deviation = 0.0;   // GPa, max |σ_ij + P δ_ij| (0 for a fixed cell)
  double mean_stress_deviation = 0.0;  // GPa, mean of |σ_ij + P δ_ij| over the 6 components
  double mean_stress = 0.0;            // GPa, mean of |σ_ij| over the 6 components
  double pressure = 0.0;               // GPa, −tr(σ)/3 (0 if not periodic)
  double volume = 0.0;                 // Å³ (0 if not periodic)
  // Where the potential extrapolates (its largest per-atom std of the local
  // energy, novel atoms) and its mean per-atom std (eV), when it has one.
  std::optional<Extrapolation> extrapolation;
  std::optional<double> mean_uncertainty;
  const Structure* structure = nullptr;  // labelled with energy, forces, stress
};

struct RelaxOptions {
  RelaxAlgorithm algorithm = RelaxAlgorithm::fire;
  bool relax_cell = false;          // full cell freedom
  double pressure_gpa = 0.0;        // target pressure for the cell (GPa)
  double force_tolerance = 0.01;    // eV/Å
  double stress_tolerance = 0.005;  // GPa
  int max_steps = 1000;
  double max_step = 0.2;  // Å: the largest move of any atom (and of N·F rows) per step
  std::function<void(const RelaxStep&)> observer;  // called after every step, including step 0
};

struct RelaxResult {
  Structure structure;  // final positions and cell, labelled with energy, forces, stress
  bool converged = false;
  int steps = 0;
  int evaluations = 0;
  double energy = 0.0;                // eV
  double enthalpy = 0.0;              // eV, E + P·V at the target pressure
  double max_force = 0.0;             // eV/Å
  double max_stress_deviation = 0.0;  // GPa
  double pressure = 0.0;              // GPa, −tr(σ)/3 of the final structure (0 if not periodic)
  std::optional<Extrapolation> extrapolation;  // of the final structure, as RelaxStep's
};

// A relaxation advanced in rounds: FIRE's velocity and time step or L-BFGS's
// curvature pairs are kept between calls, so advance(5) twice walks the same
// path as advance(10). The potential is bound to the species once per
// advance(), not at every evaluation. The state (not the potential or the
// observer) round-trips through JSON, so a relaxation can resume from a file
// and continue exactly as if it had not stopped.
class Relaxer {
 public:
  // Evaluates the start (step 0, reported to the observer). Throws
  // otfgp::Error as relax() does.
  Relaxer(Potential& potential, const Structure& structure, const RelaxOptions& options);
  // Restores a state written by to_json(); re-evaluates the current point
  // (not counted). Throws otfgp::Error for a malformed state.
  Relaxer(Potential& potential, const nlohmann::json& state, const RelaxOptions& options);
  ~Relaxer();
  Relaxer(Relaxer&&) noexcept;
  Relaxer& operator=(Relaxer&&) noexcept;

  // Takes up to `steps` steps; stops early when converged, at
  // options.max_steps, or when L-BFGS gives up. Returns the steps taken.
  int advance(int steps);
  // Converged, at the step limit, or given up: advance() does nothing more.
  bool finished() const;
  bool converged() const;
  int steps() const;
  int evaluations() const;
  // The current point (its structure pointer lives as long as the Relaxer).
  const RelaxStep& current() const;
  RelaxResult result() const;

  nlohmann::json to_json() const;
  // Atomic write (temporary file, then rename).
  void save(const std::filesystem::path& file) const;
  static Relaxer load(Potential& potential, const std::filesystem::path& file,
                      const RelaxOptions& options);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Throws otfgp::Error when a free cell is asked for a structure that is not
// periodic in all three directions, or the options are out of range.
RelaxResult relax(Potential& potential, const Structure& structure, const RelaxOptions& options);

// How far a stress is from balancing a pressure: the RMS over the six Voigt
// components of σ + P δ (eV/Å³; σ = −P I in a cell relaxed at P). The
// on-the-fly loop's relax stages and the search's label_minima confirm a
// minimum at a pressure with it, since forces alone vanish by symmetry at
// any volume.
double stress_residual(const Voigt& stress, double pressure_gpa);

}  // namespace otfgp
