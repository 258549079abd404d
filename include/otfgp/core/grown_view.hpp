#pragma once
// Buffers that only grow: a two-dimensional view made again only when a call
// needs more rows or columns than it has, so that a run whose systems change
// size allocates only when one outgrows them (the many-body scratch rows and
// short lists, the GP's chunks of dense products).

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstddef>
#include <string>

namespace otfgp {

// `view` when it has at least rows × columns, else a new uninitialised view
// named `label` with the larger of each extent (at least 1 × 1).
template <class View>
View grown(const View& view, const std::string& label, int rows, int columns) {
  if (view.extent(0) >= std::size_t(rows) && view.extent(1) >= std::size_t(columns) &&
      view.extent(0) > 0 && view.extent(1) > 0)
    return view;
  return View(Kokkos::view_alloc(Kokkos::WithoutInitializing, label),
              std::max({rows, 1, int(view.extent(0))}),
              std::max({columns, 1, int(view.extent(1))}));
}

}  // namespace otfgp
