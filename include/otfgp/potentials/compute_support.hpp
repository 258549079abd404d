#pragma once
// What every analytic potential's compute() does around its kernel: refuse a
// call before bind() or with a neighbour list too short for the potential, make
// the per-atom energy view when asked for, and copy the reduced energy and
// virial into the result. Host code only.

#include <limits>
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

// What a kernel writes per site besides forces: which atoms are centres (all
// of them unless the request names some), and their energies (eV) and virials
// (eV, Voigt) when the request asks for them. Copied into kernels.
struct SiteOutputs {
  ScalarView energy;  // empty unless requested
  VirialView virial;  // empty unless requested
  Kokkos::View<const int*, MemSpace> centres;
  bool all_centres = true;

  KOKKOS_INLINE_FUNCTION bool is_centre(int i) const { return all_centres || centres(i); }
  KOKKOS_INLINE_FUNCTION void store(int i, double site_energy, const double site_virial[6]) const {
    if (energy.extent(0) > 0) energy(i) = site_energy;
    if (virial.extent(0) > 0)
      for (int c = 0; c < 6; ++c) virial(i, c) = site_virial[c];
  }
};

// The site outputs of `request`; the per-atom views it makes go into `result`.
inline SiteOutputs site_outputs(const std::string& label, const ComputeRequest& request, int natoms,
                                ComputeResult& result) {
  SiteOutputs outputs;
  outputs.energy = result.per_atom_energy = per_atom_energy_view(label, request, natoms);
  outputs.virial = result.per_atom_virial = per_atom_virial_view(label, request, natoms);
  outputs.centres = request.centres;
  outputs.all_centres = request.centres.extent(0) == 0;
  return outputs;
}

inline void set_energy_and_virial(ComputeResult& result, const EnergyVirial& total) {
  result.energy = total.energy;
  for (int k = 0; k < 6; ++k) result.virial[k] = total.virial[k];
}

// The energy and virial marked as left on the device (ComputeRequest::totals).
inline void set_totals_on_device(ComputeResult& result) {
  result.totals_on_device = true;
  result.energy = std::numeric_limits<double>::quiet_NaN();
  result.virial.fill(std::numeric_limits<double>::quiet_NaN());
}

// Runs a kernel that sums EnergyVirial: into request.totals on the device when
// the request has one (no wait for the kernel, no copy), else into
// result.energy and result.virial on the host. The same reduction either way,
// so the sums are the same numbers.
template <class Policy, class Kernel>
void reduce_energy_and_virial(const std::string& label, const Policy& policy, const Kernel& kernel,
                              const ComputeRequest& request, ComputeResult& result) {
  if (request.totals.is_allocated()) {
    Kokkos::parallel_reduce(label, policy, kernel,
                            Kokkos::Sum<EnergyVirial, MemSpace>(request.totals));
    set_totals_on_device(result);
    return;
  }
  EnergyVirial total;
  Kokkos::parallel_reduce(label, policy, kernel, Kokkos::Sum<EnergyVirial>(total));
  set_energy_and_virial(result, total);
}

}  // namespace otfgp
