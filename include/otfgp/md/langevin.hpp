#pragma once
// Langevin thermostat as the exact Ornstein–Uhlenbeck update of the velocities
// over half a step at each end of the step (the "OBABO" splitting of Bussi &
// Parrinello, Phys. Rev. E 75, 056707 (2007)):
//   v ← c·v + √((1 − c²) kT/m) ξ,   c = exp(−γ dt/2),  γ = 1/damping.
// The centre-of-mass velocity the noise adds is removed again, which is the
// same update projected onto zero total momentum: the velocities keep 3N − 3
// degrees of freedom and sample the canonical distribution on them.
// The noise is a counter-based hash of (seed, step, atom, half), so restarts
// are exact. The energy the thermostat puts in is summed so that E − heat is
// the conserved quantity.

#include <cstdint>

#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/counter_random.hpp"
#include "otfgp/md/thermostat.hpp"
#include "otfgp/md/velocity_verlet.hpp"

namespace otfgp::md {

// Registered as "langevin" (keys: damping).
class LangevinThermostat final : public Thermostat {
 public:
  LangevinThermostat(double kT, double damping, std::uint64_t seed);

  double energy() const override { return -heat(); }  // E − heat is conserved
  bool has_device_steps() const override { return true; }
  void begin_step_on_device(AtomState& state, long step, double timestep,
                            const KineticView& kinetic, Snapshot* capture) override;
  void end_step_on_device(AtomState& state, long step, double timestep,
                          const KineticView& kinetic) override;
  Kokkos::View<const double, MemSpace> device_energy() const override { return energy_; }
  void save_state(IntegratorVariables& variables) const override;
  void restore_state(
      const std::function<const std::vector<double>&(const std::string&)>& get) override;

  // One half-step O update for step `step`; `half` is 0 at the start of the
  // step and 1 at its end. The kinetic tensor of the current velocities is
  // in `kinetic` before and after; the heat stays in a device view. With
  // `capture`, the velocities before the update (with x and f) go to the
  // snapshot.
  void half_step_on_device(AtomState& state, long step, int half, double timestep,
                           const KineticView& kinetic, Snapshot* capture);

  double heat() const;  // eV added by the thermostat so far
  void set_heat(double heat);

 private:
  double kT_, gamma_;
  CounterRandom random_;
  // The heat on the host and on the device (heat_device_, with energy_ = −heat
  // beside it); each flag says whether that copy is current.
  mutable double heat_ = 0.0;
  mutable bool heat_on_host_ = true;
  bool heat_on_device_ = false;
  Kokkos::View<double, MemSpace> heat_device_, energy_;
  Kokkos::View<MomentumSum, MemSpace> momentum_;
  KineticView kinetic_after_;
};

}  // namespace otfgp::md
