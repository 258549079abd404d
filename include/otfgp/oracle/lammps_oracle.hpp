#pragma once
// The `lammps` oracle: LAMMPS (`lmp`, units metal) with user-given
// pair_style / pair_coeff lines, a classical oracle for any potential LAMMPS
// has. One `run 0` per frame through a data file; the cell is rotated to
// LAMMPS's lower-triangular form and forces and stress rotated back. Stress
// is the virial part only (eV/Å³, ASE's sign). Keys in docs/oracles.md.

#include <memory>

#include "otfgp/oracle/oracle.hpp"

namespace otfgp::oracle {

std::unique_ptr<Oracle> make_lammps_oracle(const ConfigSection& section,
                                           const std::filesystem::path& base_dir);

}  // namespace otfgp::oracle
