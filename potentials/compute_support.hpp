#pragma once
// What every analytic potential's compute() does around its kernel: refuse a
// call before bind() or with a neighbour list too short for the potential, make
// the per-atom energy view when asked for, and copy the reduced energy and
// virial into the result. Host code only.

#include <string>

#include "otfgp/core/error.hpp"
#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/core/types.hpp"
#include "otfgp/potentials/potential.hpp"

namespace otfgp {

// owner names the potential in messages ("sw"); cutoff is the reach (Å) of the
// species bound, which the list must cover.
inline void check_ready_to_compute(const std::string& owner, bool bound, const NeighborList& list,
                                   double cutoff) {
  if (!bound) throw Error(owner + ": compute() called before bind() with this state's species");
  // Absolute slack for a cutoff that went through a square root and back.
  constexpr double slack = 1e-12;
  if (list.cutoff() < cutoff - slack)
    throw Error(owner + ": the neighbour list's cutoff " + std::to_string(list.cutoff()) +
                " Å is shorter than the potential's " + std::to_string(cutoff) + " Å");
}

// A view for per-atom energies when the request asks for them, else an empty one.
inline ScalarView per_atom_energy_view(const std::string& label, const ComputeRequest& request,
                                       int natoms) {
  if (!request.per_atom_energy) return ScalarView();
  return ScalarView(label + "::per_atom_energy", natoms);
}

// A zeroed view for per-atom virials when the request asks for them, else an empty one.
inline VirialView per_atom_virial_view(const std::string& label, const ComputeRequest& request,
                                       int natoms) {
  if (!request.per_atom_virial) return VirialView();
  return VirialView(label + "::per_atom_virial", natoms);
}

inline void set_energy_and_virial(ComputeResult& result, const EnergyVirial& total) {
  result.energy = total.energy;
  for (int k = 0; k < 6; ++k) result.virial[k] = total.virial[k];
}

}  // namespace otfgp
