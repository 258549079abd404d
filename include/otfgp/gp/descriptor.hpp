#pragma once
// Per-atom descriptors: a fixed-length vector for each atom's environment and
// its derivatives with respect to the pair vectors r_ij = x_j + S·h − x_i of
// the neighbours. The sparse GP sees only this; it knows nothing of how the
// vector is made.

#include <Eigen/Core>
#include <memory>
#include <vector>

#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/neighbor_list.hpp"

namespace otfgp {

// One structure's descriptors on the host (training path).
struct DescriptorValues {
  int size = 0;              // descriptor length D
  std::vector<int> species;  // per atom: index into Descriptor::species()
  Eigen::MatrixXd values;    // natoms × D
  // Derivatives, CSR over central atoms i: entries k in [offsets[i], offsets[i+1])
  // are the neighbours j within the cutoff (images are separate entries).
  std::vector<int> offsets;                                               // natoms + 1
  std::vector<int> neighbor;                                              // atom j of entry k
  Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor> pair_vector;  // r_ij of entry k (Å)
  // ∂d_i/∂r_ij of entry k: rows 3k, 3k+1, 3k+2 are the x, y, z derivatives (D columns).
  // The derivative with respect to x_i itself is minus the sum over its entries.
  Eigen::MatrixXd gradient;
};

class Descriptor {
 public:
  virtual ~Descriptor() = default;
  virtual int size() const = 0;
  // Largest cutoff over all species pairs (Å).
  virtual double cutoff() const = 0;
  // The cutoff between species indices a and b (Å); cutoff() unless pairs differ.
  virtual double pair_cutoff(int /*a*/, int /*b*/) const { return cutoff(); }
  // Atomic numbers, ascending; species indices refer to this list.
  virtual const std::vector<int>& species() const = 0;
  // How many of the last columns are the two-body block a kernel's two-body
  // part reads (kernel.hpp); the sparse GP checks that the two agree.
  virtual int two_body_size() const { return 0; }
  // Descriptors of every atom; gradients only when asked. The list must be
  // built for `state` with at least cutoff().
  virtual DescriptorValues compute(const AtomState& state, const NeighborList& list,
                                   bool gradients) const = 0;
};

}  // namespace otfgp
