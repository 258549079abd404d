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

#include <functional>
#include <string>

#include "otfgp/potentials/potential.hpp"
#include "otfgp/core/structure.hpp"

namespace otfgp {

enum class RelaxAlgorithm { fire, lbfgs };

// "fire" or "lbfgs"; throws otfgp::Error otherwise.
RelaxAlgorithm parse_relax_algorithm(const std::string& name);
std::string relax_algorithm_name(RelaxAlgorithm algorithm);

// State after each step, for logging and trajectories.
struct RelaxStep {
  int step = 0;
  double energy = 0.0;                   // eV
  double enthalpy = 0.0;                 // eV, E + PV
  double max_force = 0.0;                // eV/Å
  double max_stress_deviation = 0.0;     // GPa, max |σ_ij + P δ_ij| (0 for a fixed cell)
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
};

// Throws otfgp::Error when a free cell is asked for a structure that is not
// periodic in all three directions, or the options are out of range.
RelaxResult relax(Potential& potential, const Structure& structure, const RelaxOptions& options);

}  // namespace otfgp
