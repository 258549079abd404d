#pragma once
// What MD needs from a trained sparse GP with the normalised dot-product
// kernel of power 2, k = σ²(d̂·d̂')²: the local energy is the quadratic form
// ε_s(d) = d̂ᵀ β_s d̂ (+ the species' reference energy), whose cost per atom does
// not depend on the number of sparse environments M; and the local-energy
// variance k(x,x) − k_uᵀ(K_uu⁻¹ − Σ)k_u, written with the factor R_s of the
// species block (K_uu⁻¹ − Σ)_ss = R_sᵀR_s, whose cost does not depend on the
// number of training labels. Produced by SparseGP, evaluated by the gp potential.

#include <Eigen/Core>
#include <vector>

#include "otfgp/gp/b2_descriptor.hpp"

namespace otfgp {

struct MappedGp {
  B2Settings descriptor;
  double signal_std = 1.0;               // σ (eV)
  std::vector<double> reference_energy;  // per species (eV), added to every atom's local energy
  std::vector<Eigen::MatrixXd> beta;     // per species, D × D symmetric (eV), σ² included
  std::vector<Eigen::MatrixXd> sparse_normalised;  // per species, M_s × D rows d̂_u
  std::vector<Eigen::MatrixXd> variance_factor;    // per species, R_s (rank × M_s)
};

}  // namespace otfgp
