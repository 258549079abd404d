#pragma once
// Central differences of an oracle's own energies, to prove that the forces
// and stress it parses carry the right units and signs.

#include <filesystem>

#include "otfgp/oracle/oracle.hpp"

namespace otfgp::testing {

// The oracle's energy (eV) of `structure`, labelled in a fresh subfolder of `workdir`.
double oracle_energy(oracle::Oracle& oracle, const Structure& structure,
                     const std::filesystem::path& workdir);
// −∂E/∂x_{atom,direction} (eV/Å) from energies at ±step (Å).
double oracle_force_difference(oracle::Oracle& oracle, const Structure& structure, int atom,
                               int direction, double step, const std::filesystem::path& workdir);
// (1/V) ∂E/∂ε_{ij} (eV/Å³, ASE sign) from energies at symmetric strains ±step,
// as ase.calculators.calculator.Calculator.calculate_numerical_stress.
double oracle_stress_difference(oracle::Oracle& oracle, const Structure& structure, int i, int j,
                                double step, const std::filesystem::path& workdir);

}  // namespace otfgp::testing
