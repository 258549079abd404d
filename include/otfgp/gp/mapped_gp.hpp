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

#include "otfgp/core/types.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/gp/b2_descriptor.hpp"

namespace otfgp {

// The per-atom force uncertainty (eV/Å) from the atom's local-energy std u
// (eV), its neighbours' v_i (eV, below) and its predicted force F_i:
//   σ_F,i² = (a·u_i)² + (g·v_i)² + b² + (c·|F_i|)²,
//   v_i² = Σ_j w(r_ij) u_j² over the neighbours j within the descriptor's
//   pair cutoffs, w(r) = ½(cos(π r / r_c) + 1), r_c the pair's cutoff:
// the force on i is a sum over the local energies of i and its neighbours, so
// their stds bear on it (neighbour_energy_std in training.hpp, the GP
// potential's force-std kernel). a, g (1/Å), b (eV/Å) and c are fitted by
// maximum likelihood of force errors on
// frames the model was not trained on (docs/gp.md, "Force uncertainty in eV/Å"): each error
// component taken as Gaussian with variance σ_F,i². Not calibrated: frames = 0.
// Species whose atoms the calibration frames hold enough of get their own a,
// b, c (elements differ in force scale and in how well the descriptor
// describes them: SiC's C atoms err 7× less than its Si atoms at the same u).
// w(r) of v_i, for a neighbour at r within its pair cutoff r_c.
KOKKOS_INLINE_FUNCTION double neighbour_std_weight(double r, double pair_cutoff) {
  return 0.5 * (kmath::cos(units::pi * r / pair_cutoff) + 1.0);
}

struct ForceStdTerms {
  double energy_scale = 0.0;     // a (1/Å)
  double floor = 0.0;            // b (eV/Å)
  double relative = 0.0;         // c
  double neighbour_scale = 0.0;  // g (1/Å)
  double force_std(double energy_std, double neighbour_std, double force_norm) const;
};

struct ForceUncertaintyCalibration {
  ForceStdTerms pooled;  // the terms fitted to all atoms together
  // Per descriptor species: its own terms where the fit had at least
  // min_species_atoms of its atoms, else the pooled ones. Empty: pooled for all.
  std::vector<ForceStdTerms> species;
  static constexpr int min_species_atoms = 50;
  int frames = 0;  // frames it was fitted on
  int atoms = 0;
  // On those frames: fraction of force components within 1σ and 2σ, and
  // Spearman(σ_F,i, |ΔF_i|).
  double coverage_1 = 0.0;
  double coverage_2 = 0.0;
  double spearman = 0.0;
  bool valid() const { return frames > 0; }
  // The terms of an atom of descriptor species s (pooled for s < 0 or beyond `species`).
  ForceStdTerms terms(int s) const;
  double force_std(double energy_std, double neighbour_std, double force_norm, int s = -1) const {
    return terms(s).force_std(energy_std, neighbour_std, force_norm);
  }
};

struct MappedGp {
  B2Settings descriptor;
  double signal_std = 1.0;               // σ (eV)
  double force_noise = 0.0;              // σ_f (eV/Å) of the hyperparameters; 0: unknown
  std::vector<double> reference_energy;  // per species (eV), added to every atom's local energy
  // D_b: the descriptor's power spectrum (B2Settings::power_spectrum_size()).
  std::vector<Eigen::MatrixXd> beta;  // per species, D_b × D_b symmetric (eV), σ² included
  std::vector<Eigen::MatrixXd> sparse_normalised;  // per species, M_s × D_b rows b̂_u
  // The kernel's two-body part (kernel.hpp; with descriptor.two_body): the
  // local energy gains v_s·q, q the atom's l = 0 densities (L numbers), and
  // k̃ gains w q_u·q. Empty / 0 without it.
  double two_body_weight = 0.0;                  // w
  std::vector<Eigen::VectorXd> two_body;         // per species, v_s (L; σ² included)
  std::vector<Eigen::MatrixXd> sparse_two_body;  // per species, M_s × L rows q_u
  // The kernel's three-body part (kernel.hpp): the local energy gains t_s·b,
  // b the atom's raw power spectrum (= |b| b̂), and k̃ gains w₃|b||b_u|(b̂·b̂_u).
  // Empty / 0 without it.
  double three_body_weight = 0.0;                // w₃
  std::vector<Eigen::VectorXd> three_body;       // per species, t_s (D_b; σ² included)
  std::vector<Eigen::VectorXd> sparse_norm;      // per species, M_s norms |b_u|
  std::vector<Eigen::MatrixXd> variance_factor;  // per species, R_s (rank × M_s)
  // The total energy's variance couples species (Σ has cross-species blocks):
  // R_E with K_uu⁻¹ − Σ = R_EᵀR_E over every sparse point, columns stacked
  // species by species in the order of sparse_normalised. Empty for one species
  // (R_E is then variance_factor[0]) and for models saved without it (then the
  // potential gives no total-energy std for compounds).
  Eigen::MatrixXd energy_variance_factor;
  // Terms of R_s kept for the per-atom std in MD (docs/gp.md, "Truncated
  // variance"): 0 keeps every term (exact); r > 0 keeps the r terms that carry
  // most of the explained variance over the sparse set, which costs
  // O(M_s·(D + r)) per atom instead of O(M_s·(D + M_s)) and can only raise the
  // std. A model setting, not saved: the spec's `variance_rank=`.
  int variance_rank = default_variance_rank;
  static constexpr int default_variance_rank = 256;
  // Novelty: per pair of species (indices as above, symmetric) the shortest
  // distance seen in the training frames within the pair cutoff (Å; +∞ for a
  // pair never seen). An atom with a neighbour closer than
  // (1 − novelty_margin) × that distance is novel: the potential flags it and
  // raises its uncertainty to the prior std σ. Empty: no novelty check.
  Eigen::MatrixXd shortest_pair_distance;
  // Novelty, second part: per species the range of the neighbour density
  // ρ = Σ_j (r_c − r_ij)² (Å²) over the training atoms with neighbours, S × 2
  // (min, max; SparseGp::density_range); an atom with neighbours below
  // (1 − novelty_margin) × min or above (1 + novelty_margin) × max is novel
  // too. Empty: no such check (a checkpoint model file written without it).
  Eigen::MatrixXd density_range;
  // Novelty, third part: per species the number of training atoms without a
  // neighbour (SparseGp::isolated_atoms); an atom without neighbours of a
  // species with none is novel. Empty: no such check (a checkpoint model file
  // written before novelty was stored).
  Eigen::VectorXd isolated_atoms;
  double novelty_margin = 0.05;
  // Whether the potential adds ZBL repulsion to novel pairs (gp/novelty_repulsion.hpp);
  // a model setting, not saved: the spec's `repulsion=`.
  bool repulsion = true;
  ForceUncertaintyCalibration force_calibration;  // per-atom force std, when valid()
};

}  // namespace otfgp
