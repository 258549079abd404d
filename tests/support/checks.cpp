#include "support/checks.hpp"

#include <catch2/catch.hpp>

#include "otfgp/potentials/evaluate.hpp"
#include "support/finite_difference.hpp"

namespace otfgp::testing {

void check_derivatives(Potential& potential, const Structure& structure, double force_tolerance,
                       double stress_tolerance) {
  const Evaluation analytic = evaluate(potential, structure);
  const Positions numeric = numerical_forces(potential, structure);
  const double force_error = (analytic.forces - numeric).cwiseAbs().maxCoeff();
  INFO("max |F − F_fd| = " << force_error
                           << " eV/Å, max |F| = " << analytic.forces.cwiseAbs().maxCoeff());
  CHECK(force_error < force_tolerance);
  REQUIRE(analytic.stress.has_value());
  const Voigt numeric_stress = numerical_stress(potential, structure);
  const double stress_error = (*analytic.stress - numeric_stress).cwiseAbs().maxCoeff();
  INFO("stress " << analytic.stress->transpose() << " vs fd " << numeric_stress.transpose());
  CHECK(stress_error < stress_tolerance);
}

void check_lammps_parity(Potential& potential, const Structure& structure,
                         const LammpsSetup& setup) {
  const Evaluation ours = evaluate(potential, structure);
  const LammpsResult lammps = run_lammps(structure, setup);
  INFO("energy otfgp " << ours.energy << " lammps " << lammps.energy);
  CHECK(std::abs(ours.energy - lammps.energy) <= 1e-8 * std::max(1.0, std::abs(lammps.energy)));
  const double force_error = (ours.forces - lammps.forces).cwiseAbs().maxCoeff();
  INFO("max force difference " << force_error << " eV/Å");
  CHECK(force_error < 1e-6);
  const double stress_error = (*ours.stress - lammps.stress).cwiseAbs().maxCoeff();
  INFO("stress otfgp " << ours.stress->transpose() << "\nstress lammps "
                       << lammps.stress.transpose());
  CHECK(stress_error < 1e-8);
}

}  // namespace otfgp::testing
