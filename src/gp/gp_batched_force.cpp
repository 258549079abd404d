// The mapped GP's energy and forces in three kernels (gp_batched_force.hpp).

#include "otfgp/gp/gp_batched_force.hpp"

#include <algorithm>
#include <string>

#include "otfgp/core/error.hpp"
#include "otfgp/core/grown_view.hpp"

namespace otfgp::gp_batched {

namespace {

// Atoms whose β_s d̂ one team computes together: each number of β_s read once
// per block. 32 accumulators per thread stay in registers on a GPU.
constexpr int product_block = 32;

// Team sizes unless Workspace::team_size sets one: the backend's choice on the
// host (one thread); on a GPU a warp per atom (an atom's work is a few dozen
// neighbours and n_max channels wide: a larger team idles and keeps fewer atoms
// in flight), and a thread per output column for the products.
int atom_team(const Workspace& work) {
  return work.team_size != 0 || host_memory ? work.team_size : 32;
}
int product_team(const Workspace& work, int columns) {
  return work.team_size != 0 || host_memory ? work.team_size
                                            : std::min(256, (columns + 31) / 32 * 32);
}

// m when it has rows × columns, else a new uninitialised view named `label`.
Matrix sized(const Matrix& m, const char* label, int rows, int columns) {
  if (m.extent(0) == std::size_t(rows) && m.extent(1) == std::size_t(columns)) return m;
  return Matrix(Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string(label)), rows, columns);
}

// Kernel 1: per atom, A (the terms without the harmonics' gradients of its
// pairs within the cutoff, gathered as gp_energy_kernel's), d, |d|, d̂ and the
// two-body block. The pairs' terms are made and gathered in batches of the
// team's size, so that the team's cache holds a batch, not the longest list
// (diamond Si at 5 Å + 1 Å skin: 32 pairs' terms, 9.7 KB, instead of 46's, 14 KB;
// a long list would have gone to level 1).
void descriptors(const b2::B2Basis& basis, const NeighborList& list, const AtomState& state,
                 const Kokkos::View<const int*, MemSpace>& centres, const Workspace& work) {
  const NeighborView neighbors = list.view();
  const VecView x = state.x;
  const IntView type = state.type;
  const bool all_centres = centres.extent(0) == 0;
  const int size = basis.power_size, density_size = basis.density_size;
  const int pairs = basis.size - basis.power_size, harmonics = basis.n_harmonics;
  const int stride = basis.terms_size(b2::Terms::harmonics);
  const int max_pairs = list.max_neighbors();
  const std::size_t team_bytes = ScratchView::shmem_size(density_size) +
                                 ScratchView::shmem_size(size) +
                                 b2::IndexScratch::shmem_size(max_pairs + 1);
  // Pairs cached at once: a team's threads (the backend's largest team where
  // Kokkos chooses), at most the longest list, at least one.
  const int team_size = atom_team(work);
  const int batch_capacity =
      std::max(1, std::min(max_pairs, team_size > 0 ? team_size : largest_team_size()));
  const std::size_t cache_bytes = ScratchView::shmem_size(std::size_t(batch_capacity) * stride);
  // Automatic: all of it at one level, the team's fast memory while it fits;
  // a chosen level for the pairs' cache keeps A and d at level 0 while they fit.
  const int cache_level = work.pair_scratch_level >= 0
                              ? work.pair_scratch_level
                              : b2::scratch_level(team_bytes + cache_bytes);
  const int level = work.pair_scratch_level >= 0 ? b2::scratch_level(team_bytes) : cache_level;
  const Matrix unit = work.unit, density = work.density;
  const ScalarView norm = work.norm;
  const auto kernel = KOKKOS_LAMBDA(const Member& team) {
    const int i = team.league_rank();
    ScratchView A(team.team_scratch(level), density_size);
    ScratchView d(team.team_scratch(level), size);
    b2::IndexScratch near(team.team_scratch(level), max_pairs + 1);
    ScratchView cache(team.team_scratch(cache_level), std::size_t(batch_capacity) * stride);
    const bool centre = all_centres || centres(i);
    double norm_squared = 0.0;
    if (centre) {
      const int s_i = basis.type_map(type(i));
      const int count =
          basis.pairs_within_cutoff(team, neighbors, x, type, i, s_i, max_pairs, near.data());
      const int batch = team.team_size() < batch_capacity ? team.team_size() : batch_capacity;
      basis.density_from_pairs(
          team, neighbors, x, type, i, s_i, count, [&](int q) { return near(q); },
          b2::Terms::harmonics, batch, cache.data(), A.data());
      basis.power_spectrum(team, A.data(), d.data());
      Kokkos::parallel_reduce(
          Kokkos::TeamThreadRange(team, size), [&](int e, double& s) { s += d(e) * d(e); },
          norm_squared);
    }
    const bool empty = !centre || norm_squared <= empty_norm_squared;
    const double inv_norm = empty ? 0.0 : 1.0 / kmath::sqrt(norm_squared);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, size),
                         [&](int e) { unit(i, e) = empty ? 0.0 : d(e) * inv_norm; });
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, pairs),
                         [&](int p) { unit(i, size + p) = empty ? 0.0 : A(p * harmonics); });
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, density_size),
                         [&](int a) { density(i, a) = empty ? 0.0 : A(a); });
    Kokkos::single(Kokkos::PerTeam(team), [&]() { norm(i) = empty ? 0.0 : 1.0 / inv_norm; });
  };
  const auto scratch =
      b2::TeamScratch().per_team(level, team_bytes).per_team(cache_level, cache_bytes);
  Kokkos::parallel_for("GpPotential::descriptors",
                       checked_policy<Kokkos::ParallelForTag>(state.natoms, team_size, scratch,
                                                              kernel, "GpPotential::descriptors"),
                       kernel);
}

// Kernel 2: product(i, e) = Σ_f β_s(f, e) d̂_f for blocks of product_block
// atoms, thread e of a team holding the block's sums; the sums grouped four
// terms at a time as symmetric_product's (team_product.hpp). β_s is symmetric,
// so the threads' reads of β_s(f, e) are contiguous.
void products(const b2::B2Basis& basis, const AtomState& state,
              const Kokkos::View<double***, Kokkos::LayoutRight, MemSpace>& beta,
              const Workspace& work) {
  const int natoms = state.natoms, size = basis.power_size;
  const IntView type = state.type;
  const auto type_map = basis.type_map;
  const Matrix unit = work.unit, product = work.product;
  const int blocks = (natoms + product_block - 1) / product_block;
  const auto kernel = KOKKOS_LAMBDA(const Member& team) {
    const int first = team.league_rank() * product_block;
    const int count = natoms - first < product_block ? natoms - first : product_block;
    const int species = type_map(type(first));
    bool uniform = true;
    for (int a = 1; a < count; ++a) uniform = uniform && type_map(type(first + a)) == species;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, size), [&](int e) {
      double sum[product_block];
      for (int a = 0; a < product_block; ++a) sum[a] = 0.0;
      // β_s(f…f+3, e) of atom a's species.
      const auto column = [&](int a, int f) {
        return &beta(uniform ? species : type_map(type(first + a)), f, e);
      };
      int f = 0;
      for (; f + 4 <= size; f += 4) {
        const double* b = column(0, f);
        for (int a = 0; a < product_block; ++a) {
          if (a >= count) break;
          if (!uniform) b = column(a, f);
          const double* u = &unit(first + a, f);
          sum[a] += b[0] * u[0] + b[size] * u[1] + b[2 * size] * u[2] + b[3 * size] * u[3];
        }
      }
      for (; f < size; ++f)
        for (int a = 0; a < product_block; ++a) {
          if (a >= count) break;
          sum[a] += *column(a, f) * unit(first + a, f);
        }
      for (int a = 0; a < product_block; ++a) {
        if (a >= count) break;
        product(first + a, e) = sum[a];
      }
    });
  };
  const int team_size = product_team(work, size);
  Kokkos::parallel_for("GpPotential::beta_products",
                       checked_policy<Kokkos::ParallelForTag>(blocks, team_size, b2::TeamScratch(),
                                                              kernel, "GpPotential::beta_products"),
                       kernel);
}

// Kernel 2 as dense products: for the centres of each species, chunk by
// chunk, their d̂ rows gathered, one product with β_s (symmetric), the rows
// scattered back; a one-species model with every atom a centre multiplies d̂
// in place. A chunk reads β_s once, at the BLAS kernel's speed; the per-atom
// products read it for every atom, from memory once β_s (D_b² numbers, 3.7 MB
// for the Ba–Rh–O model's D_b = 684) outgrows a core's cache.
void dense_products(const b2::B2Basis& basis, const AtomState& state,
                    const Kokkos::View<const int*, MemSpace>& centres,
                    const Kokkos::View<double***, Kokkos::LayoutRight, MemSpace>& beta,
                    Workspace& work) {
  const int natoms = state.natoms, size = basis.power_size;
  const int unit_stride = int(work.unit.stride(0)), product_stride = int(work.product.stride(0));
  if (basis.n_species == 1 && centres.extent(0) == 0) {
    work.blas.multiply(false, false, natoms, size, size, 1.0, work.unit.data(), unit_stride,
                       beta.data(), size, 0.0, work.product.data(), product_stride);
    return;
  }
  // Atoms per product: on the host 1.4 MB of rows at D_b = 684 (they stay in
  // cache), on a device enough to fill it.
  const int chunk = std::min(natoms, host_memory ? 256 : 16384);
  if (work.grouped.extent(0) < std::size_t(natoms))
    work.grouped = Kokkos::View<int*, MemSpace>("GpPotential::grouped_centres", natoms);
  // Chunk buffers only grow, so that smaller systems reuse them.
  work.rows = grown(work.rows, "GpPotential::chunk_rows", chunk, size);
  work.products = grown(work.products, "GpPotential::chunk_products", chunk, size);
  const std::vector<int> first =
      group_by_species(state.type, basis.type_map, centres, std::vector<char>(basis.n_species, 1),
                       natoms, work.grouped);
  const Kokkos::View<const int*, MemSpace> grouped = work.grouped;
  const Matrix unit = work.unit, product = work.product, rows = work.rows, products = work.products;
  for (int s = 0; s < basis.n_species; ++s)
    for (int start = first[s]; start < first[s + 1]; start += chunk) {
      const int n = std::min(chunk, first[s + 1] - start);
      gather_rows(unit, grouped, start, n, size, rows);
      work.blas.multiply(false, false, n, size, size, 1.0, rows.data(), int(rows.extent(1)),
                         beta.data() + std::size_t(s) * size * size, size, 0.0, products.data(),
                         int(products.extent(1)));
      Kokkos::parallel_for(
          "GpPotential::scatter_products", RangePolicy(0, n * size), KOKKOS_LAMBDA(int k) {
            product(grouped(start + k / size), k % size) = products(k / size, k % size);
          });
    }
}

}  // namespace

void gather_rows(const Matrix& from, const Kokkos::View<const int*, MemSpace>& order, int start,
                 int n, int columns, const Matrix& to) {
  Kokkos::parallel_for(
      "GpPotential::gather_rows", RangePolicy(0, n * columns), KOKKOS_LAMBDA(int k) {
        to(k / columns, k % columns) = from(order(start + k / columns), k % columns);
      });
}

// The centres whose descriptor species s has want[s] set, grouped by species
// in ascending atom order into `order` (from position 0), as the host's lists
// of them were: one scan per species on the device, no copy of the atoms to the
// host. Returns where each species' atoms start (n_species + 1 numbers, host).
std::vector<int> group_by_species(const IntView& type,
                                  const Kokkos::View<const int*, MemSpace>& type_map,
                                  const Kokkos::View<const int*, MemSpace>& centres,
                                  const std::vector<char>& want, int natoms,
                                  const Kokkos::View<int*, MemSpace>& order) {
  const bool all_centres = centres.extent(0) == 0;
  std::vector<int> first(want.size() + 1, 0);
  for (std::size_t s = 0; s < want.size(); ++s) {
    int count = 0;
    if (want[s]) {
      const int offset = first[s], species = int(s);
      Kokkos::parallel_scan(
          "GpPotential::group_by_species", RangePolicy(0, natoms),
          KOKKOS_LAMBDA(int i, int& position, bool final) {
            if (!(all_centres || centres(i)) || type_map(type(i)) != species) return;
            if (final) order(offset + position) = i;
            ++position;
          },
          count);
    }
    first[s + 1] = first[s] + count;
  }
  return first;
}

void Workspace::resize_unit(int natoms, const b2::B2Basis& basis) {
  unit = sized(unit, "GpPotential::unit_descriptor", natoms, basis.size);
  if (norm.extent(0) != std::size_t(natoms))
    norm = ScalarView("GpPotential::descriptor_norm", natoms);
}

void Workspace::resize(int natoms, const b2::B2Basis& basis) {
  resize_unit(natoms, basis);
  density = sized(density, "GpPotential::density", natoms, basis.density_size);
  product = sized(product, "GpPotential::beta_product", natoms, basis.power_size);
}

void descriptors_and_products(const b2::B2Basis& basis, const NeighborList& list,
                              const AtomState& state,
                              const Kokkos::View<const int*, MemSpace>& centres,
                              const Kokkos::View<double***, Kokkos::LayoutRight, MemSpace>& beta,
                              Workspace& work) {
  descriptors(basis, list, state, centres, work);
  if (has_dense_products && work.team_size == 0)
    dense_products(basis, state, centres, beta, work);
  else
    products(basis, state, beta, work);
}

// Kernel 3, per atom: ∂ε/∂d = 2(β_s d̂ − (d̂ᵀβ_s d̂) d̂)/|d| (+ t_s), the adjoint
// to ∂ε/∂A (+ v_s), then each thread rebuilds the terms of its pairs within
// the cutoff (pairs_within_cutoff), what the contraction reads (the radial
// terms in a team, or on a device: the harmonics are made as they are used),
// and scatters their forces (no per-team cache of every neighbour).
void energy_and_forces(const b2::B2Basis& basis, const NeighborList& list, const AtomState& state,
                       const Kokkos::View<const int*, MemSpace>& centres, const ForceMaps& maps,
                       const Workspace& work, const ScalarView& per_atom,
                       const VirialView& per_atom_virial, const ForceScatter& forces,
                       const ComputeRequest& sums, ComputeResult& result) {
  const NeighborView neighbors = list.view();
  const VecView x = state.x;
  const IntView type = state.type;
  const bool all_centres = centres.extent(0) == 0;
  const int size = basis.power_size, density_size = basis.density_size;
  const int max_pairs = list.max_neighbors();
  const std::size_t scratch_bytes = ScratchView::shmem_size(density_size) +
                                    ScratchView::shmem_size(size) +
                                    b2::IndexScratch::shmem_size(max_pairs + 1);
  const int team_size = atom_team(work);
  // Sized for a team of any size (the host's one thread makes the most).
  const b2::Terms most_terms = b2::B2Basis::contracted_terms(false);
  b2::ScratchLevels levels = basis.terms_scratch_levels(scratch_bytes, team_size, most_terms);
  if (work.pair_scratch_level >= 0) levels.thread = work.pair_scratch_level;
  const int team_level = levels.team, terms_level = levels.thread;
  const auto reference = maps.reference;
  const Matrix unit = work.unit, density = work.density, product = work.product;
  const ScalarView norm = work.norm;
  const auto kernel = KOKKOS_LAMBDA(const Member& team, EnergyVirial& sum) {
    const int i = team.league_rank();
    if (!all_centres && !centres(i)) return;
    const int s_i = basis.type_map(type(i));
    if (norm(i) == 0.0) {
      Kokkos::single(Kokkos::PerTeam(team), [&]() {
        sum.energy += reference(s_i);
        if (per_atom.extent(0) > 0) per_atom(i) = reference(s_i);
      });
      return;
    }
    ScratchView w(team.team_scratch(team_level), size);
    ScratchView dE_dA(team.team_scratch(team_level), density_size);
    b2::IndexScratch near(team.team_scratch(team_level), max_pairs + 1);
    const int count =
        basis.pairs_within_cutoff(team, neighbors, x, type, i, s_i, max_pairs, near.data());
    // Each thread makes its pair's terms where it uses them.
    const b2::Terms made = b2::B2Basis::contracted_terms(team.team_size() > 1);
    double* terms = basis.thread_terms(team, terms_level, made);
    const auto with_terms = [&](int q, const auto& use) {
      if (basis.neighbor_terms(neighbors, x, type, i, s_i, near(q), made, terms)) use(terms);
    };
    atom_energy_and_forces(team, basis, maps, i, s_i, 1.0 / norm(i), &unit(i, 0), &product(i, 0),
                           &density(i, 0), w.data(), dE_dA.data(), 0, count, with_terms, forces,
                           per_atom, per_atom_virial, sum);
  };
  reduce_energy_and_virial("GpPotential::batched_forces",
                           checked_policy<Kokkos::ParallelReduceTag>(
                               state.natoms, team_size,
                               b2::TeamScratch()
                                   .per_team(team_level, scratch_bytes)
                                   .per_thread(terms_level, basis.terms_scratch_bytes(most_terms)),
                               kernel, "GpPotential::batched_forces"),
                           kernel, sums, result);
}

}  // namespace otfgp::gp_batched
