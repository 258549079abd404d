#pragma once
// Random numbers as a pure function of (seed, stream, step, atom, component):
// every deviate is a hash of its counters, so a restarted run draws exactly the
// numbers an uninterrupted one would, any backend (Serial, OpenMP, CUDA) draws
// the same bits in any thread order, and there is no generator state to save.
//
// The hash chains SplitMix64's finaliser (Steele, Lea & Flood, OOPSLA 2014;
// the output function of java.util.SplittableRandom) over the counters; each
// round is a bijection of 64-bit words, so distinct counters never collide
// before the final round. Normal deviates come from the Box–Muller transform.

#include <cstdint>

#include "otfgp/core/types.hpp"
#include "otfgp/core/units.hpp"

namespace otfgp {

// Streams keep the uses of one seed apart.
enum class RandomStream : std::uint64_t {
  initial_velocities = 1,
  langevin = 2,
};

struct CounterRandom {
  std::uint64_t key = 0;

  CounterRandom() = default;
  KOKKOS_INLINE_FUNCTION CounterRandom(std::uint64_t seed, RandomStream stream)
      : key(mix(mix(seed) ^ (static_cast<std::uint64_t>(stream) * 0xd1342543de82ef95ULL))) {}

  KOKKOS_INLINE_FUNCTION static std::uint64_t mix(std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // 64 random bits for one set of counters.
  KOKKOS_INLINE_FUNCTION std::uint64_t bits(std::uint64_t step, std::uint64_t atom,
                                            std::uint64_t slot) const {
    return mix(mix(mix(key ^ step) ^ atom) ^ slot);
  }

  // Uniform on (0, 1]: never 0, so its logarithm is finite.
  KOKKOS_INLINE_FUNCTION double uniform(std::uint64_t step, std::uint64_t atom,
                                        std::uint64_t slot) const {
    return (static_cast<double>(bits(step, atom, slot) >> 11) + 1.0) * 0x1.0p-53;
  }

  // Three independent standard normal deviates for one atom (slots 0…3 of the
  // counter `phase` select the uniforms; distinct phases give independent triples).
  KOKKOS_INLINE_FUNCTION void normal3(std::uint64_t step, std::uint64_t atom, std::uint64_t phase,
                                      double out[3]) const {
    const std::uint64_t base = 4 * phase;
    const double r1 = kmath::sqrt(-2.0 * kmath::log(uniform(step, atom, base + 0)));
    const double a1 = 2.0 * units::pi * uniform(step, atom, base + 1);
    const double r2 = kmath::sqrt(-2.0 * kmath::log(uniform(step, atom, base + 2)));
    const double a2 = 2.0 * units::pi * uniform(step, atom, base + 3);
    out[0] = r1 * kmath::cos(a1);
    out[1] = r1 * kmath::sin(a1);
    out[2] = r2 * kmath::cos(a2);
  }
};

}  // namespace otfgp
