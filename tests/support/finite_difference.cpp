#include "support/finite_difference.hpp"

#include "otfgp/potentials/evaluate.hpp"

namespace otfgp::testing {

double energy_of(Potential& potential, const Structure& structure) {
  return evaluate(potential, structure).energy;
}

Positions numerical_forces(Potential& potential, const Structure& structure, double step) {
  Positions forces(structure.size(), 3);
  Structure moved = structure;
  for (int i = 0; i < structure.size(); ++i)
    for (int d = 0; d < 3; ++d) {
      moved.positions(i, d) = structure.positions(i, d) + step;
      const double plus = energy_of(potential, moved);
      moved.positions(i, d) = structure.positions(i, d) - step;
      const double minus = energy_of(potential, moved);
      moved.positions(i, d) = structure.positions(i, d);
      forces(i, d) = -(plus - minus) / (2 * step);
    }
  return forces;
}

namespace {
double strained_energy(Potential& potential, const Structure& structure, int a, int b, double e) {
  Eigen::Matrix3d deformation = Eigen::Matrix3d::Identity();
  deformation(a, b) += a == b ? e : 0.5 * e;
  if (a != b) deformation(b, a) += 0.5 * e;
  Structure strained = structure;
  strained.cell = structure.cell * deformation;
  strained.positions = structure.positions * deformation;
  return energy_of(potential, strained);
}
}  // namespace

Voigt numerical_stress(Potential& potential, const Structure& structure, double step) {
  constexpr int voigt[6][2] = {{0, 0}, {1, 1}, {2, 2}, {1, 2}, {0, 2}, {0, 1}};
  Voigt stress;
  const double volume = structure.volume();
  for (int k = 0; k < 6; ++k) {
    const auto [a, b] = voigt[k];
    // Off-diagonal: ε_ab = ε_ba = e/2, so dE/de = σ_ab V.
    const double plus = strained_energy(potential, structure, a, b, step);
    const double minus = strained_energy(potential, structure, a, b, -step);
    stress[k] = (plus - minus) / (2 * step * volume);
  }
  return stress;
}

}  // namespace otfgp::testing
