#!/usr/bin/python3
"""Writes the campaign's starting cells: the hull-barho candidates (relaxed
with nothing; ideal prototypes) repeated to 20-60 atoms with every
perpendicular width at least 7 A, as extended XYZ. Run with /usr/bin/python3
(Debian's, which has ASE) from this folder."""
import numpy as np
from ase.io import read, write

source = "../hull-barho/structures"
for name in ["BaO", "RhO2", "BaRhO3-cubic", "Ba2RhO4"]:
    atoms = read(f"{source}/{name}.vasp")
    cell = atoms.cell.array
    volume = abs(np.linalg.det(cell))
    widths = [volume / np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3])) for i in range(3)]
    repeat = [max(1, int(np.ceil(7.0 / w))) for w in widths]
    big = atoms.repeat(repeat)
    write(f"structures/{name}.xyz", big, format="extxyz")
    print(f"{name}: {len(atoms)} atoms x {repeat} = {len(big)} atoms")
