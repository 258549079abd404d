#pragma once
// Central-difference references for forces (−∂E/∂x) and stress ((1/V)∂E/∂ε),
// used to check every potential and descriptor.

#include "otfgp/core/structure.hpp"
#include "otfgp/potentials/potential.hpp"

namespace otfgp::testing {

double energy_of(Potential& potential, const Structure& structure);
Positions numerical_forces(Potential& potential, const Structure& structure, double step = 1e-5);
// Symmetric strain of ±step on each Voigt component, as ase.calculators.calculator.
Voigt numerical_stress(Potential& potential, const Structure& structure, double step = 1e-6);

}  // namespace otfgp::testing
