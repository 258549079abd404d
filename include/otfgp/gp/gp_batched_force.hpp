#pragma once
// The mapped GP's energy and forces in three kernels instead of one, the form a
// GPU wants (docs/gpu.md, "The GP force pass on a GPU"):
//  1. descriptors: per atom (a team), the density A, d̂ = d/|d| and |d|, kept
//     in views over all atoms;
//  2. products: β_s d̂ for blocks of atoms, so that each number of β_s is read
//     once per block and not once per atom (the one-kernel form reads all of β_s,
//     D² numbers, for every atom: on a GPU most of its time);
//  3. forces: per atom, ∂ε/∂d from d̂ and β_s d̂, the adjoint back to ∂ε/∂A, and
//     the neighbour contraction with the terms rebuilt in each thread.
// The same sums as GpPotential's one-kernel form (gp_energy_kernel), except
// that 1/|d| is recomputed from |d|: results agree to rounding.

#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/gp/b2_kernels.hpp"
#include "otfgp/potentials/compute_support.hpp"
#include "otfgp/potentials/many_body.hpp"

namespace otfgp::gp_batched {

using Matrix = Kokkos::View<double**, Kokkos::LayoutRight, MemSpace>;

// The per-atom arrays the three kernels hand on; `team_size` 0 takes the
// backend's choice (docs/gpu.md).
struct Workspace {
  Matrix unit;      // natoms × D: [d̂; q] (q: the two-body block, the l = 0 densities)
  ScalarView norm;  // |d|; 0 for an atom without neighbours or not a centre
  Matrix density;   // natoms × |A|
  Matrix product;   // natoms × D_b: β_s d̂
  int team_size = 0;

  // Sizes the views for natoms atoms of this basis (no allocation when they fit).
  void resize(int natoms, const b2::B2Basis& basis);
};

// Kernels 1 and 2: fills unit, norm, density and product.
void descriptors_and_products(const b2::B2Basis& basis, const NeighborList& list,
                              const AtomState& state,
                              const Kokkos::View<const int*, MemSpace>& centres,
                              const Kokkos::View<double***, Kokkos::LayoutRight, MemSpace>& beta,
                              const Workspace& work);

// Kernel 3: energies, forces, virials as gp_energy_kernel's.
struct ForceMaps {
  Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> two_body, three_body;
  Kokkos::View<double*, MemSpace> reference;
};
void energy_and_forces(const b2::B2Basis& basis, const NeighborList& list, const AtomState& state,
                       const Kokkos::View<const int*, MemSpace>& centres, const ForceMaps& maps,
                       const Workspace& work, const ScalarView& per_atom,
                       const VirialView& per_atom_virial, const ForceScatter& forces,
                       const ComputeRequest& sums, ComputeResult& result);

}  // namespace otfgp::gp_batched
