#include "otfgp/md/langevin.hpp"

#include <cmath>

#include "otfgp/core/error.hpp"
#include "otfgp/core/units.hpp"

namespace otfgp::md {

namespace {

// One half step's velocity update, v ← c v + σ ξ (the snapshot taken first
// when asked), summing the momentum and mass for the drift removal after it.
struct LangevinKick {
  VecView x, v, f;
  ScalarView mass;
  CounterRandom random;
  double c, noise2;
  std::uint64_t counter, phase;
  bool take;
  VecView x0, v0, f0;

  static LangevinKick make(const AtomState& state, const CounterRandom& random, double gamma,
                           double kT, long step, int half, double timestep, Snapshot* capture) {
    const double c = std::exp(-gamma * 0.5 * timestep);
    // Velocity variance kT/m in (Å/fs)² is kT·force_to_acceleration/m.
    const double noise2 = (1.0 - c * c) * kT * force_to_acceleration;
    const Snapshot target = snapshot_target(capture, state.natoms);
    return {state.x,
            state.v,
            state.f,
            state.mass,
            random,
            c,
            noise2,
            static_cast<std::uint64_t>(step),
            static_cast<std::uint64_t>(half),
            capture != nullptr,
            target.x,
            target.v,
            target.f};
  }

  KOKKOS_INLINE_FUNCTION void operator()(int i, MomentumSum& sum) const {
    if (take)
      for (int d = 0; d < 3; ++d) {
        x0(i, d) = x(i, d);
        v0(i, d) = v(i, d);
        f0(i, d) = f(i, d);
      }
    double xi[3];
    random.normal3(counter, static_cast<std::uint64_t>(i), phase, xi);
    const double sigma = kmath::sqrt(noise2 / mass(i));
    for (int d = 0; d < 3; ++d) {
      const double vd = c * v(i, d) + sigma * xi[d];
      v(i, d) = vd;
      sum.momentum[d] += mass(i) * vd;
    }
    sum.mass += mass(i);
  }
};

}  // namespace

LangevinThermostat::LangevinThermostat(double kT, double damping, std::uint64_t seed)
    : kT_(kT),
      gamma_(1.0 / damping),
      random_(seed, RandomStream::langevin),
      heat_device_("LangevinThermostat::heat"),
      energy_("LangevinThermostat::energy"),
      momentum_("LangevinThermostat::momentum"),
      kinetic_after_("LangevinThermostat::kinetic") {
  if (!(kT > 0) || !(damping > 0))
    throw Error("the Langevin thermostat needs a positive temperature and damping");
}

double LangevinThermostat::heat() const {
  if (!heat_on_host_) {
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), heat_device_);
    heat_ = host();
    heat_on_host_ = true;
  }
  return heat_;
}

void LangevinThermostat::set_heat(double heat) {
  heat_ = heat;
  heat_on_host_ = true;
  heat_on_device_ = false;
}

void LangevinThermostat::half_step_on_device(AtomState& state, long step, int half, double timestep,
                                             const KineticView& kinetic, Snapshot* capture) {
  if (!heat_on_device_) {
    const double energy = -heat_;
    Kokkos::deep_copy(ExecSpace(), heat_device_, heat_);
    Kokkos::deep_copy(ExecSpace(), energy_, energy);
    heat_on_device_ = true;
  }
  // The momentum and the kinetic energy before and after stay where the kernels leave them.
  const LangevinKick kick =
      LangevinKick::make(state, random_, gamma_, kT_, step, half, timestep, capture);
  const VecView v = state.v;
  const ScalarView mass = state.mass;
  Kokkos::parallel_reduce("LangevinThermostat::half_step", RangePolicy(0, state.natoms), kick,
                          Kokkos::Sum<MomentumSum, MemSpace>(momentum_));
  const Kokkos::View<MomentumSum, MemSpace> total = momentum_;
  Kokkos::parallel_reduce(
      "LangevinThermostat::remove_momentum", RangePolicy(0, state.natoms),
      KOKKOS_LAMBDA(int i, KineticTensor& sum) {
        const MomentumSum& p = total();
        const double u0 = p.momentum[0] / p.mass, u1 = p.momentum[1] / p.mass,
                     u2 = p.momentum[2] / p.mass;
        const double vi[3] = {v(i, 0) - u0, v(i, 1) - u1, v(i, 2) - u2};
        for (int d = 0; d < 3; ++d) v(i, d) = vi[d];
        sum.add_atom(mass(i), vi);
      },
      Kokkos::Sum<KineticTensor, MemSpace>(kinetic_after_));
  const KineticView after = kinetic_after_;
  const Kokkos::View<double, MemSpace> heat = heat_device_, energy = energy_;
  Kokkos::parallel_for(
      "LangevinThermostat::heat", RangePolicy(0, 1), KOKKOS_LAMBDA(int) {
        heat() = heat() + (after().kinetic_energy() - kinetic().kinetic_energy());
        energy() = -heat();
        kinetic() = after();
      });
  heat_on_host_ = false;
}

void LangevinThermostat::begin_step_on_device(AtomState& state, long step, double timestep,
                                              const KineticView& kinetic, Snapshot* capture) {
  half_step_on_device(state, step, 0, timestep, kinetic, capture);
}

void LangevinThermostat::end_step_on_device(AtomState& state, long step, double timestep,
                                            const KineticView& kinetic) {
  half_step_on_device(state, step, 1, timestep, kinetic, nullptr);
}

void LangevinThermostat::save_state(IntegratorVariables& variables) const {
  variables["langevin_heat"] = {heat()};
}

void LangevinThermostat::restore_state(
    const std::function<const std::vector<double>&(const std::string&)>& get) {
  const auto& heat = get("langevin_heat");
  if (heat.size() != 1) throw Error("restart state: 'langevin_heat' must hold one number");
  set_heat(heat[0]);
}

ThermostatKind langevin_thermostat() {
  ThermostatKind kind;
  kind.name = "langevin";
  kind.make = [](const ThermostatSettings& settings, const ThermostatContext& context) {
    return std::make_unique<LangevinThermostat>(context.kT, settings.damping, context.seed);
  };
  return kind;
}

}  // namespace otfgp::md
