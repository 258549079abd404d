#include "otfgp/md/barostat.hpp"

#include <Eigen/Eigenvalues>
#include <cmath>

#include "otfgp/core/error.hpp"
#include "otfgp/core/units.hpp"

namespace otfgp::md {

namespace {

int coupling_components(PressureCoupling coupling) {
  switch (coupling) {
    case PressureCoupling::isotropic:
      return 1;
    case PressureCoupling::anisotropic:
      return 3;
    case PressureCoupling::triclinic:
      return 6;
  }
  return 1;
}

// sinh(y)/y, accurate near 0.
double sinhc(double y) {
  if (std::abs(y) < 1e-4) return 1.0 + y * y / 6.0 + y * y * y * y / 120.0;
  return std::sinh(y) / y;
}

}  // namespace

void symmetric_exponentials(const Eigen::Matrix3d& matrix, double t, Eigen::Matrix3d& exponential,
                            Eigen::Matrix3d& drift) {
  Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> solver(0.5 * (matrix + matrix.transpose()));
  const Eigen::Matrix3d& q = solver.eigenvectors();
  Eigen::Vector3d e, s;
  for (int k = 0; k < 3; ++k) {
    const double lambda = solver.eigenvalues()[k];
    e[k] = std::exp(lambda * t);
    s[k] = t * std::exp(0.5 * lambda * t) * sinhc(0.5 * lambda * t);
  }
  exponential = q * e.asDiagonal() * q.transpose();
  drift = q * s.asDiagonal() * q.transpose();
}

MtkBarostat::MtkBarostat(const BarostatSettings& settings, int natoms, double degrees_of_freedom,
                         double kT)
    : coupling_(settings.coupling),
      pressure_(settings.pressure * units::gpa_in_ev_per_a3),
      mass_((natoms + 1) * kT * settings.damping * settings.damping),
      dof_(degrees_of_freedom),
      momentum_(coupling_components(settings.coupling), 0.0),
      chain_(settings.chain_length, 1, coupling_components(settings.coupling), kT,
             settings.damping) {
  if (coupling_ == PressureCoupling::isotropic) mass_ *= 3.0;
}

void MtkBarostat::set_momentum(const std::vector<double>& momentum) {
  if (momentum.size() != momentum_.size())
    throw Error("barostat state has " + std::to_string(momentum.size()) + " components, the " +
                to_string(coupling_) + " barostat has " + std::to_string(momentum_.size()));
  momentum_ = momentum;
}

Eigen::Matrix3d MtkBarostat::strain_rate() const {
  Eigen::Matrix3d b = Eigen::Matrix3d::Zero();
  const auto& p = momentum_;
  switch (coupling_) {
    case PressureCoupling::isotropic:
      b.diagonal().setConstant(p[0]);
      break;
    case PressureCoupling::anisotropic:
      b.diagonal() << p[0], p[1], p[2];
      break;
    case PressureCoupling::triclinic:
      b << p[0], p[5], p[4], p[5], p[1], p[3], p[4], p[3], p[2];
      break;
  }
  return b / mass_;
}

Eigen::Matrix3d MtkBarostat::velocity_rate() const {
  const Eigen::Matrix3d b = strain_rate();
  return b + (b.trace() / dof_) * Eigen::Matrix3d::Identity();
}

double MtkBarostat::kinetic_energy() const {
  double sum = 0.0;
  for (std::size_t k = 0; k < momentum_.size(); ++k)
    sum += (k < 3 ? 1.0 : 2.0) * momentum_[k] * momentum_[k];  // off-diagonals appear twice in p_g
  return 0.5 * sum / mass_;
}

double MtkBarostat::energy(double volume) const {
  return kinetic_energy() + pressure_ * volume + chain_.energy();
}

void MtkBarostat::chain_half_step(double timestep) {
  const double factor = chain_.half_step(kinetic_energy(), timestep);
  for (double& p : momentum_) p *= factor;
}

void MtkBarostat::momentum_half_step(const KineticTensor& kinetic, const double (&virial)[6],
                                     double volume, double timestep) {
  // G = V(P − P₀) + (2K/N_f) I with V·P = Σ m v⊗v + W; Voigt order xx yy zz yz xz xy.
  const double isotropic_part = 2.0 * kinetic.kinetic_energy() / dof_ - pressure_ * volume;
  double g[6];
  for (int k = 0; k < 6; ++k) g[k] = kinetic.mvv[k] + virial[k] + (k < 3 ? isotropic_part : 0.0);
  const double half = 0.5 * timestep;
  switch (coupling_) {
    case PressureCoupling::isotropic:
      momentum_[0] += half * (g[0] + g[1] + g[2]);
      break;
    case PressureCoupling::anisotropic:
      for (int k = 0; k < 3; ++k) momentum_[k] += half * g[k];
      break;
    case PressureCoupling::triclinic:
      for (int k = 0; k < 6; ++k) momentum_[k] += half * g[k];
      break;
  }
}

}  // namespace otfgp::md
