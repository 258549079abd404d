#pragma once
// Assertions shared by the potential tests: analytic forces and stress against
// central differences, and against LAMMPS.

#include <string>

#include "otfgp/potentials/potential.hpp"
#include "support/lammps.hpp"

namespace otfgp::testing {

// Forces within force_tolerance (eV/Å) and stress within stress_tolerance
// (eV/Å³) of central differences.
void check_derivatives(Potential& potential, const Structure& structure,
                       double force_tolerance = 1e-6, double stress_tolerance = 1e-7);
// Energy to a relative 1e-8 and forces to 1e-6 eV/Å of LAMMPS; stress to 1e-8 eV/Å³.
void check_lammps_parity(Potential& potential, const Structure& structure,
                         const LammpsSetup& setup);

}  // namespace otfgp::testing
