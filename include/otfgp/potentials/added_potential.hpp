#pragma once
// One potential's contribution added to another's result: forces into
// state.f, energy, virial, and the per-atom energies and virials the request
// asks for. The GP potentials add their short-range repulsion this way.

#include "otfgp/potentials/potential.hpp"

namespace otfgp {

// Computes `extra` on the same state and list (its own outputs only: no
// uncertainty) and adds it to `result` and to the forces already in state.f.
void add_potential(Potential& extra, AtomState& state, const NeighborList& list,
                   const ComputeRequest& request, ComputeResult& result);

}  // namespace otfgp
