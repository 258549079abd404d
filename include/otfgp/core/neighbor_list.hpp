#pragma once
// Full neighbour lists (every pair i–j appears for i and for j) in CSR form on
// the device. Pairs carry a periodic image index, so any triclinic cell works,
// including cells shorter than the cutoff where an atom meets many images of
// the same partner, and an atom may meet its own images. The list holds every
// pair within cutoff + skin; potentials apply their own cutoff.

#include <vector>

#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/types.hpp"

namespace otfgp {

// What kernels see: plain views, copyable by value into a KOKKOS_LAMBDA.
struct NeighborView {
  Kokkos::View<const int*, MemSpace> offsets;  // natoms + 1
  Kokkos::View<const int*, MemSpace> index;    // neighbour atom j of each pair
  Kokkos::View<const int*, MemSpace> image;    // row of image_vector for each pair
  Kokkos::View<const double* [3], Kokkos::LayoutRight, MemSpace> image_vector;  // S·h (Å)

  // r = x_j + S·h − x_i for pair k of atom i.
  KOKKOS_INLINE_FUNCTION void delta(const VecView& x, int i, int k, double r[3]) const {
    const int j = index(k), m = image(k);
    for (int d = 0; d < 3; ++d) r[d] = x(j, d) + image_vector(m, d) - x(i, d);
  }
};

// The kernels of the list's bookkeeping, as free functions: nvcc does not allow
// a KOKKOS_LAMBDA in a private or protected member function (docs/gpu.md).
// Wraps every position back into the cell along the periodic directions.
void wrap_into_cell(const Box& box, const VecView& x, int natoms);
// s(i) = h⁻¹ x(i), the fractional coordinates, into `fractional` (natoms × 3).
void fractional_positions(const Box& box, const VecView& x, int natoms, const VecView& fractional);
// |h (s − s0(i))|² for atom i at Cartesian position r: the square of how far
// it moved since `s0` (fractional coordinates) was recorded, measured with the
// current cell (Å²). The square root is monotone, so a largest displacement
// is the root of the largest square (one root instead of one per atom).
KOKKOS_INLINE_FUNCTION double displacement_squared_since(const Box& box, const double r[3], int i,
                                                         const VecView& s0) {
  double s[3], ds[3], dr[3];
  box.fractional(r, s);
  for (int d = 0; d < 3; ++d) ds[d] = s[d] - s0(i, d);
  box.cartesian(ds, dr);
  return dr[0] * dr[0] + dr[1] * dr[1] + dr[2] * dr[2];
}
// Its root (Å), for atom i at x(i).
KOKKOS_INLINE_FUNCTION double displacement_since(const Box& box, const VecView& x, int i,
                                                 const VecView& s0) {
  const double r[3] = {x(i, 0), x(i, 1), x(i, 2)};
  return kmath::sqrt(displacement_squared_since(box, r, i, s0));
}
// The largest displacement_since of any atom.
double max_displacement(const Box& box, const VecView& x, int natoms, const VecView& s0);
// The most list entries any one atom has (0 for no atoms).
int max_entries_per_atom(const Kokkos::View<const int*, MemSpace>& offsets, int natoms);

class NeighborList {
 public:
  // cutoff: the potential's interaction range; skin: Verlet buffer (Å).
  NeighborList(double cutoff, double skin);

  double cutoff() const { return cutoff_; }
  double skin() const { return skin_; }
  // Rebuilds (cell list, O(N)) when never built or when some atom may have come
  // within the cutoff of a partner not on the list: 2·max displacement plus the
  // cell strain's effect on a pair at cutoff + skin exceeds the skin. Otherwise
  // refreshes the image vectors for the current cell. Returns true on rebuild.
  // A rebuild wraps positions back into the cell along periodic directions.
  bool update(AtomState& state);
  // The same, given the largest displacement_since(…, fractional_at_build(state))
  // of any atom (Å), for a caller that measures it in a reduction of its own
  // with more in it (the MD engine measures where the next drift will take
  // the atoms in its second half-step: one wait for the device per step
  // instead of two).
  bool update(AtomState& state, double moved);
  // The fractional positions at the last build, or an empty view when the next
  // update rebuilds anyway (never built, or a different number of atoms).
  VecView fractional_at_build(const AtomState& state) const;
  void build(AtomState& state);
  // O(N² × images) reference builder with the same result (up to pair order).
  void build_brute_force(AtomState& state);

  const NeighborView& view() const { return view_; }
  int num_pairs() const { return num_pairs_; }
  // The most pairs any one atom has, counted once per build: it sizes the
  // many-body kernels' per-atom scratch without a reduction at every step.
  int max_neighbors() const { return max_neighbors_; }
  int num_builds() const { return num_builds_; }

 private:
  bool needs_rebuild(const Box& box, double moved) const;
  void wrap_positions(AtomState& state) const;
  void set_images(int reach_a, int reach_b, int reach_c);
  void refresh_image_vectors(const Box& box);
  void finish_build(const AtomState& state, Kokkos::View<int*, MemSpace> offsets,
                    Kokkos::View<int*, MemSpace> index, Kokkos::View<int*, MemSpace> image);

  double cutoff_;
  double skin_;
  int num_pairs_ = 0;
  int max_neighbors_ = 0;
  int num_builds_ = 0;
  int image_reach_[3] = {0, 0, 0};
  Kokkos::View<double* [3], Kokkos::LayoutRight, MemSpace> image_vector_;
  NeighborView view_;
  Box box_at_build_;
  Box box_at_refresh_;
  VecView fractional_at_build_;
};

}  // namespace otfgp
