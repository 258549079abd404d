#pragma once
// A force field: energy (eV), forces (eV/Å), virial (eV) and optionally
// per-atom energies and per-atom uncertainties for atoms on a neighbour list.
// Potentials live on the host and launch kernels; kernels never call them.

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "otfgp/atom_state.hpp"
#include "otfgp/neighbor_list.hpp"
#include "otfgp/types.hpp"

namespace otfgp {

struct ComputeRequest {
  bool per_atom_energy = false;
  bool uncertainty = false;
};

struct ComputeResult {
  double energy = 0.0;  // eV
  // W = Σ_i r_i ⊗ F_i in its translation-invariant pair form (eV), Voigt order
  // xx yy zz yz xz xy. Stress σ = −W/V; pressure from the potential tr(W)/(3V).
  std::array<double, 6> virial{0, 0, 0, 0, 0, 0};
  ScalarView per_atom_energy;  // eV, when requested
  // Per-atom uncertainty, when requested and provided, in physical units: for
  // the GP the posterior standard deviation of the atom's local energy (eV).
  ScalarView uncertainty;
  // The same divided by the model's prior std (GP: by the signal std σ), in
  // [0, 1]: 1 means nothing like this environment was seen. Dimensionless.
  ScalarView uncertainty_normalised;
};

class Potential {
 public:
  virtual ~Potential() = default;

  // The spec string that recreates this potential, e.g. "sw:/usr/share/lammps/potentials/Si.sw".
  virtual std::string spec() const = 0;
  // Largest distance at which two atoms interact (Å).
  virtual double cutoff() const = 0;
  // Atomic numbers the potential can describe; empty means any.
  virtual std::vector<int> elements() const = 0;
  // Maps the state's species (atomic numbers, ascending) onto the potential's
  // own types before compute; throws otfgp::Error naming a species it lacks.
  virtual void bind(const std::vector<int>& species) = 0;
  // Overwrites state.f with the forces. The list must have been built with at
  // least cutoff() as its cutoff.
  virtual ComputeResult compute(AtomState& state, const NeighborList& list,
                                const ComputeRequest& request) = 0;
  virtual bool provides_uncertainty() const { return false; }
};

// Creates a potential from "name:arguments" (see docs/potentials.md), e.g.
// "lj:eps=0.0104,sigma=3.4,rc=8.5", "sw:/usr/share/lammps/potentials/Si.sw".
std::unique_ptr<Potential> make_potential(const std::string& spec);
// Names known to make_potential, for help texts and error messages.
std::vector<std::string> potential_names();

}  // namespace otfgp
