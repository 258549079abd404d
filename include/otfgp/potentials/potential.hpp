#pragma once
// A force field: energy (eV), forces (eV/Å), virial (eV) and optionally
// per-atom energies and per-atom uncertainties for atoms on a neighbour list.
// Potentials live on the host and launch kernels; kernels never call them.

#include <array>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/core/types.hpp"

namespace otfgp {

// A total energy (eV) and virial (eV) on the device.
using EnergyVirialView = Kokkos::View<EnergyVirial, MemSpace>;

struct ComputeRequest {
  bool per_atom_energy = false;
  bool uncertainty = false;
  // Per-atom virials: what a domain-decomposed caller (otfgp-lammps) sums over
  // its own atoms to get its share of the virial.
  bool per_atom_virial = false;
  // The standard deviation of the total energy, from potentials that provide
  // uncertainty (GP: the posterior std of Σ_i ε_i, which is not the sum of
  // the per-atom stds because local energies are correlated).
  bool energy_uncertainty = false;
  // Optional, one entry per atom: only atoms marked non-zero are centres whose
  // site energies (and per-atom values) are computed; the others serve only as
  // neighbours and get zeros. A centre's force, energy and virial are exact when
  // every atom within one cutoff of it is a centre and every atom within two
  // cutoffs is present (otfgp-lammps: its own atoms among its ghosts). Empty: all.
  Kokkos::View<const int*, MemSpace> centres{};
  // Optional: where the energy and virial go on the device. A potential that
  // can (the pair loop, the many-body loop, the GP without a repulsion) reduces
  // them into this view, with no copy to the host, and sets
  // ComputeResult::totals_on_device; any other returns them in energy and
  // virial as always. The MD engine's second half-step brings them to the host
  // with its force check, in the step's one copy (docs/gpu.md).
  EnergyVirialView totals{};
};

// Per-atom virial W_i (eV), Voigt order xx yy zz yz xz xy.
using VirialView = Kokkos::View<double* [6], Kokkos::LayoutRight, MemSpace>;

struct ComputeResult {
  // True when the energy and virial went to request.totals on the device; energy
  // and virial below are then NaN.
  bool totals_on_device = false;
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
  // With the uncertainty, from potentials that know their training data (GP):
  // 1 for an atom with a neighbour closer than any distance of that species
  // pair in the training data, or with a neighbour density outside the range
  // of its species' training atoms (by a margin), else 0. Such atoms also carry the
  // prior std as their uncertainty (and 1 as the normalised one).
  ScalarView novel;
  // With the uncertainty, from models calibrated against held-out forces (GP,
  // docs/gp.md "Force uncertainty in eV/Å"): per atom, the standard deviation
  // of each Cartesian component of its force (eV/Å).
  ScalarView force_uncertainty;
  // When requested and provided: the standard deviation of `energy` (eV).
  std::optional<double> energy_uncertainty;
  // When requested and provided: W_i with Σ_i W_i = virial, where W_i depends only
  // on atoms within two cutoffs of atom i (a site's own terms, or half of each
  // pair's), so the atoms of a cluster that holds everything within two cutoffs
  // of its core get their exact share.
  VirialView per_atom_virial;
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
  // The force noise σ_f (eV/Å) of a potential learnt from labels (the GP):
  // the scale its force std is judged on (Extrapolation). None otherwise.
  virtual std::optional<double> force_noise() const { return std::nullopt; }
  // The files whose contents decide the results (parameter files, a GP's
  // model), as opened: a `potential` oracle's resumed run compares their
  // contents (oracle::Oracle::label_files). None by default.
  virtual std::vector<std::filesystem::path> parameter_files() const { return {}; }
};

// make_potential(spec), the registry of every potential, is in
// otfgp/gp/potential_registry.hpp (it builds gp: potentials too).

}  // namespace otfgp
