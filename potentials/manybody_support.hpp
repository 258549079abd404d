#pragma once
// Pieces shared by the many-body kernels (Stillinger–Weber, Tersoff): the
// per-atom scratch rows for a short neighbour list. The force scatter and the
// readiness check are otfgp/potentials/many_body.hpp (the GP uses them too).

#include <algorithm>
#include <optional>

#include "otfgp/core/types.hpp"
#include "otfgp/potentials/many_body.hpp"

namespace otfgp {

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
