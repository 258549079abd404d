#pragma once
// The loop every many-body potential shares (Stillinger–Weber, Tersoff),
// written once as pair_loop.hpp is for pair potentials: the readiness check
// and force scatter of many_body.hpp, a walk over each centre's full
// neighbour list that keeps the neighbours in range as "legs", then the
// potential's terms over those legs, and the per-atom and total energy and
// virial. A potential supplies only its physics, as a small struct copied into
// the kernel (the "body"):
//
//   using Leg = ...;  // what the terms need of one kept neighbour
//   // r² beyond which no term of a centre of type ti involves a neighbour
//   double reach_sq(int ti) const;
//   // Neighbour j (type tj) at dr = r_ij, r² = rsq < reach_sq(ti): whether it
//   // takes part; if so fills *leg unless leg is null (and may add its pair
//   // term to `site`).
//   bool keep(ManyBodySite& site, int j, int tj, const double dr[3], double rsq, Leg* leg) const;
//   // The leg keep() fills, made again (the short-list form).
//   Leg leg(int ti, int j, int tj, const double dr[3], double rsq) const;
//   // The remaining terms centred on site.i, over legs(0) … legs(count − 1);
//   // Legs::stored says whether legs(a) is a kept Leg& the terms may write
//   // into (the rows form) or a Leg remade at each call (the short-list form).
//   template <class Legs> void terms(ManyBodySite& site, const Legs& legs, int count) const;
//
// All of them must be KOKKOS_INLINE_FUNCTION; a body of a LAMMPS triplet file
// gets reach_sq from TripletParams (manybody_support.hpp). The kernel is a
// named functor, not a KOKKOS_LAMBDA, so nvcc's rules for extended lambdas do
// not reach the body.
//
// Where the legs live between the walk and the terms is the loop's form
// (ManyBodyForm below; docs/gpu.md, "Many-body potentials on a GPU"). Both
// forms make the same numbers in the same order.

#include <string>
#include <type_traits>
#include <utility>

#include "manybody_support.hpp"
#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/grown_view.hpp"
#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/core/types.hpp"
#include "otfgp/potentials/compute_support.hpp"
#include "otfgp/potentials/many_body.hpp"
#include "otfgp/potentials/potential.hpp"

namespace otfgp {

// Where the loop keeps each centre's legs.
enum class ManyBodyForm {
  // Each thread keeps its centre's legs in a scratch row (ScratchRows: one
  // per thread that runs at once, never more than atoms, each as long as the
  // longest neighbour list); every leg is made once and the terms read it as
  // often as they need. The default: on a CPU the rows stay in cache.
  rows,
  // Each centre keeps the list entries of its legs (one int each, a row per
  // atom), and the terms make a leg again from its entry whenever they read
  // it: square roots and divisions (and, for SW, an exponential) per triplet
  // instead of per neighbour. No per-thread rows: LAMMPS KOKKOS's form for
  // GPUs.
  short_list,
};

// OTFGP_MANYBODY_FORM: `rows` or `short`, for measurements (docs/gpu.md);
// unset: rows. Anything else is an Error naming the variable.
ManyBodyForm many_body_form_from_environment();

using ForceAccess = decltype(std::declval<const ForceScatter&>().access());

// One centre's running sums while its terms are added, kept in registers.
// The virial is the centre's site virial W_i = Σ_j r_ij ⊗ F_j (i at the origin).
struct ManyBodySite {
  ForceAccess f;                          // adds forces on other atoms (eV/Å)
  int i;                                  // the centre
  int type;                               // its type index
  double force[3] = {0, 0, 0};            // on i (eV/Å)
  double energy = 0.0;                    // site energy (eV)
  double virial[6] = {0, 0, 0, 0, 0, 0};  // eV, Voigt xx yy zz yz xz xy

  // A pair term met from i's end of a full list: i takes all of its force and
  // half of its energy and virial (the other half comes from j's end).
  // pair_energy is the whole pair's (eV); force_over_r = −(dφ/dr)/r (eV/Å²).
  KOKKOS_INLINE_FUNCTION void add_pair(const double dr[3], double pair_energy,
                                       double force_over_r) {
    energy += 0.5 * pair_energy;
    double fij[3];
    for (int d = 0; d < 3; ++d) {
      fij[d] = force_over_r * dr[d];
      force[d] -= fij[d];
    }
    add_virial(virial, dr, fij, 0.5);
  }
  // A force fj on the neighbour j at dr = r_ij from a term centred on i: j
  // takes it, i its reaction, and the site virial r_ij ⊗ fj.
  KOKKOS_INLINE_FUNCTION void add_neighbor_force(int j, const double dr[3], const double fj[3]) {
    for (int d = 0; d < 3; ++d) {
      force[d] -= fj[d];
      f(j, d) += fj[d];
    }
    add_virial(virial, dr, fj, 1.0);
  }
};

// The legs kept for one centre in the rows form: its row of the per-thread
// scratch.
template <class Leg>
struct ManyBodyLegs {
  static constexpr bool stored = true;
  typename ScratchRows<Leg>::View rows;
  int row;
  KOKKOS_INLINE_FUNCTION Leg& operator()(int a) const { return rows(row, a); }
};

// The legs of one centre in the short-list form: each remade from its list
// entry when read.
template <class Kernel>
struct ManyBodyShortLegs {
  static constexpr bool stored = false;
  const Kernel& kernel;
  int i, type;   // the centre and its type index
  double xi[3];  // its position (Å)
  KOKKOS_INLINE_FUNCTION typename Kernel::Leg operator()(int a) const {
    double dr[3];
    int j;
    const double rsq = kernel.delta(kernel.store.entries(i, a), xi, dr, j);
    return kernel.body.leg(type, j, kernel.type(j), dr, rsq);
  }
};

// What each form keeps between the walk and the terms.
template <class Leg>
struct ManyBodyRowStore {
  typename ScratchRows<Leg>::View rows;
  typename ScratchRows<Leg>::Token token;
};
struct ManyBodyShortStore {
  Kokkos::View<int**, MemSpace> entries;  // per centre, the list entries of its legs
};

// The kernel: one centre per call, its forces on others through the scatter.
template <class Body, ManyBodyForm form>
struct ManyBodyKernel {
  using Leg = typename Body::Leg;
  Body body;
  SiteOutputs sites;
  NeighborView neighbors;
  VecView x;
  IntView type;
  ForceScatter scatter;
  std::conditional_t<form == ManyBodyForm::rows, ManyBodyRowStore<Leg>, ManyBodyShortStore> store;

  KOKKOS_INLINE_FUNCTION void operator()(int i, EnergyVirial& sum) const {
    if (!sites.is_centre(i)) return;
    ManyBodySite site{scatter.access(), i, type(i)};
    const double xi[3] = {x(i, 0), x(i, 1), x(i, 2)};
    int count = 0;
    if constexpr (form == ManyBodyForm::rows) {
      const ManyBodyLegs<Leg> legs{store.rows, store.token.acquire()};
      walk(site, xi, [&](int, int j, const double dr[3], double rsq) {
        if (body.keep(site, j, type(j), dr, rsq, &legs(count))) ++count;
      });
      body.terms(site, legs, count);
      store.token.release(legs.row);
    } else {
      walk(site, xi, [&](int s, int j, const double dr[3], double rsq) {
        // The pair term now, the leg whenever the terms read it.
        if (body.keep(site, j, type(j), dr, rsq, nullptr)) store.entries(i, count++) = s;
      });
      const ManyBodyShortLegs<ManyBodyKernel> legs{*this, i, site.type, {xi[0], xi[1], xi[2]}};
      body.terms(site, legs, count);
    }
    for (int d = 0; d < 3; ++d) site.f(i, d) += site.force[d];
    sum.energy += site.energy;
    for (int c = 0; c < 6; ++c) sum.virial[c] += site.virial[c];
    sites.store(i, site.energy, site.virial);
  }

  // visit(s, j, dr, rsq) for each entry s of the centre's list within its
  // reach, in list order.
  template <class Visit>
  KOKKOS_INLINE_FUNCTION void walk(const ManyBodySite& site, const double xi[3],
                                   const Visit& visit) const {
    // Most list entries lie in the skin: reject them before touching types.
    const double reach_sq = body.reach_sq(site.type);
    const int end = neighbors.offsets(site.i + 1);
    for (int s = neighbors.offsets(site.i); s < end; ++s) {
      double dr[3];
      int j;
      const double rsq = delta(s, xi, dr, j);
      if (rsq < reach_sq) visit(s, j, dr, rsq);
    }
  }

  // dr = r_ij of list entry s (NeighborView::delta with x_i held in
  // registers) and its neighbour j; returns r² (Å²).
  KOKKOS_INLINE_FUNCTION double delta(int s, const double xi[3], double dr[3], int& j) const {
    j = neighbors.index(s);
    const int image = neighbors.image(s);
    for (int d = 0; d < 3; ++d) dr[d] = x(j, d) + neighbors.image_vector(image, d) - xi[d];
    return dr[0] * dr[0] + dr[1] * dr[1] + dr[2] * dr[2];
  }
};

// What a many-body potential keeps between calls: the force scatter and the
// legs' storage (scratch rows, or the short lists), so that no step allocates.
template <class Body>
class ManyBodyLoop {
 public:
  // owner names the potential in messages ("sw"), label its kernels
  // ("StillingerWeber"); the form is OTFGP_MANYBODY_FORM's.
  ManyBodyLoop(std::string owner, std::string label)
      : owner_(std::move(owner)),
        label_(std::move(label)),
        form_(many_body_form_from_environment()) {}

  // Potential::compute for `body`: refuses an unbound potential or a list
  // shorter than `cutoff` (Å), overwrites state.f, and returns the energy,
  // virial and the per-atom values the request asks for.
  ComputeResult compute(const Body& body, bool bound, double cutoff, AtomState& state,
                        const NeighborList& list, const ComputeRequest& request) {
    const ForceScatter& scatter = forces_.begin(owner_, bound, list, cutoff, state);
    ComputeResult result;
    const SiteOutputs sites = site_outputs(label_, request, state.natoms, result);
    const RangePolicy policy(0, state.natoms);
    if (form_ == ManyBodyForm::rows) {
      legs_.reserve(state.natoms, list.max_neighbors());
      const ManyBodyKernel<Body, ManyBodyForm::rows> kernel{
          body, sites, list.view(), state.x, state.type, scatter, {legs_.view(), legs_.token()}};
      reduce_energy_and_virial(label_ + "::compute", policy, kernel, request, result);
    } else {
      // A row per atom, as long as the longest neighbour list.
      entries_ = grown(entries_, "ManyBodyShortLists", state.natoms, list.max_neighbors());
      const ManyBodyKernel<Body, ManyBodyForm::short_list> kernel{
          body, sites, list.view(), state.x, state.type, scatter, {entries_}};
      reduce_energy_and_virial(label_ + "::compute_short", policy, kernel, request, result);
    }
    forces_.finish(state);
    return result;
  }

 private:
  std::string owner_, label_;
  ManyBodyForm form_;
  ManyBodyForces forces_;
  ScratchRows<typename Body::Leg> legs_;
  Kokkos::View<int**, MemSpace> entries_;
};

}  // namespace otfgp
