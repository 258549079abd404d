#!/usr/bin/python3
"""Energy of a crystal compressed below the training data: reference against
the GP with and without its short-range ZBL repulsion (docs/gp.md,
"Short-range repulsion").

  /usr/bin/python3 bench/gp_repulsion.py MODEL.h5 REFERENCE_SPEC STRUCTURE \
      [--scales 1.0:0.55:0.05] [--build build] [--plot FILE.png]

Each frame is STRUCTURE with its cell and positions scaled by s (linear).
Prints, per s: the shortest distance, E/atom of the reference, of
gp:MODEL,repulsion=none and of gp:MODEL (repulsion on), the atoms flagged
novel; energies relative to each model's s = 1 value.
"""
import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from ase.io import read, write


def energies(otfgp, spec, frames_file, out):
    subprocess.run([otfgp, "-q", "eval", str(frames_file), "-p", spec, "-o", str(out)], check=True)
    frames = read(out, ":")
    novel = [int(f.arrays["novel"].sum()) if "novel" in f.arrays else 0 for f in frames]
    return np.array([f.get_potential_energy() / len(f) for f in frames]), novel


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("reference")
    parser.add_argument("structure")
    parser.add_argument("--scales", default="1.0:0.55:0.05")
    parser.add_argument("--build", default=str(Path(__file__).resolve().parent.parent / "build"))
    parser.add_argument("--plot")
    args = parser.parse_args()
    start, stop, step = (float(x) for x in args.scales.split(":"))
    scales = np.arange(start, stop - 1e-9, -step)
    base = read(args.structure)
    frames = []
    for s in scales:
        atoms = base.copy()
        atoms.set_cell(base.cell * s, scale_atoms=True)
        frames.append(atoms)
    shortest = [np.min(a.get_all_distances(mic=True) + 1e9 * np.eye(len(a))) for a in frames]
    otfgp = str(Path(args.build) / "otfgp")
    with tempfile.TemporaryDirectory() as work:
        frames_file = Path(work) / "frames.xyz"
        write(frames_file, frames)
        reference, _ = energies(otfgp, args.reference, frames_file, Path(work) / "ref.xyz")
        bare, novel = energies(otfgp, f"gp:{args.model},repulsion=none", frames_file,
                               Path(work) / "bare.xyz")
        wall, _ = energies(otfgp, f"gp:{args.model}", frames_file, Path(work) / "zbl.xyz")
    print("scale,shortest_A,reference_eV_per_atom,gp_bare_eV_per_atom,gp_zbl_eV_per_atom,novel_atoms")
    for row in zip(scales, shortest, reference - reference[0], bare - bare[0], wall - wall[0], novel):
        print("{:.3f},{:.3f},{:.4f},{:.4f},{:.4f},{}".format(*row))
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(shortest, reference - reference[0], "k-o", label=args.reference.split("/")[-1])
        ax.plot(shortest, bare - bare[0], "r-s", label="GP, repulsion=none")
        ax.plot(shortest, wall - wall[0], "b-^", label="GP (ZBL below the training data)")
        ax.set_xlabel("shortest distance (Å)")
        ax.set_ylabel("E − E(s = 1) (eV/atom)")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.legend()
        ax.set_title(Path(args.structure).name + " compressed")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)


if __name__ == "__main__":
    main()
