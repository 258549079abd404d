#pragma once
// Runs Debian's LAMMPS (`lmp`) for one single point on a structure and reads
// back energy, forces and stress, for parity tests of the reference potentials.

#include <map>
#include <string>
#include <vector>

#include "otfgp/core/structure.hpp"

namespace otfgp::testing {

struct LammpsResult {
  double energy = 0.0;  // eV
  Positions forces;     // eV/Å, in the structure's own orientation
  Voigt stress;         // eV/Å³, ASE sign (virial part only)
};

struct LammpsSetup {
  // Pair commands; "{elements}" is replaced by the element symbols in LAMMPS
  // type order (species sorted by atomic number), e.g.
  // {"pair_style sw", "pair_coeff * * /usr/share/lammps/potentials/Si.sw {elements}"}.
  std::vector<std::string> pair_commands;
  // Charge per atomic number; when non-empty the run uses atom_style charge.
  std::map<int, double> charges;
};

// Any cell: it is rotated to LAMMPS's lower-triangular form and the results
// rotated back. Throws with LAMMPS's log tail when lmp fails.
LammpsResult run_lammps(const Structure& structure, const LammpsSetup& setup);

}  // namespace otfgp::testing
