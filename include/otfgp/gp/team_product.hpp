#pragma once
// A symmetric matrix times a vector inside a Kokkos team kernel, in the form
// that suits the team: the B2 GP's β_s d̂ per atom (gp_potential.cpp). A
// header of its own so that a test can run both forms on one input.

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

}  // namespace otfgp
