#pragma once
// Dense products inside a Kokkos team kernel, each in the form that suits the
// team (one host thread, or a GPU's many) with the same sums in the same
// order: the B2 GP's β_s d̂ per atom and the explained variance of a block of
// atoms (gp_potential.cpp). A header of their own so that a test can run both
// forms on one input.

#include <Kokkos_Core.hpp>
#include <cstddef>

namespace otfgp {

// out = β_s d for a symmetric D × D β_s (β is symmetric, so column j is row j),
// in two forms with the same sums in the same order, number for number:
//  - rows: one thread sweeps the rows in contiguous memory, four rows of β per
//    sweep (one load and store of `out` per four products);
//  - columns: a team of several threads (a GPU's), each taking the elements
//    r, r + T, …, so that the reads of a row of β by neighbouring threads
//    neighbour each other (coalesced).
// symmetric_product picks the one that suits the team.
KOKKOS_INLINE_FUNCTION void symmetric_product_rows(const double* beta_s, const double* d,
                                                   double* KOKKOS_RESTRICT out, int size) {
  for (int r = 0; r < size; ++r) out[r] = 0.0;
  int j = 0;
  for (; j + 4 <= size; j += 4) {
    const double d0 = d[j], d1 = d[j + 1], d2 = d[j + 2], d3 = d[j + 3];
    const double* KOKKOS_RESTRICT row0 = beta_s + std::size_t(j) * size;
    const double* KOKKOS_RESTRICT row1 = row0 + size;
    const double* KOKKOS_RESTRICT row2 = row1 + size;
    const double* KOKKOS_RESTRICT row3 = row2 + size;
    for (int r = 0; r < size; ++r)
      out[r] += row0[r] * d0 + row1[r] * d1 + row2[r] * d2 + row3[r] * d3;
  }
  for (; j < size; ++j) {
    const double dj = d[j];
    const double* KOKKOS_RESTRICT row = beta_s + std::size_t(j) * size;
    for (int r = 0; r < size; ++r) out[r] += row[r] * dj;
  }
}

template <class Team>
KOKKOS_INLINE_FUNCTION void symmetric_product_columns(const Team& team, const double* beta_s,
                                                      const double* d, double* out, int size) {
  Kokkos::parallel_for(Kokkos::TeamThreadRange(team, size), [&](int r) {
    double sum = 0.0;
    int j = 0;
    for (; j + 4 <= size; j += 4) {
      const double* column = beta_s + std::size_t(j) * size + r;
      sum += column[0] * d[j] + column[size] * d[j + 1] + column[2 * size] * d[j + 2] +
             column[3 * size] * d[j + 3];
    }
    for (; j < size; ++j) sum += beta_s[std::size_t(j) * size + r] * d[j];
    out[r] = sum;
  });
}

template <class Team>
KOKKOS_INLINE_FUNCTION void symmetric_product(const Team& team, const double* beta_s,
                                              const double* d, double* out, int size) {
  if (team.team_size() > 1)
    symmetric_product_columns(team, beta_s, d, out, size);
  else
    symmetric_product_rows(beta_s, d, out, size);
}

// explained[b] = Σ_a (Σ_u R_au k_ub)² for the atoms b < count of a block of
// Block: R is rank × m, row-major (a row per a); k is m × Block, u-major.
//  - rows (one thread): each row of R against the whole block at once, the
//    block's projections in an array, which vectorise;
//  - atoms (a team of several): each thread one atom b, reading the rows of R
//    as every other thread does (no atomics into `explained`, no array).
template <int Block>
KOKKOS_INLINE_FUNCTION void squared_projections_rows(const double* R, int rank, int m,
                                                     const double* k, int count,
                                                     double* explained) {
  for (int b = 0; b < count; ++b) explained[b] = 0.0;
  for (int a = 0; a < rank; ++a) {
    const double* row = R + std::size_t(a) * m;
    double projection[Block];
    for (int b = 0; b < Block; ++b) projection[b] = 0.0;
    for (int u = 0; u < m; ++u) {
      const double r = row[u];
      const double* k_u = k + std::size_t(u) * Block;
      for (int b = 0; b < Block; ++b) projection[b] += r * k_u[b];
    }
    for (int b = 0; b < count; ++b) explained[b] += projection[b] * projection[b];
  }
}

template <int Block, class Team>
KOKKOS_INLINE_FUNCTION void squared_projections_atoms(const Team& team, const double* R, int rank,
                                                      int m, const double* k, int count,
                                                      double* explained) {
  Kokkos::parallel_for(Kokkos::TeamThreadRange(team, count), [&](int b) {
    double sum = 0.0;
    for (int a = 0; a < rank; ++a) {
      const double* row = R + std::size_t(a) * m;
      double projection = 0.0;
      for (int u = 0; u < m; ++u) projection += row[u] * k[std::size_t(u) * Block + b];
      sum += projection * projection;
    }
    explained[b] = sum;
  });
}

template <int Block, class Team>
KOKKOS_INLINE_FUNCTION void squared_projections(const Team& team, const double* R, int rank, int m,
                                                const double* k, int count, double* explained) {
  if (team.team_size() > 1)
    squared_projections_atoms<Block>(team, R, rank, m, k, count, explained);
  else
    squared_projections_rows<Block>(R, rank, m, k, count, explained);
}

}  // namespace otfgp
