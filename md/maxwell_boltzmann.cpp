#include <cmath>

#include "otfgp/core/counter_random.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/md/engine.hpp"

namespace otfgp::md {

void maxwell_boltzmann(AtomState& state, double temperature, std::uint64_t seed) {
  if (!(temperature >= 0.0) || !std::isfinite(temperature))
    throw Error("the initial temperature must be zero or positive (K)");
  if (temperature == 0.0 || state.natoms < 2) {
    Kokkos::deep_copy(state.v, 0.0);
    return;
  }
  const double kT = units::boltzmann * temperature;
  const CounterRandom random(seed, RandomStream::initial_velocities);
  const VecView v = state.v;
  const ScalarView mass = state.mass;
  const double variance = kT * force_to_acceleration;  // kT/m in (Å/fs)² times m
  Kokkos::parallel_for(
      "md::maxwell_boltzmann", RangePolicy(0, state.natoms), KOKKOS_LAMBDA(int i) {
        double xi[3];
        random.normal3(0, static_cast<std::uint64_t>(i), 0, xi);
        const double sigma = kmath::sqrt(variance / mass(i));
        for (int d = 0; d < 3; ++d) v(i, d) = sigma * xi[d];
      });
  remove_net_momentum(state);
  // Exactly the requested temperature over 3N − 3 degrees of freedom, as
  // LAMMPS's velocity create does.
  const double kinetic = kinetic_tensor(state).kinetic_energy();
  const double target = 0.5 * (3.0 * state.natoms - 3.0) * kT;
  if (kinetic > 0.0) scale_velocities(state, std::sqrt(target / kinetic));
}

}  // namespace otfgp::md
