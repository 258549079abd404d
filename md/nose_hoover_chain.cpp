#include "otfgp/md/nose_hoover_chain.hpp"

#include <cmath>

#include "otfgp/core/error.hpp"

namespace otfgp::md {

NoseHooverChain::NoseHooverChain(int length, int substeps, double degrees_of_freedom, double kT,
                                 double tau)
    : substeps_(substeps), dof_(degrees_of_freedom), kT_(kT) {
  if (length < 1) throw Error("a Nosé–Hoover chain needs at least one thermostat");
  if (substeps < 1) throw Error("a Nosé–Hoover chain needs at least one sub-step");
  if (!(degrees_of_freedom > 0) || !(kT > 0) || !(tau > 0))
    throw Error("a Nosé–Hoover chain needs positive degrees of freedom, temperature and period");
  masses_.assign(length, kT * tau * tau);
  masses_[0] *= degrees_of_freedom;
  positions_.assign(length, 0.0);
  velocities_.assign(length, 0.0);
}

void NoseHooverChain::set_state(const std::vector<double>& positions,
                                const std::vector<double>& velocities) {
  if (positions.size() != positions_.size() || velocities.size() != velocities_.size())
    throw Error("Nosé–Hoover chain state has " + std::to_string(positions.size()) +
                " thermostats, the chain has " + std::to_string(positions_.size()));
  positions_ = positions;
  velocities_ = velocities;
}

double NoseHooverChain::force(int j, double kinetic_energy) const {
  if (j == 0) return (2.0 * kinetic_energy - dof_ * kT_) / masses_[0];
  return (masses_[j - 1] * velocities_[j - 1] * velocities_[j - 1] - kT_) / masses_[j];
}

double NoseHooverChain::half_step(double kinetic_energy, double timestep) {
  // Third-order Suzuki–Yoshida weights: w₁ = w₃ = 1/(2 − 2^{1/3}), w₂ = 1 − 2w₁.
  const double w1 = 1.0 / (2.0 - std::cbrt(2.0));
  const double weights[3] = {w1, 1.0 - 2.0 * w1, w1};
  const int length = this->length();
  auto& v = velocities_;
  double scale = 1.0;
  for (int loop = 0; loop < substeps_; ++loop)
    for (double w : weights) {
      const double delta = w * timestep / substeps_;
      // Each thermostat velocity gets a quarter-δ kick between two eighth-δ
      // frictions from the one above it (the exact solution of a linear ODE).
      auto update = [&](int j) {
        const double friction = j + 1 < length ? std::exp(-0.125 * delta * v[j + 1]) : 1.0;
        v[j] *= friction;
        v[j] += 0.25 * delta * force(j, kinetic_energy);
        v[j] *= friction;
      };
      for (int j = length - 1; j >= 0; --j) update(j);
      const double factor = std::exp(-0.5 * delta * v[0]);
      scale *= factor;
      kinetic_energy *= factor * factor;
      for (int j = 0; j < length; ++j) positions_[j] += 0.5 * delta * v[j];
      for (int j = 0; j < length; ++j) update(j);
    }
  return scale;
}

double NoseHooverChain::energy() const {
  double energy = dof_ * kT_ * positions_[0];
  for (int j = 1; j < length(); ++j) energy += kT_ * positions_[j];
  for (int j = 0; j < length(); ++j) energy += 0.5 * masses_[j] * velocities_[j] * velocities_[j];
  return energy;
}

}  // namespace otfgp::md
