#include "otfgp/potentials/added_potential.hpp"

namespace otfgp {

void add_potential(Potential& extra, AtomState& state, const NeighborList& list,
                   const ComputeRequest& request, ComputeResult& result) {
  const VecView kept(Kokkos::view_alloc(Kokkos::WithoutInitializing, "added_potential::forces"),
                     state.f.extent(0));
  Kokkos::deep_copy(kept, state.f);
  ComputeRequest own;
  own.per_atom_energy = request.per_atom_energy;
  own.per_atom_virial = request.per_atom_virial;
  own.centres = request.centres;
  const ComputeResult added = extra.compute(state, list, own);

  const VecView f = state.f;
  Kokkos::parallel_for(
      "added_potential::forces", RangePolicy(0, static_cast<int>(f.extent(0))),
      KOKKOS_LAMBDA(int i) {
        for (int d = 0; d < 3; ++d) f(i, d) += kept(i, d);
      });
  result.energy += added.energy;
  for (int c = 0; c < 6; ++c) result.virial[c] += added.virial[c];
  if (result.per_atom_energy.extent(0) > 0 && added.per_atom_energy.extent(0) > 0) {
    const ScalarView into = result.per_atom_energy, from = added.per_atom_energy;
    Kokkos::parallel_for(
        "added_potential::per_atom_energy", RangePolicy(0, static_cast<int>(into.extent(0))),
        KOKKOS_LAMBDA(int i) { into(i) += from(i); });
  }
  if (result.per_atom_virial.extent(0) > 0 && added.per_atom_virial.extent(0) > 0) {
    const VirialView into = result.per_atom_virial, from = added.per_atom_virial;
    Kokkos::parallel_for(
        "added_potential::per_atom_virial", RangePolicy(0, static_cast<int>(into.extent(0))),
        KOKKOS_LAMBDA(int i) {
          for (int c = 0; c < 6; ++c) into(i, c) += from(i, c);
        });
  }
}

}  // namespace otfgp
