#!/usr/bin/python3
"""Sanity checks of the shipped Buckingham + DSF Coulomb parameter files.

An independent numpy implementation of the energy of otfgp's `buck:` potential
(the same formula as LAMMPS hybrid/overlay buck + coul/dsf) drives ASE
relaxations of cell and positions, and compares the DSF Coulomb energy with an
Ewald sum (pymatgen). Prints relaxed lattice parameters against experiment,
checks that rattled and strained 2x2x2 supercells relax back (mechanical
stability) and relaxes the Ba-Rh-O phases at 0 and 10 GPa.

Usage (from the repository root; a few minutes on one core):
    /usr/bin/python3 scripts/check_buck_params.py [--quick]
"""
import argparse
import os
import warnings

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.neighborlist import neighbor_list
from ase.optimize import BFGS
from scipy.special import erfc

try:
    from ase.filters import FrechetCellFilter as CellFilter
except ImportError:  # older ASE
    from ase.constraints import ExpCellFilter as CellFilter

COULOMB = 14.399645  # LAMMPS's qqr2e, metal units
GPA = 1 / 160.21766208
PARAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "potentials", "params")


def read_buck(path):
    spec = {"charges": {}, "pairs": {}}
    for line in open(path):
        words = line.split("#")[0].split()
        if not words:
            continue
        if words[0] == "charge":
            spec["charges"][words[1]] = float(words[2])
        elif words[0] == "pair":
            spec["pairs"][frozenset((words[1], words[2]))] = tuple(map(float, words[3:6]))
        else:
            spec[words[0]] = float(words[1])
    spec.setdefault("buckingham_cutoff", spec["coulomb_cutoff"])
    return spec


class BuckinghamDsf(Calculator):
    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, spec, coulomb_only=False, **kwargs):
        super().__init__(**kwargs)
        self.spec, self.coulomb_only = spec, coulomb_only
        a, rc = spec["alpha"], spec["coulomb_cutoff"]
        self.f_shift = -(erfc(a * rc) / rc**2 + 2 / np.sqrt(np.pi) * a * np.exp(-a * a * rc * rc) / rc)
        self.e_shift = erfc(a * rc) / rc - self.f_shift * rc

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        s, at = self.spec, self.atoms
        symbols = np.array(at.get_chemical_symbols())
        q = np.array([s["charges"][x] for x in symbols])
        alpha, rc, rb = s["alpha"], s["coulomb_cutoff"], s["buckingham_cutoff"]
        i, j, d = neighbor_list("ijD", at, max(rc, rb))
        r = np.linalg.norm(d, axis=1)
        qq = COULOMB * q[i] * q[j]
        inside = r < rc
        energy = np.where(inside, qq * (erfc(alpha * r) / r - self.e_shift - r * self.f_shift), 0.0)
        slope = np.where(inside, qq * (-erfc(alpha * r) / r**2 - 2 * alpha / np.sqrt(np.pi) * np.exp(-(alpha * r) ** 2) / r - self.f_shift), 0.0)
        if not self.coulomb_only:
            for pair, (a, rho, c) in s["pairs"].items():
                e1, e2 = tuple(pair) if len(pair) == 2 else (tuple(pair)[0],) * 2
                sel = (r < rb) & (((symbols[i] == e1) & (symbols[j] == e2)) | ((symbols[i] == e2) & (symbols[j] == e1)))
                energy[sel] += a * np.exp(-r[sel] / rho) - c / r[sel] ** 6
                slope[sel] += -a / rho * np.exp(-r[sel] / rho) + 6 * c / r[sel] ** 7
        total = 0.5 * energy.sum() - (self.e_shift / 2 + alpha / np.sqrt(np.pi)) * COULOMB * (q**2).sum()
        pair_force = (slope / r)[:, None] * d  # force on i from j
        forces = np.zeros((len(at), 3))
        np.add.at(forces, i, pair_force)
        virial = -0.5 * np.einsum("ka,kb->ab", d, pair_force)
        sigma = -virial / at.get_volume()
        self.results = {"energy": total, "free_energy": total, "forces": forces,
                        "stress": sigma[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]}


def relax(atoms, spec, pressure_gpa=0.0, steps=800):
    atoms.calc = BuckinghamDsf(spec)
    BFGS(CellFilter(atoms, scalar_pressure=pressure_gpa * GPA), logfile=None).run(fmax=1e-4, steps=steps)
    return atoms


def rocksalt(formula, a):
    return bulk(formula, "rocksalt", a=a, cubic=True)


def rutile(formula, a, c, u=0.305):
    return Atoms(formula, scaled_positions=[(0, 0, 0), (.5, .5, .5), (u, u, 0), (1 - u, 1 - u, 0),
                                            (.5 + u, .5 - u, .5), (.5 - u, .5 + u, .5)], cell=[a, a, c], pbc=True)


def perovskite(formula, a):
    return Atoms(formula, scaled_positions=[(0, 0, 0), (.5, .5, .5), (.5, .5, 0), (.5, 0, .5), (0, .5, .5)],
                 cell=[a] * 3, pbc=True)


def k2nif4(a, c, z_ba=0.355, z_o=0.16):
    frac = [(0, 0, 0), (.5, .5, .5), (0, 0, z_ba), (0, 0, 1 - z_ba), (.5, .5, .5 + z_ba), (.5, .5, .5 - z_ba),
            (.5, 0, 0), (0, .5, 0), (.5, 0, .5), (0, .5, .5), (0, 0, z_o), (0, 0, 1 - z_o), (.5, .5, .5 + z_o), (.5, .5, .5 - z_o)]
    return Atoms("Rh2Ba4O8", scaled_positions=frac, cell=[a, a, c], pbc=True)


def stable(atoms, spec):
    """Relaxes a rattled, strained 2x2x2 supercell; returns its energy change per atom."""
    e0 = atoms.get_potential_energy() / len(atoms)
    big = atoms.repeat((2, 2, 2))
    big.rattle(0.05, seed=4)
    strain = np.eye(3) + 0.01 * np.random.default_rng(3).standard_normal((3, 3))
    big.set_cell(big.cell[:] @ strain, scale_atoms=True)
    relax(big, spec)
    return big.get_potential_energy() / len(big) - e0


def ewald_error(atoms, spec):
    from pymatgen.analysis.ewald import EwaldSummation
    from pymatgen.io.ase import AseAtomsAdaptor
    structure = AseAtomsAdaptor.get_structure(atoms)
    structure.add_oxidation_state_by_element(spec["charges"])
    ewald = EwaldSummation(structure).total_energy
    probe = atoms.copy()
    probe.calc = BuckinghamDsf(spec, coulomb_only=True)
    return (probe.get_potential_energy() - ewald) / len(atoms)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the supercell and 10 GPa checks")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    nacl = read_buck(os.path.join(PARAMS, "NaCl.buck"))
    barho = read_buck(os.path.join(PARAMS, "BaRhO.buck"))
    cases = [("NaCl rocksalt", rocksalt("NaCl", 5.6), nacl, "a 5.640 (RT)"),
             ("BaO rocksalt", rocksalt("BaO", 5.5), barho, "a 5.52"),
             ("RhO2 rutile", rutile("Rh2O4", 4.49, 3.09), barho, "a 4.49 c 3.09"),
             ("BaRhO3 cubic perovskite", perovskite("BaRhO3", 4.0), barho, "(cubic BaRuO3: a 4.006)")]
    for name, atoms, spec, experiment in cases:
        relax(atoms, spec)
        a, b, c = atoms.cell.cellpar()[:3]
        line = f"{name:24s} a={a:.4f} c={c:.4f} V/atom={atoms.get_volume() / len(atoms):.3f}  exp: {experiment}"
        line += f"  DSF-Ewald={1000 * ewald_error(atoms, spec):+.2f} meV/atom"
        if not args.quick:
            line += f"  supercell dE={stable(atoms, spec):+.1e} eV/atom"
        print(line, flush=True)
    if args.quick:
        return
    for pressure in (0.0, 10.0):
        for name, atoms in [("BaO", rocksalt("BaO", 5.5)), ("RhO2", rutile("Rh2O4", 4.49, 3.09)),
                            ("BaRhO3", perovskite("BaRhO3", 4.0)), ("Ba2RhO4 K2NiF4-type", k2nif4(4.03, 13.3))]:
            relax(atoms, barho, pressure)
            distances = atoms.get_all_distances(mic=True)
            np.fill_diagonal(distances, np.inf)
            enthalpy = (atoms.get_potential_energy() + pressure * GPA * atoms.get_volume()) / len(atoms)
            print(f"{pressure:4.0f} GPa {name:20s} H/atom={enthalpy:.4f} eV cell={np.round(atoms.cell.cellpar()[:3], 4)}"
                  f" shortest distance={distances.min():.3f} A", flush=True)


if __name__ == "__main__":
    main()
