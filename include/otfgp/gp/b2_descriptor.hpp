#pragma once
// B2, the SOAP-like power spectrum (DESIGN.md §6): for atom i and neighbours j
// of species s within the pair cutoff, A_{s n l m} = Σ_j g_n(r_ij) Y_lm(r̂_ij) f_c(r_ij)
// with Chebyshev radial functions g_n on [r_min, r_cut], real spherical
// harmonics and a smooth cutoff; B2 = Σ_m A_{s n l m} A_{s' n' l m} for
// (s n) ≤ (s' n') and l ≤ l_max. One implementation (Kokkos kernels) serves
// training on the host and MD on any device.

#include <map>
#include <utility>
#include <vector>

#include "otfgp/gp/descriptor.hpp"

namespace otfgp {

struct B2Settings {
  std::vector<int> species;  // atomic numbers, ascending
  int n_max = 8;             // radial functions n = 0 … n_max − 1
  int l_max = 3;
  double r_min = 0.0;   // Å, start of the radial basis
  double cutoff = 5.0;  // Å, every species pair unless overridden
  // Per species-pair cutoff keyed by (Z_a, Z_b) with Z_a ≤ Z_b; kept at full precision everywhere.
  std::map<std::pair<int, int>, double> pair_cutoffs;

  double pair_cutoff(int z_a, int z_b) const;
  double max_cutoff() const;
  // (N·n_max)(N·n_max + 1)/2 · (l_max + 1) for N species.
  int descriptor_size() const;
  // Throws otfgp::Error for empty species, n_max < 1, l_max < 0, r_min ≥ cutoff, …
  void validate() const;
};

class B2Descriptor final : public Descriptor {
 public:
  explicit B2Descriptor(B2Settings settings);
  const B2Settings& settings() const { return settings_; }
  int size() const override;
  double cutoff() const override;
  const std::vector<int>& species() const override { return settings_.species; }
  DescriptorValues compute(const AtomState& state, const NeighborList& list,
                           bool gradients) const override;

 private:
  B2Settings settings_;
};

}  // namespace otfgp
