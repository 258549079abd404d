#pragma once
// The atoms as the MD engine and the potentials see them: Kokkos views in the
// execution space's memory plus the cell. Species are indices into
// `species` (atomic numbers), so kernels deal in small integers.

#include <vector>

#include "otfgp/core/box.hpp"
#include "otfgp/core/structure.hpp"
#include "otfgp/core/types.hpp"

namespace otfgp {

struct AtomState {
  int natoms = 0;
  Box box;
  VecView x;                 // positions, Å (not wrapped between neighbour-list builds)
  VecView v;                 // velocities, Å/fs
  VecView f;                 // forces, eV/Å (written by Potential::compute)
  IntView type;              // species index of each atom
  ScalarView mass;           // amu, per atom
  std::vector<int> species;  // atomic number of each species index, ascending

  // Copies cell, positions and numbers to the device; masses are the
  // elements', velocities zero.
  static AtomState from_structure(const Structure& structure);
  // Copies positions (and cell) back into a host structure with the same atoms.
  Structure to_structure() const;
  // The masses of the structure's `masses` column (amu; ASE writes one after
  // atoms.set_masses), when it has one: for the dynamics (md, otf), which
  // alone use masses. Throws otfgp::Error for a mass that is not finite and
  // positive, naming the atom (from 1).
  void take_masses(const Structure& structure);
  // Adds a `masses` column to `structure` (these atoms) when a mass is not its
  // element's: trajectory frames and restart files keep them.
  void write_masses(Structure& structure) const;
  // Overwrites positions and cell from a host structure with the same atoms.
  void set_positions(const Structure& structure);
};

}  // namespace otfgp
