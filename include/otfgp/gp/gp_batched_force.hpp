#pragma once
// The mapped GP's energy and forces in three kernels instead of one, the form a
// GPU wants (docs/gpu.md, "The GP force pass on a GPU"):
//  1. descriptors: per atom (a team), the density A, d̂ = d/|d| and |d|, kept
//     in views over all atoms;
//  2. products: β_s d̂ for blocks of atoms, so that each number of β_s is read
//     once per block and not once per atom (the one-kernel form reads all of β_s,
//     D² numbers, for every atom: on a GPU most of its time, and on a core too
//     once β_s outgrows its cache): dense products per species and chunk of
//     atoms, through the system's BLAS on the host and cuBLAS on a CUDA device;
//  3. forces: per atom, ∂ε/∂d from d̂ and β_s d̂, the adjoint back to ∂ε/∂A, and
//     the neighbour contraction with the terms rebuilt in each thread.
// The same sums as GpPotential's one-kernel form (gp_energy_kernel), except
// that 1/|d| is recomputed from |d|: results agree to rounding.

#include <string>
#include <vector>

#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/gp/b2_kernels.hpp"
#include "otfgp/gp/dense_products.hpp"
#include "otfgp/potentials/compute_support.hpp"
#include "otfgp/potentials/many_body.hpp"

namespace otfgp::gp_batched {

using Matrix = Kokkos::View<double**, Kokkos::LayoutRight, MemSpace>;
using TeamPolicy = Kokkos::TeamPolicy<ExecSpace>;
using Member = TeamPolicy::member_type;
using b2::ScratchView;

// A league of teams of team_size threads; 0: Kokkos's choice (AUTO).
inline TeamPolicy team_policy(int league, int team_size) {
  return team_size > 0 ? TeamPolicy(league, team_size) : TeamPolicy(league, Kokkos::AUTO);
}

// The largest team this backend runs (1 on Serial, the threads on OpenMP).
inline int largest_team_size() {
  return TeamPolicy(1, 1).team_size_max(KOKKOS_LAMBDA(const Member&){}, Kokkos::ParallelForTag());
}

// A league of teams of `team_size` threads (0: the backend's choice) with
// `scratch` (b2::TeamScratch::on checks its sizes), after checking that
// `kernel` launches in teams that large (an explicit size, OTFGP_GP_FORCE_FORM's
// ":N"): on a GPU the limit follows the kernel's registers and scratch and
// lies below largest_team_size(), the backend's for an empty kernel (at 168
// registers a thread, ptxas's count in docs/gpu.md, an H100 block holds 12
// warps: 384). Tag: Kokkos::ParallelForTag or
// Kokkos::ParallelReduceTag.
template <class Tag, class Kernel>
TeamPolicy checked_policy(int league, int team_size, const b2::TeamScratch& scratch,
                          const Kernel& kernel, const char* name) {
  const TeamPolicy policy = scratch.on(team_policy(league, team_size), team_size, name);
  if (team_size > 0) {
    const int most = policy.team_size_max(kernel, Tag());
    if (team_size > most)
      throw Error(std::string(name) + " launches in teams of at most " + std::to_string(most) +
                  " threads on this backend (its registers and scratch), not " +
                  std::to_string(team_size) +
                  ": give OTFGP_GP_FORCE_FORM a smaller team size after ':'");
  }
  return policy;
}

// |d|² below this is an atom without neighbours: ε = e_ref, no force, no uncertainty.
inline constexpr double empty_norm_squared = 1e-24;

// The energy pass's per-atom arrays and team size (GpPotential keeps one):
// d̂ and |d| for both forms and the uncertainty pass after them, A and β_s d̂
// for the batched form only; `team_size` 0 takes the backend's choice
// (docs/gpu.md).
struct Workspace {
  Matrix unit;      // natoms × D: [d̂; q] (q: the two-body block, the l = 0 densities)
  ScalarView norm;  // |d|; 0 for an atom without neighbours or not a centre
  Matrix density;   // natoms × |A|
  Matrix product;   // natoms × D_b: β_s d̂
  int team_size = 0;
  // Where the kernels keep their pairs' terms (the descriptor kernel's cache
  // of every pair of a team's atom, the force kernel's one pair per thread):
  // −1 automatic (the team's fast memory, level 0, while the team's scratch
  // fits in 32 KB, else level 1), or the Kokkos scratch level 0 or 1 (on a
  // GPU: shared memory, which limits how many teams an SM holds, or global
  // memory through the caches).
  int pair_scratch_level = -1;
  // The dense products' centres grouped by species, a chunk of their d̂ rows
  // and of their products (kept, so that a step allocates nothing), and the
  // BLAS library (the uncertainty's products use it too).
  Kokkos::View<int*, MemSpace> grouped;
  Matrix rows, products;
  DenseProducts blas;

  // Sizes unit and norm for natoms atoms of this basis (no allocation when they fit).
  void resize_unit(int natoms, const b2::B2Basis& basis);
  // Sizes every view.
  void resize(int natoms, const b2::B2Basis& basis);
};

// to(b, e) = from(order(start + b), e) for b < n and e < columns: the rows of
// a chunk of grouped atoms, for a dense product.
void gather_rows(const Matrix& from, const Kokkos::View<const int*, MemSpace>& order, int start,
                 int n, int columns, const Matrix& to);

// The centres whose descriptor species s has want[s] set, grouped by species
// in ascending atom order into `order` (from position 0): one scan per species
// on the device, no copy of the atoms to the host. Returns where each
// species' atoms start (n_species + 1 numbers, host).
std::vector<int> group_by_species(const IntView& type,
                                  const Kokkos::View<const int*, MemSpace>& type_map,
                                  const Kokkos::View<const int*, MemSpace>& centres,
                                  const std::vector<char>& want, int natoms,
                                  const Kokkos::View<int*, MemSpace>& order);

// Kernels 1 and 2: fills unit, norm, density and product; the products are
// dense (BLAS) products where the backend has them (the host, CUDA) unless
// work.team_size is set (the tests then run the GPU's product kernel).
void descriptors_and_products(const b2::B2Basis& basis, const NeighborList& list,
                              const AtomState& state,
                              const Kokkos::View<const int*, MemSpace>& centres,
                              const Kokkos::View<double***, Kokkos::LayoutRight, MemSpace>& beta,
                              Workspace& work);

// The linear parts of the local energy: v_s (two-body, species × L), t_s
// (three-body, species × D_b), each of extent 0 when the model has none, and e_ref.
struct ForceMaps {
  Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> two_body, three_body;
  Kokkos::View<double*, MemSpace> reference;
};

// What a team sums over its atom's pairs: the site's energy and virial and
// the force on the atom itself, added to the force array once per atom (on a
// GPU an atomic per pair on one address would serialise the team's threads).
struct SiteSums {
  EnergyVirial site;
  double force[3] = {0.0, 0.0, 0.0};

  KOKKOS_INLINE_FUNCTION SiteSums() = default;
  KOKKOS_INLINE_FUNCTION SiteSums& operator+=(const SiteSums& other) {
    site += other.site;
    for (int c = 0; c < 3; ++c) force[c] += other.force[c];
    return *this;
  }
};

}  // namespace otfgp::gp_batched

namespace Kokkos {
template <>
struct reduction_identity<otfgp::gp_batched::SiteSums> {
  KOKKOS_FORCEINLINE_FUNCTION static otfgp::gp_batched::SiteSums sum() {
    return otfgp::gp_batched::SiteSums();
  }
};
}  // namespace Kokkos

namespace otfgp::gp_batched {

// One atom's local energy and forces from its d̂ (`unit`), β_s d̂ (`product`;
// may be `w` itself) and density A, for a team (both force forms):
// ∂ε/∂d = (I − d̂d̂ᵀ) 2β_s d̂ / |d| (+ t_s) into w, its adjoint ∂ε/∂A (+ v_s)
// into dE_dA, then for each pair k in [begin, end) (the caller's numbering)
// with_terms(k, use) calls use(t) with the pair's terms (not at all beyond its
// cutoff; what contract_gradient reads for this team): the pair's force is
// scattered. Adds ε = d̂ᵀβ_s d̂ + |d| t_s·d̂ + v_s·q + e_ref
// and the site's virial W_i = −Σ_j r_ij ⊗ ∂ε_i/∂r_j to `sum`, and writes them
// where per_atom, per_atom_virial are allocated.
template <class Member, class WithTerms>
KOKKOS_INLINE_FUNCTION void atom_energy_and_forces(
    const Member& team, const b2::B2Basis& basis, const ForceMaps& maps, int i, int s_i,
    double inv_norm, const double* unit, const double* product, const double* A, double* w,
    double* dE_dA, int begin, int end, const WithTerms& with_terms, const ForceScatter& forces,
    const ScalarView& per_atom, const VirialView& per_atom_virial, EnergyVirial& sum) {
  const int size = basis.power_size, pairs = basis.size - basis.power_size;
  const int harmonics = basis.n_harmonics;
  const auto& two_body = maps.two_body;
  const auto& three_body = maps.three_body;
  double quadratic = 0.0, linear = 0.0, pair_energy = 0.0;
  Kokkos::parallel_reduce(
      Kokkos::TeamThreadRange(team, size), [&](int e, double& s) { s += unit[e] * product[e]; },
      quadratic);
  // The three-body part t_s·d = |d| t_s·d̂ (kernel.hpp).
  if (three_body.extent(0) > 0)
    Kokkos::parallel_reduce(
        Kokkos::TeamThreadRange(team, size),
        [&](int e, double& s) { s += three_body(s_i, e) * unit[e]; }, linear);
  Kokkos::parallel_for(Kokkos::TeamThreadRange(team, size), [&](int e) {
    w[e] = 2.0 * (product[e] - quadratic * unit[e]) * inv_norm +
           (three_body.extent(0) > 0 ? three_body(s_i, e) : 0.0);
  });
  team.team_barrier();
  basis.power_spectrum_adjoint(team, A, w, dE_dA);
  // The two-body part v·q, q_p = A_{p,00}: ∂/∂A_{p,00} = v_p.
  if (pairs > 0) {
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, basis.n_radial),
                         [&](int p) { dE_dA[p * harmonics] += two_body(s_i, p); });
    Kokkos::parallel_reduce(
        Kokkos::TeamThreadRange(team, pairs),
        [&](int p, double& e) { e += two_body(s_i, p) * A[p * harmonics]; }, pair_energy);
  }
  team.team_barrier();
  SiteSums sums;
  Kokkos::parallel_reduce(
      Kokkos::TeamThreadRange(team, begin, end),
      [&](int k, SiteSums& local) {
        with_terms(k, [&](const double* t) {
          double g[3];
          basis.contract_gradient(t, dE_dA, g, team.team_size() > 1);
          auto f = forces.access();
          const int j = b2::B2Basis::term_atom(t);
          for (int c = 0; c < 3; ++c) {
            local.force[c] += g[c];
            f(j, c) -= g[c];
          }
          local.site.add_pair_virial(t, g, -1.0);
        });
      },
      Kokkos::Sum<SiteSums>(sums));
  Kokkos::single(Kokkos::PerTeam(team), [&]() {
    auto f = forces.access();
    for (int c = 0; c < 3; ++c) f(i, c) += sums.force[c];
    EnergyVirial& site = sums.site;
    site.energy = quadratic + linear / inv_norm + pair_energy + maps.reference(s_i);
    sum += site;
    if (per_atom.extent(0) > 0) per_atom(i) = site.energy;
    if (per_atom_virial.extent(0) > 0)
      for (int c = 0; c < 6; ++c) per_atom_virial(i, c) = site.virial[c];
  });
}
void energy_and_forces(const b2::B2Basis& basis, const NeighborList& list, const AtomState& state,
                       const Kokkos::View<const int*, MemSpace>& centres, const ForceMaps& maps,
                       const Workspace& work, const ScalarView& per_atom,
                       const VirialView& per_atom_virial, const ForceScatter& forces,
                       const ComputeRequest& sums, ComputeResult& result);

}  // namespace otfgp::gp_batched
