#pragma once
// The loop every many-body potential shares (Stillinger–Weber, Tersoff),
// written once as pair_loop.hpp is for pair potentials: the readiness check
// and force scatter of many_body.hpp, a walk over each centre's full
// neighbour list that keeps the neighbours in range as "legs" in per-thread
// scratch, then the potential's terms over those legs, and the per-atom and
// total energy and virial. A potential supplies only its physics, as a small
// struct copied into the kernel (the "body"):
//
//   using Leg = ...;  // what the terms need of one kept neighbour
//   // r² beyond which no term of a centre of type ti involves a neighbour
//   double reach_sq(int ti) const;
//   // Neighbour j (type tj) at dr = r_ij, r² = rsq < reach_sq(ti): whether it
//   // takes part; if so fills `leg` (and may add its pair term to `site`).
//   bool keep(ManyBodySite& site, int j, int tj, const double dr[3], double rsq, Leg& leg) const;
//   // The remaining terms centred on site.i, over legs(0) … legs(count − 1).
//   void terms(ManyBodySite& site, const ManyBodyLegs<Leg>& legs, int count) const;
//
// All three must be KOKKOS_INLINE_FUNCTION; a body of a LAMMPS triplet file
// gets reach_sq from TripletParams (manybody_support.hpp). The kernel is a
// named functor, not a KOKKOS_LAMBDA, so nvcc's rules for extended lambdas do
// not reach the body.

#include <string>
#include <utility>

#include "manybody_support.hpp"
#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/core/types.hpp"
#include "otfgp/potentials/compute_support.hpp"
#include "otfgp/potentials/many_body.hpp"
#include "otfgp/potentials/potential.hpp"

namespace otfgp {

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

// The legs kept for one centre: its row of the per-thread scratch.
template <class Leg>
struct ManyBodyLegs {
  typename ScratchRows<Leg>::View rows;
  int row;
  KOKKOS_INLINE_FUNCTION Leg& operator()(int a) const { return rows(row, a); }
};

// The kernel: one centre per call, its forces on others through the scatter.
template <class Body>
struct ManyBodyKernel {
  using Leg = typename Body::Leg;
  Body body;
  SiteOutputs sites;
  NeighborView neighbors;
  VecView x;
  IntView type;
  ForceScatter scatter;
  typename ScratchRows<Leg>::View scratch;
  typename ScratchRows<Leg>::Token token;

  KOKKOS_INLINE_FUNCTION void operator()(int i, EnergyVirial& sum) const {
    if (!sites.is_centre(i)) return;
    ManyBodySite site{scatter.access(), i, type(i)};
    const ManyBodyLegs<Leg> legs{scratch, token.acquire()};
    // Most list entries lie in the skin: reject them before touching types.
    const double reach_sq = body.reach_sq(site.type);
    const double xi[3] = {x(i, 0), x(i, 1), x(i, 2)};
    int count = 0;
    const int end = neighbors.offsets(i + 1);
    for (int s = neighbors.offsets(i); s < end; ++s) {
      // NeighborView::delta with x_i held in registers.
      const int j = neighbors.index(s), image = neighbors.image(s);
      double dr[3];
      for (int d = 0; d < 3; ++d) dr[d] = x(j, d) + neighbors.image_vector(image, d) - xi[d];
      const double rsq = dr[0] * dr[0] + dr[1] * dr[1] + dr[2] * dr[2];
      if (rsq >= reach_sq) continue;
      if (body.keep(site, j, type(j), dr, rsq, legs(count))) ++count;
    }
    body.terms(site, legs, count);
    token.release(legs.row);
    for (int d = 0; d < 3; ++d) site.f(i, d) += site.force[d];
    sum.energy += site.energy;
    for (int c = 0; c < 6; ++c) sum.virial[c] += site.virial[c];
    sites.store(i, site.energy, site.virial);
  }
};

// What a many-body potential keeps between calls: the force scatter and the
// scratch rows of legs, so that no step allocates.
template <class Body>
class ManyBodyLoop {
 public:
  // owner names the potential in messages ("sw"), label its kernels ("StillingerWeber").
  ManyBodyLoop(std::string owner, std::string label)
      : owner_(std::move(owner)), label_(std::move(label)) {}

  // Potential::compute for `body`: refuses an unbound potential or a list
  // shorter than `cutoff` (Å), overwrites state.f, and returns the energy,
  // virial and the per-atom values the request asks for.
  ComputeResult compute(const Body& body, bool bound, double cutoff, AtomState& state,
                        const NeighborList& list, const ComputeRequest& request) {
    const ForceScatter& scatter = forces_.begin(owner_, bound, list, cutoff, state);
    ComputeResult result;
    legs_.reserve(state.natoms, list.max_neighbors());
    const ManyBodyKernel<Body> kernel{
        body,         site_outputs(label_, request, state.natoms, result),
        list.view(),  state.x,
        state.type,   scatter,
        legs_.view(), legs_.token()};
    reduce_energy_and_virial(label_ + "::compute", RangePolicy(0, state.natoms), kernel, request,
                             result);
    forces_.finish(state);
    return result;
  }

 private:
  std::string owner_, label_;
  ManyBodyForces forces_;
  ScratchRows<typename Body::Leg> legs_;
};

}  // namespace otfgp
