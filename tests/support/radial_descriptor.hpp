#pragma once
// A small two-body descriptor for testing the sparse GP without B2: for atom i
// and each species b, d_i[b·n + k] = Σ_{j of species b} g_k(r_ij) f_c(r_ij) with
// Gaussians g_k centred on an even grid over [0, r_c] and the cosine cutoff
// f_c = (cos(π r/r_c) + 1)/2. Analytic gradients ∂d_i/∂r_ij = (g_k f_c)'(r) r̂.

#include <vector>

#include "otfgp/gp/descriptor.hpp"

namespace otfgp::testing {

class RadialDescriptor final : public Descriptor {
 public:
  // two_body: how many of the last columns to declare the two-body block.
  RadialDescriptor(std::vector<int> species, int radial_functions, double cutoff, int two_body = 0);
  int size() const override { return static_cast<int>(species_.size()) * radial_functions_; }
  double cutoff() const override { return cutoff_; }
  const std::vector<int>& species() const override { return species_; }
  int radial_functions() const { return radial_functions_; }
  int two_body_size() const override { return two_body_; }
  DescriptorValues compute(const AtomState& state, const NeighborList& list,
                           bool gradients) const override;

 private:
  std::vector<int> species_;
  int radial_functions_;
  double cutoff_;
  int two_body_;
};

}  // namespace otfgp::testing
