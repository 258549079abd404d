#include "otfgp/md/integrator.hpp"

#include <algorithm>
#include <cmath>

#include "otfgp/core/error.hpp"
#include "otfgp/core/units.hpp"

namespace otfgp::md {

Integrator::Integrator(const EngineSettings& settings, int natoms)
    : settings_(settings),
      check_("Integrator::check"),
      check_host_(Kokkos::create_mirror_view(check_)),
      kinetic_device_("Integrator::kinetic"),
      kinetic_host_(Kokkos::create_mirror_view(kinetic_device_)) {
  settings.validate();
  if (natoms < 2) throw Error("molecular dynamics needs at least two atoms");
  dof_ = 3.0 * natoms - 3.0;
  const double kT = units::boltzmann * settings.thermostat.temperature;
  ThermostatContext context;
  context.kT = kT;
  context.degrees_of_freedom = dof_;
  context.seed = settings.seed;
  thermostat_ = make_thermostat(settings.thermostat, context);
  if (settings.barostat.enabled) barostat_.emplace(settings.barostat, natoms, dof_, kT);
  // With a barostat too: it reads the kinetic tensor after the thermostat's
  // first half step (a copy), and the check's after the second half-kick.
  device_thermostat_ = thermostat_ && thermostat_->has_device_steps();
}

namespace {

// The kinetic tensor of a force check into its own view, on the device.
void copy_kinetic(const ForceCheckView& check, const KineticView& kinetic) {
  Kokkos::parallel_for(
      "Integrator::copy_kinetic", RangePolicy(0, 1),
      KOKKOS_LAMBDA(int) { kinetic() = check().kinetic; });
}

}  // namespace

void Integrator::refresh_kinetic(const AtomState& state) {
  kinetic_ = kinetic_tensor(state);
  kinetic_at_ = KineticAt::host;
}

ForceCheck Integrator::force_check() const {
  Kokkos::deep_copy(check_host_, check_);
  return check_host_();
}

const KineticTensor& Integrator::kinetic() const {
  if (kinetic_at_ == KineticAt::device) {
    Kokkos::deep_copy(kinetic_host_, kinetic_device_);
    kinetic_ = kinetic_host_();
  }
  kinetic_at_ = KineticAt::host;
  return kinetic_;
}

double Integrator::extended_energy_host_part(double volume,
                                             Kokkos::View<const double, MemSpace>& device) const {
  device = device_thermostat_ ? thermostat_->device_energy()  // added on the device
                              : Kokkos::View<const double, MemSpace>();
  return host_extended_energy(volume);
}

double Integrator::host_extended_energy(double volume) const {
  double energy = 0.0;
  if (thermostat_ && !device_thermostat_) energy += thermostat_->energy();
  if (barostat_) energy += barostat_->energy(volume);
  return energy;
}

double Integrator::temperature() const {
  return 2.0 * kinetic().kinetic_energy() / (dof_ * units::boltzmann);
}

double Integrator::extended_energy(double volume) const {
  double energy = 0.0;
  if (thermostat_) energy += thermostat_->energy();
  if (barostat_) energy += barostat_->energy(volume);
  return energy;
}

void Integrator::initial_integrate(AtomState& state, long step, const EnergyVirial& potential,
                                   Snapshot* capture) {
  const double dt = settings_.timestep;
  if (capture) capture->box = state.box;
  if (barostat_) barostat_->chain_half_step(dt);

  FirstHalf half;
  half.timestep = dt;
  Snapshot* kernel_capture = capture;
  if (device_thermostat_) {
    if (kinetic_at_ == KineticAt::host) {
      kinetic_host_() = kinetic_;
      Kokkos::deep_copy(ExecSpace(), kinetic_device_, kinetic_host_);
    }
    thermostat_->begin_step_on_device(state, step, dt, kinetic_device_, capture);
    kinetic_at_ = KineticAt::device;
    kernel_capture = nullptr;  // saved by the thermostat before it moved v
  } else if (thermostat_) {
    kinetic();  // on the host (it is, after a step with a host thermostat)
    const ThermostatKick kick = thermostat_->begin_step(state, step, dt, kinetic_, capture);
    half.velocity_scale = kick.velocity_scale;
    if (kick.captured) kernel_capture = nullptr;
  }

  if (barostat_) {
    // kinetic(): after a device thermostat's half step, copied from the device.
    barostat_->momentum_half_step(kinetic(), potential.virial, state.box.volume(), dt);
    Eigen::Matrix3d velocity_transform, unused, position_transform, drift_transform;
    symmetric_exponentials(-barostat_->velocity_rate(), 0.5 * dt, velocity_transform, unused);
    symmetric_exponentials(barostat_->strain_rate(), dt, position_transform, drift_transform);
    half.barostat = true;
    half.velocity_transform = Matrix3::from(velocity_transform);
    half.position_transform = Matrix3::from(position_transform);
    half.drift_transform = Matrix3::from(drift_transform);
    const bool periodic[3] = {state.box.pbc[0], state.box.pbc[1], state.box.pbc[2]};
    state.box = Box::from_cell(state.box.cell() * position_transform, periodic);
  }
  first_half(state, half, kernel_capture);
}

ForceCheck Integrator::final_integrate(AtomState& state, long step,
                                       const EnergyVirialView& potential, const DriftCheck* next) {
  const double dt = settings_.timestep;
  Matrix3 velocity_transform;
  if (barostat_) {
    Eigen::Matrix3d transform, unused;
    symmetric_exponentials(-barostat_->velocity_rate(), 0.5 * dt, transform, unused);
    velocity_transform = Matrix3::from(transform);
  }
  second_half(state, dt, barostat_ ? &velocity_transform : nullptr, potential, check_,
              plain_drift() ? next : nullptr);
  // The one copy to the host this step: the check is made at once, and the
  // chains and the barostat below need the kinetic tensor and the virial.
  ForceCheck check = force_check();
  // A failed step stops here; the engine restores the last good state.
  if (!check.passes(settings_.max_force)) return check;
  if (!std::isfinite(check.kinetic.kinetic_energy())) {
    check.kinetic_not_finite = 1;
    return check;
  }
  const double volume = state.box.volume();
  if (barostat_) barostat_->momentum_half_step(check.kinetic, check.potential.virial, volume, dt);
  if (device_thermostat_) {
    copy_kinetic(check_, kinetic_device_);
    thermostat_->end_step_on_device(state, step, dt, kinetic_device_);
    kinetic_at_ = KineticAt::device;
  } else {
    kinetic_ = check.kinetic;
    kinetic_at_ = KineticAt::host;
    if (thermostat_) thermostat_->end_step(state, step, dt, kinetic_);
  }
  if (barostat_) barostat_->chain_half_step(dt);
  // Host numbers only (no wait): a chain or barostat driven to ∞ or NaN by an
  // exploding step would otherwise pass NaN velocities on as the last good state.
  // The thermostat's or barostat's variables first: when they break, they break
  // the velocities. (A device thermostat's share is the heat it moved, finite
  // while the kinetic energies it came from are.)
  if (!std::isfinite(host_extended_energy(volume)))
    check.extended_not_finite = 1;
  else if (kinetic_at_ == KineticAt::host && !std::isfinite(kinetic_.kinetic_energy()))
    check.kinetic_not_finite = 1;
  return check;
}

IntegratorVariables Integrator::save_state() const {
  IntegratorVariables variables;
  if (thermostat_) thermostat_->save_state(variables);
  if (barostat_) {
    variables["barostat_momentum"] = barostat_->momentum();
    variables["barostat_chain_positions"] = barostat_->chain().positions();
    variables["barostat_chain_velocities"] = barostat_->chain().velocities();
  }
  return variables;
}

void Integrator::restore_state(const IntegratorVariables& variables) {
  const auto expected = save_state();
  for (const auto& [name, values] : variables)
    if (!expected.count(name))
      throw Error("restart state holds '" + name + "', which the " + ensemble_name(settings_) +
                  " integrator with these settings does not have");
  auto get = [&](const std::string& name) -> const std::vector<double>& {
    const auto found = variables.find(name);
    if (found == variables.end())
      throw Error("restart state lacks '" + name + "', which the " + ensemble_name(settings_) +
                  " integrator with these settings needs");
    return found->second;
  };
  if (thermostat_) thermostat_->restore_state(get);
  if (barostat_) {
    barostat_->set_momentum(get("barostat_momentum"));
    barostat_->chain().set_state(get("barostat_chain_positions"), get("barostat_chain_velocities"));
  }
}

}  // namespace otfgp::md
