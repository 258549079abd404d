#pragma once
// The loop every pair potential shares, written once (as LAMMPS KOKKOS's
// PairComputeFunctor): each atom walks its full neighbour list, sums its own
// force and takes half of each pair's energy and virial. An atom writes only
// to itself, so no scatter or atomics are needed on any backend. A potential
// supplies the per-pair physics as a small struct copied into the kernel.

#include <string>

#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/core/types.hpp"
#include "otfgp/potentials/compute_support.hpp"
#include "otfgp/potentials/potential.hpp"

namespace otfgp {

// One pair's contribution, LAMMPS's (evdwl, fpair).
struct PairTerm {
  double energy = 0.0;  // φ(r) of the whole pair (eV); each atom of it gets half
  // −(dφ/dr)/r (eV/Å²). With r_ij = x_j − x_i the force on i is −force_over_r · r_ij,
  // and the pair's virial is force_over_r · r_ij ⊗ r_ij.
  double force_over_r = 0.0;
};

// Pair must provide, callable in a kernel:
//   double site_energy(int i, int type_i) const;   // the atom's own term (self energy,
//                                                  // embedding energy), 0 if none
//   PairTerm operator()(int i, int j, int type_i, int type_j, double r2) const;
// The loop calls the pair term only for r² < cutoff². Overwrites state.f; the
// per-atom energies (when requested) are site energy plus half of each pair.
template <class Pair>
ComputeResult compute_pair_potential(const std::string& label, const AtomState& state,
                                     const NeighborList& list, const ComputeRequest& request,
                                     double cutoff, const Pair& pair) {
  ComputeResult result;
  const SiteOutputs sites = site_outputs(label, request, state.natoms, result);
  const NeighborView neighbors = list.view();
  const VecView x = state.x, f = state.f;
  const IntView type = state.type;
  const double cutoff_squared = cutoff * cutoff;
  const auto kernel = KOKKOS_LAMBDA(int i, EnergyVirial& sum) {
    if (!sites.is_centre(i)) {
      for (int d = 0; d < 3; ++d) f(i, d) = 0.0;
      return;
    }
    const int ti = type(i);
    // Sums over the pairs of i, in registers rather than in the reduction's storage.
    double fi[3] = {0, 0, 0}, pair_energy = 0.0;
    EnergyVirial own;
    const int end = neighbors.offsets(i + 1);
    for (int k = neighbors.offsets(i); k < end; ++k) {
      double r[3];
      neighbors.delta(x, i, k, r);
      const double r2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
      if (r2 >= cutoff_squared) continue;
      const int j = neighbors.index(k);
      const PairTerm term = pair(i, j, ti, type(j), r2);
      pair_energy += term.energy;
      double fij[3];
      for (int d = 0; d < 3; ++d) {
        fij[d] = term.force_over_r * r[d];
        fi[d] -= fij[d];
      }
      own.add_pair_virial(r, fij, 1.0);
    }
    for (int d = 0; d < 3; ++d) f(i, d) = fi[d];
    // Each pair is met from both ends of the full list: half to each.
    const double ei = pair.site_energy(i, ti) + 0.5 * pair_energy;
    double w[6];
    for (int c = 0; c < 6; ++c) w[c] = 0.5 * own.virial[c];
    sum.energy += ei;
    for (int c = 0; c < 6; ++c) sum.virial[c] += w[c];
    sites.store(i, ei, w);
  };
  reduce_energy_and_virial(label + "::compute", RangePolicy(0, state.natoms), kernel, request,
                           result);
  return result;
}

}  // namespace otfgp
