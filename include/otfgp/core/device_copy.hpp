#pragma once
// A host array copied into a new device view: what a potential or the
// neighbour list uploads once (tables, offsets) after building it on the host.

#include <Kokkos_Core.hpp>
#include <string>
#include <vector>

#include "otfgp/core/types.hpp"

namespace otfgp {

// A new view named `label` holding `values`.
template <class T>
Kokkos::View<T*, MemSpace> to_device(const std::string& label, const std::vector<T>& values) {
  Kokkos::View<T*, MemSpace> view(label, values.size());
  auto host = Kokkos::create_mirror_view(view);
  for (std::size_t k = 0; k < values.size(); ++k) host(k) = values[k];
  Kokkos::deep_copy(view, host);
  return view;
}

}  // namespace otfgp
