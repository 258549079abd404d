#pragma once
// A Nosé–Hoover chain (Martyna, Klein & Tuckerman, J. Chem. Phys. 97, 2635
// (1992)) integrated as in Martyna, Tuckerman, Tobias & Klein, Mol. Phys. 87,
// 1117 (1996): each half step is n_c sub-steps, each a third-order
// Suzuki–Yoshida product. The chain only sees a kinetic energy and returns the
// factor by which the thermostatted momenta scale, so the same class
// thermostats the atoms and the barostat. Host-only; a few scalars.

#include <vector>

namespace otfgp::md {

class NoseHooverChain {
 public:
  // dof: thermostatted degrees of freedom; kT (eV); tau: period (fs). Masses
  // Q₁ = dof·kT·τ², Qⱼ = kT·τ² for j > 1 (as LAMMPS fix nvt).
  NoseHooverChain(int length, int substeps, double degrees_of_freedom, double kT, double tau);

  // Advances the chain by dt/2 against the current kinetic energy (eV) of its
  // degrees of freedom; returns the factor for their momenta.
  double half_step(double kinetic_energy, double timestep);
  // Σ Qⱼ ξ̇ⱼ²/2 + dof·kT·ξ₁ + kT Σ_{j>1} ξⱼ (eV): its share of the conserved quantity.
  double energy() const;

  int length() const { return static_cast<int>(positions_.size()); }
  // Chain positions ξⱼ and velocities ξ̇ⱼ (1/fs), for restart files.
  const std::vector<double>& positions() const { return positions_; }
  const std::vector<double>& velocities() const { return velocities_; }
  void set_state(const std::vector<double>& positions, const std::vector<double>& velocities);

 private:
  double force(int j, double kinetic_energy) const;

  int substeps_;
  double dof_, kT_;
  std::vector<double> masses_, positions_, velocities_;
};

}  // namespace otfgp::md
