"""Writes the starting structures of the Ba-Rh-O hull example (POSCAR files in
structures/): the end members BaO (rock salt) and RhO2 (rutile), and compounds
on the BaO-RhO2 join: BaRhO3 as a cubic perovskite and as the 2H hexagonal
(BaNiO3-type) perovskite, the Ruddlesden-Popper phases Ba(n+1)Rh(n)O(3n+1)
for n = 1, 2, 3 (Ba2RhO4, Ba3Rh2O7, Ba4Rh3O10) and Ba3RhO5, a perovskite
layer between triple BaO rock-salt slabs. Lattice parameters are rough
experimental or ideal values; otfgp relaxes every cell at each pressure.

Run with the Debian Python, which has ASE:  /usr/bin/python3 make_structures.py
"""
import os

import numpy as np
from ase import Atoms
from ase.io import write
from ase.spacegroup import crystal

HERE = os.path.dirname(os.path.abspath(__file__))
A_PEROVSKITE = 4.00  # Å, pseudo-cubic Rh-O-Rh repeat
RH_O = A_PEROVSKITE / 2  # Å, Rh-O bond and perovskite layer spacing
ROCK_SALT = 2.76  # Å, spacing of BaO planes in a rock-salt slab (BaO: a/2)


def layered(sequence):
    """Stacks square-lattice layers along z. Each layer is (kind, shift, gap):
    kind "RhO2" (Rh at the origin, O on the edges) or "BaO" (Ba at the centre,
    O at the origin, i.e. above Rh); shift True moves the layer by (a/2, a/2);
    gap is its distance from the layer before. The cell is the sum of gaps."""
    symbols, positions, z = [], [], 0.0
    for kind, shift, gap in sequence:
        z += gap
        offset = np.array([0.5, 0.5]) * A_PEROVSKITE if shift else np.zeros(2)
        if kind == "RhO2":
            sites = [("Rh", (0, 0)), ("O", (0.5, 0)), ("O", (0, 0.5))]
        else:
            sites = [("Ba", (0.5, 0.5)), ("O", (0, 0))]
        for symbol, (fx, fy) in sites:
            xy = (np.array([fx, fy]) * A_PEROVSKITE + offset) % A_PEROVSKITE
            symbols.append(symbol)
            positions.append([xy[0], xy[1], z])
    cell = np.diag([A_PEROVSKITE, A_PEROVSKITE, z])
    positions = np.array(positions)
    positions[:, 2] -= positions[0, 2]  # first layer at z = 0, last gap closes the cell
    return Atoms(symbols, positions=positions, cell=cell, pbc=True)


def ruddlesden_popper(n):
    """Ba(n+1)Rh(n)O(3n+1): two blocks of n perovskite layers, the second shifted
    by (a/2, a/2), joined by BaO-BaO rock-salt contacts (body-centred stacking)."""
    sequence = []
    for shift in (False, True):
        sequence.append(("BaO", shift, ROCK_SALT))
        for _ in range(n):
            sequence.append(("RhO2", shift, RH_O))
            sequence.append(("BaO", shift, RH_O))
    return layered(sequence)


def ba3rho5():
    """One RhO2 layer between BaO slabs three layers thick: the middle BaO layer
    is shifted, so one block repeats (P4/mmm)."""
    return layered([("RhO2", False, RH_O), ("BaO", False, RH_O), ("BaO", True, ROCK_SALT),
                    ("BaO", False, ROCK_SALT)])


structures = {
    "BaO": crystal(["Ba", "O"], [(0, 0, 0), (0.5, 0.5, 0.5)], spacegroup=225, cellpar=[5.52, 5.52, 5.52, 90, 90, 90],
                   primitive_cell=True),
    "RhO2": crystal(["Rh", "O"], [(0, 0, 0), (0.306, 0.306, 0)], spacegroup=136,
                    cellpar=[4.49, 4.49, 3.09, 90, 90, 90]),
    "BaRhO3-cubic": layered([("RhO2", False, RH_O), ("BaO", False, RH_O)]),
    "BaRhO3-2H": crystal(["Ba", "Rh", "O"], [(1 / 3, 2 / 3, 0.75), (0, 0, 0), (0.15, 0.30, 0.25)], spacegroup=194,
                         cellpar=[5.70, 5.70, 4.80, 90, 90, 120]),
    "Ba2RhO4": ruddlesden_popper(1),
    "Ba3Rh2O7": ruddlesden_popper(2),
    "Ba4Rh3O10": ruddlesden_popper(3),
    "Ba3RhO5": ba3rho5(),
}

os.makedirs(os.path.join(HERE, "structures"), exist_ok=True)
for name, atoms in structures.items():
    distances = atoms.get_all_distances(mic=True)
    shortest = distances[np.triu_indices(len(atoms), 1)].min() if len(atoms) > 1 else 0
    write(os.path.join(HERE, "structures", name + ".vasp"), atoms, format="vasp", direct=True, sort=True)
    print(f"{name:14s} {atoms.get_chemical_formula(mode='metal'):12s} {len(atoms):3d} atoms  "
          f"V = {atoms.get_volume() / len(atoms):6.2f} A^3/atom  shortest distance {shortest:.2f} A")
