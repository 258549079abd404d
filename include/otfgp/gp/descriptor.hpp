#pragma once
// Per-atom descriptors: a fixed-length vector for each atom's environment and
// its derivatives with respect to the pair vectors r_ij = x_j + S·h − x_i of
// the neighbours. The sparse GP sees only this; it knows nothing of how the
// vector is made.

#include <Eigen/Core>
#include <functional>
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

// Descriptor::pull_back bound to one structure's state and neighbour list:
// (atoms, adjoints) → the R × 3E products described there.
using DescriptorPullBack =
    std::function<Eigen::MatrixXd(const std::vector<int>& atoms, const Eigen::MatrixXd& adjoints)>;

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
  // Vector–Jacobian products (pull-back) of the descriptors of `atoms`
  // (central atom indices, any order) with R covectors per atom: rows
  // [a·R, (a+1)·R) of `adjoints` (R = adjoints.rows() / atoms.size(), D
  // columns) belong to atoms[a]. Returns R × 3E for the E entries of the
  // listed atoms, each atom's entries in compute()'s CSR order, atoms in the
  // order listed: columns 3q … 3q+2 of the q-th entry (neighbour k of atom
  // i = atoms[a]) hold Σ_e adjoints(a·R + r, e) ∂d_{i,e}/∂r_k (x, y, z), i.e.
  // the transposed gradient rows of compute(…, true) times the covectors. The
  // default goes through those gradients; a descriptor that can contract its
  // chain rule directly (B2) overrides it and never forms the 3·entries × D
  // gradient.
  virtual Eigen::MatrixXd pull_back(const AtomState& state, const NeighborList& list,
                                    const std::vector<int>& atoms,
                                    const Eigen::MatrixXd& adjoints) const;

 protected:
  // Checks pull_back's `atoms` and `adjoints` (D = size columns, a whole
  // number of rows per atom); returns R, the covectors per atom.
  static int pull_back_rows(const std::vector<int>& atoms, const Eigen::MatrixXd& adjoints,
                            int natoms, int size);
};

}  // namespace otfgp
