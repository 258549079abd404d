#pragma once
// Pieces shared by the many-body kernels (Stillinger–Weber, Tersoff): the
// force scatter and the per-atom scratch rows for a short neighbour list.
//
// Three-body terms centred on atom i put forces on its neighbours j and k,
// so several threads may add to one atom. ScatterView picks the right tool for
// the backend: plain adds on Serial, per-thread copies on OpenMP, atomics on GPUs.

#include <Kokkos_ScatterView.hpp>
#include <algorithm>
#include <optional>

#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/core/types.hpp"

namespace otfgp {

using ForceScatter = Kokkos::Experimental::ScatterView<double* [3], Kokkos::LayoutRight, ExecSpace>;

// Owns the scatter for a force view; reuses its duplicates between calls.
class ForceAccumulator {
 public:
  // Zeroes f and returns the scatter that kernels add into.
  const ForceScatter& begin(const VecView& f) {
    if (target_.data() != f.data() || target_.extent(0) != f.extent(0)) {
      scatter_ = ForceScatter(f);
      target_ = f;
    }
    Kokkos::deep_copy(f, 0.0);
    scatter_.reset_except(f);
    return scatter_;
  }
  // Sums the per-thread copies (if any) into f.
  void finish(const VecView& f) { scatter_.contribute_into(f); }

 private:
  ForceScatter scatter_;
  VecView target_;
};

// Largest number of list entries of one atom: bounds its short list.
inline int max_neighbors_per_atom(const NeighborView& neighbors, int natoms) {
  int most = 0;
  const auto offsets = neighbors.offsets;
  Kokkos::parallel_reduce(
      "max_neighbors_per_atom", RangePolicy(0, natoms),
      KOKKOS_LAMBDA(int i, int& m) {
        const int count = offsets(i + 1) - offsets(i);
        if (count > m) m = count;
      },
      Kokkos::Max<int>(most));
  return most;
}

// Scratch rows of a plain struct, one per thread that can run at once (one on
// Serial, a few on OpenMP, one per resident thread on a GPU), so the scratch
// stays small and hot whatever the number of atoms. A kernel takes a row with
// token().acquire() and gives it back with token().release(row).
template <class Row>
class ScratchRows {
 public:
  using View = Kokkos::View<Row**, MemSpace>;
  using Token = Kokkos::Experimental::UniqueToken<ExecSpace>;

  // Makes every row at least `slots` long; call on the host before the kernel.
  void reserve(int slots) {
    if (!token_) token_.emplace();
    const int rows = token_->size();
    if (static_cast<int>(view_.extent(0)) < rows || static_cast<int>(view_.extent(1)) < slots)
      view_ = View(Kokkos::view_alloc(Kokkos::WithoutInitializing, "ScratchRows"), rows,
                   std::max(slots, 1));
  }
  const View& view() const { return view_; }
  const Token& token() const { return *token_; }

 private:
  std::optional<Token> token_;  // made on first use: a GPU token needs Kokkos initialised
  View view_;
};

// v^n for a small non-negative integer n without pow().
KOKKOS_INLINE_FUNCTION double integer_power(double v, int n) {
  double result = 1.0;
  while (n > 0) {
    if (n & 1) result *= v;
    v *= v;
    n >>= 1;
  }
  return result;
}

}  // namespace otfgp
