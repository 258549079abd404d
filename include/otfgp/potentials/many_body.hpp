#pragma once
// What every many-body compute() (Stillinger–Weber, Tersoff, the GP) does
// around its kernel: refuse a call before bind() or with a neighbour list too
// short for the potential, zero the forces, hand the kernel a scatter to add
// into, and sum the scatter back into the forces afterwards.
//
// Terms centred on atom i put forces on its neighbours j and k, so several
// threads may add to one atom. ScatterView picks the right tool for the
// backend: plain adds on Serial, per-thread copies on OpenMP, atomics on GPUs.
// Host code. The bound on one atom's neighbours that sizes per-atom scratch
// is NeighborList::max_neighbors(), counted once per list build.

#include <Kokkos_ScatterView.hpp>
#include <string>

#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/core/types.hpp"
#include "otfgp/potentials/compute_support.hpp"

namespace otfgp {

using ForceScatter = Kokkos::Experimental::ScatterView<double* [3], Kokkos::LayoutRight, ExecSpace>;

// Owns the force scatter of one potential; reuses it (and its per-thread
// copies) while the force view stays the same, so no step allocates.
class ManyBodyForces {
 public:
  // The prologue: check_ready_to_compute(owner, bound, list, cutoff), then
  // zeroes state.f and returns the scatter that the kernel adds into (eV/Å).
  const ForceScatter& begin(const std::string& owner, bool bound, const NeighborList& list,
                            double cutoff, const AtomState& state) {
    check_ready_to_compute(owner, bound, list, cutoff);
    const VecView& f = state.f;
    if (target_.data() != f.data() || target_.extent(0) != f.extent(0)) {
      scatter_ = ForceScatter(f);
      target_ = f;
    }
    // On the execution space: a fill that does not wait for the device.
    Kokkos::deep_copy(ExecSpace(), f, 0.0);
    scatter_.reset_except(f);
    return scatter_;
  }
  // The epilogue: sums the per-thread copies (if any) into state.f.
  void finish(const AtomState& state) { scatter_.contribute_into(state.f); }

 private:
  ForceScatter scatter_;
  VecView target_;
};

}  // namespace otfgp
