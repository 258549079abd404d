#pragma once
// Martyna–Tobias–Klein barostat (J. Chem. Phys. 101, 4177 (1994)) in the
// measure-preserving form of Tuckerman, Alejandre, López-Rendón, Jochim &
// Martyna, J. Phys. A 39, 5629 (2006), with its own Nosé–Hoover chain, as
// LAMMPS fix npt. The cell momentum p_g is a symmetric 3×3 matrix (isotropic:
// a multiple of the identity; anisotropic: diagonal; triclinic: all six
// components), so the cell never rotates. With B = p_g/W (1/fs), N_f the
// atoms' degrees of freedom and P the instantaneous pressure tensor
// (Σ m v⊗v + W_virial)/V:
//   ḣ = h·B (rows are lattice vectors),   ṙᵢ = vᵢ + rᵢ·B,
//   ṗᵢ/mᵢ = Fᵢ/mᵢ − vᵢ·(B + tr(B)/N_f I),
//   ṗ_g = V (P − P₀ I) + (2K/N_f) I        (projected onto the coupling),
// conserving K + U + P₀V + KE_cell + the chains' energies.
// Host-only: a handful of numbers per step.

#include <vector>

#include <Eigen/Core>

#include "otfgp/md/nose_hoover_chain.hpp"
#include "otfgp/md/settings.hpp"
#include "otfgp/md/velocity_verlet.hpp"

namespace otfgp::md {

class MtkBarostat {
 public:
  // natoms sets the cell mass W = (natoms + 1)·kT·τ² per strain component
  // (isotropic: 3W for the volume mode, so that its period matches LAMMPS's).
  MtkBarostat(const BarostatSettings& settings, int natoms, double degrees_of_freedom, double kT);

  // dt/2 of the cell's own thermostat chain (scales p_g).
  void chain_half_step(double timestep);
  // dt/2 of ṗ_g from the current kinetic tensor, virial (eV, Voigt) and volume (Å³).
  void momentum_half_step(const KineticTensor& kinetic, const double (&virial)[6], double volume,
                          double timestep);

  Eigen::Matrix3d strain_rate() const;    // B (1/fs)
  Eigen::Matrix3d velocity_rate() const;  // B + tr(B)/N_f I (1/fs)
  double kinetic_energy() const;          // eV
  // KE_cell + P₀V + chain energy (eV).
  double energy(double volume) const;

  // Independent momentum components (1, 3 or 6; Voigt order), eV·fs.
  const std::vector<double>& momentum() const { return momentum_; }
  void set_momentum(const std::vector<double>& momentum);
  NoseHooverChain& chain() { return chain_; }
  const NoseHooverChain& chain() const { return chain_; }

 private:
  PressureCoupling coupling_;
  double pressure_;  // eV/Å³
  double mass_;      // eV·fs²
  double dof_;
  std::vector<double> momentum_;
  NoseHooverChain chain_;
};

// exp(M·t) and t·exp(M·t/2)·sinh(M·t/2)/(M·t/2) of a symmetric matrix M: the
// exact drift of ṙ = v + r·M over t with v constant.
void symmetric_exponentials(const Eigen::Matrix3d& matrix, double t, Eigen::Matrix3d& exponential,
                            Eigen::Matrix3d& drift);

}  // namespace otfgp::md
