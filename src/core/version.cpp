// The build's description: otfgp's version and its Kokkos backend.

#include "otfgp/core/version.hpp"

#include <Kokkos_Core.hpp>

namespace otfgp {

std::string build_description() {
  constexpr int kokkos = KOKKOS_VERSION;
  return std::string("otfgp ") + version + " (Kokkos " + std::to_string(kokkos / 10000) + "." +
         std::to_string(kokkos / 100 % 100) + "." + std::to_string(kokkos % 100) + ", " +
         Kokkos::DefaultExecutionSpace::name() + ")";
}

}  // namespace otfgp
