#pragma once
// Scalar and view aliases shared by the whole code. Kernels see only these
// views and plain structs, so the same source builds for Serial, OpenMP and CUDA.

#include <Kokkos_Core.hpp>

#include <type_traits>

namespace otfgp {

// Kokkos moved its math functions from Kokkos::Experimental to Kokkos in 3.7;
// kernels call kmath::sqrt, kmath::exp, … so both generations compile.
#if KOKKOS_VERSION >= 30700
namespace kmath = Kokkos;
#else
namespace kmath = Kokkos::Experimental;
#endif

using ExecSpace = Kokkos::DefaultExecutionSpace;
using MemSpace = ExecSpace::memory_space;
using HostExecSpace = Kokkos::DefaultHostExecutionSpace;
// Whether the views live in host memory (a CPU backend), where kernels take
// the forms a CPU core wants.
inline constexpr bool host_memory = std::is_same_v<MemSpace, Kokkos::HostSpace>;

// Per-atom 3-vectors (positions Å, velocities Å/fs, forces eV/Å).
using VecView = Kokkos::View<double* [3], Kokkos::LayoutRight, MemSpace>;
using ScalarView = Kokkos::View<double*, MemSpace>;
using IntView = Kokkos::View<int*, MemSpace>;
using RangePolicy = Kokkos::RangePolicy<ExecSpace>;

// w += scale · r ⊗ f in Voigt order xx yy zz yz xz xy.
KOKKOS_INLINE_FUNCTION void add_virial(double w[6], const double r[3], const double f[3],
                                       double scale) {
  w[0] += scale * r[0] * f[0];
  w[1] += scale * r[1] * f[1];
  w[2] += scale * r[2] * f[2];
  w[3] += scale * r[1] * f[2];
  w[4] += scale * r[0] * f[2];
  w[5] += scale * r[0] * f[1];
}

// Energy plus the six virial components (xx yy zz yz xz xy) reduced together.
struct EnergyVirial {
  double energy = 0.0;
  double virial[6] = {0, 0, 0, 0, 0, 0};

  KOKKOS_INLINE_FUNCTION EnergyVirial() = default;
  KOKKOS_INLINE_FUNCTION EnergyVirial& operator+=(const EnergyVirial& other) {
    energy += other.energy;
    for (int k = 0; k < 6; ++k) virial[k] += other.virial[k];
    return *this;
  }
  // Adds the virial of a pair force: f acts on the atom at +r relative to its partner.
  KOKKOS_INLINE_FUNCTION void add_pair_virial(const double r[3], const double f[3], double scale) {
    add_virial(virial, r, f, scale);
  }
};

}  // namespace otfgp

namespace Kokkos {
template <>
struct reduction_identity<otfgp::EnergyVirial> {
  KOKKOS_FORCEINLINE_FUNCTION static otfgp::EnergyVirial sum() { return otfgp::EnergyVirial(); }
};
}  // namespace Kokkos
