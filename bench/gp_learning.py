#!/usr/bin/python3
"""Learning curves of otfgp's sparse GP against an analytic reference potential.

  /usr/bin/python3 bench/gp_learning.py si    [--build build] [--work DIR] [--sizes 5,10,20,30,50]
  /usr/bin/python3 bench/gp_learning.py barho [--build build] [--work DIR] [--sizes 16,32,48]

si:    Si labelled by Stillinger-Weber (sw:Si.sw). LAMMPS (lmp, pair_style sw)
       runs 64-atom NPT MD at 0 bar: diamond crystal at 300, 600, 900, 1200 and
       1500 K, and a liquid (melted at 3500 K) at 2000 K. Frames every 0.2 ps
       after 4 ps of equilibration; from each run the first 25 frames form the
       training pool and the last 15 the held-out set.
barho: Ba-Rh-O labelled by Buckingham + DSF Coulomb (buck:BaRhO.buck; charges
       +2/+4/-2). LAMMPS (hybrid/overlay buck + coul/dsf, the same model) runs
       NPT MD at 0 and 10 GPa, 300 and 800 K, of BaO rocksalt (64 atoms), RhO2
       rutile (72), BaRhO3 cubic perovskite (60) and K2NiF4-type Ba2RhO4 (56).
       Per run: 12 pool frames, 6 held-out frames.

All labels come from `otfgp eval` with the reference potential, the models from
`otfgp train --data POOL_SUBSET --test HELD_OUT --summary`, so the whole CLI
path is exercised. For each training-set size the subset takes frames round
robin over the runs (every temperature, phase and pressure is represented).
Prints markdown tables for docs/BENCHMARKS.md.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import ase.io
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(command, cwd=None):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def lammps_md(work, name, data_lines, pair_lines, masses, steps_equilibrate, steps_sample, every, temperature,
              pressure_bar, seed, melt=None, charges=None):
    """Runs one NPT trajectory, returns the frames as ASE Atoms (chemical symbols set)."""
    directory = os.path.join(work, name)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "in.lmp"), "w") as f:
        f.write("units metal\nboundary p p p\n")
        f.write(f"atom_style {'charge' if charges else 'atomic'}\n")
        f.write("read_data data.lmp\n")
        for i, mass in enumerate(masses, start=1):
            f.write(f"mass {i} {mass}\n")
        if charges:
            for i, q in enumerate(charges, start=1):
                f.write(f"set type {i} charge {q}\n")
        f.write("\n".join(pair_lines) + "\n")
        f.write("neighbor 1.0 bin\ntimestep 0.001\nthermo 1000\n")
        if melt:
            f.write(f"velocity all create {melt} {seed} dist gaussian\n")
            f.write(f"fix melt all npt temp {melt} {melt} 0.1 iso {pressure_bar} {pressure_bar} 1.0\n")
            f.write("run 10000\nunfix melt\n")
        else:
            f.write(f"velocity all create {2 * temperature} {seed} dist gaussian\n")
        f.write(f"fix md all npt temp {temperature} {temperature} 0.1 iso {pressure_bar} {pressure_bar} 1.0\n")
        f.write(f"run {steps_equilibrate}\n")
        f.write(f"dump frames all custom {every} dump.lammpstrj id type x y z\ndump_modify frames sort id\n")
        f.write(f"run {steps_sample}\n")
    with open(os.path.join(directory, "data.lmp"), "w") as f:
        f.write("\n".join(data_lines) + "\n")
    run(["lmp", "-in", "in.lmp", "-log", "log.lammps", "-screen", "none"], cwd=directory)
    return ase.io.read(os.path.join(directory, "dump.lammpstrj"), ":", format="lammps-dump-text")


def data_file(atoms, type_of, charges=None):
    """A LAMMPS data file (orthogonal cells only) for ASE Atoms."""
    cell = atoms.cell.array
    assert np.allclose(cell, np.diag(np.diag(cell))), "orthogonal cells only"
    lines = ["# otfgp bench", f"{len(atoms)} atoms", f"{len(set(type_of.values()))} atom types",
             f"0 {cell[0, 0]} xlo xhi", f"0 {cell[1, 1]} ylo yhi", f"0 {cell[2, 2]} zlo zhi", "", "Atoms", ""]
    for i, (symbol, position) in enumerate(zip(atoms.get_chemical_symbols(), atoms.positions), start=1):
        t = type_of[symbol]
        q = f" {charges[t - 1]}" if charges else ""
        lines.append(f"{i} {t}{q} {position[0]} {position[1]} {position[2]}")
    return lines


def set_symbols(frames, symbols_of_type):
    for atoms in frames:
        # ASE's dump reader reads types as atomic numbers.
        atoms.set_chemical_symbols([symbols_of_type[int(t)] for t in atoms.numbers])
        atoms.pbc = True
    return frames


def silicon_runs(work):
    from ase.build import bulk
    crystal = bulk("Si", "diamond", a=5.431, cubic=True).repeat((2, 2, 2))
    pair = ["pair_style sw", "pair_coeff * * /usr/share/lammps/potentials/Si.sw Si"]
    runs = []
    for k, (temperature, melt) in enumerate([(300, None), (600, None), (900, None), (1200, None), (1500, None),
                                             (2000, 3500)]):
        name = f"Si_{temperature}K" + ("_liquid" if melt else "")
        frames = lammps_md(work, name, data_file(crystal, {"Si": 1}), pair, [28.0855], 4000, 8000, 200,
                           temperature, 0.0, 1000 + k, melt=melt)
        frames = set_symbols(frames[1:], {1: "Si"})
        runs.append((name, frames[:25], frames[-15:]))
    return runs, "sw:Si.sw"


def barho_runs(work):
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import check_buck_params as buck  # builders of the phases (same cells as docs/potentials.md)
    phases = [("BaO", buck.rocksalt("BaO", 5.514), (2, 2, 2)),
              ("RhO2", buck.rutile("Rh2O4", 4.503, 3.210), (2, 2, 3)),
              ("BaRhO3", buck.perovskite("BaRhO3", 4.093), (2, 2, 3)),
              ("Ba2RhO4", buck.k2nif4(4.03, 13.3), (2, 2, 1))]
    types = {"O": 1, "Rh": 2, "Ba": 3}
    charges = [-2.0, 4.0, 2.0]
    pair = ["pair_style hybrid/overlay buck 12.0 coul/dsf 0.25 12.0", "pair_coeff * * coul/dsf",
            "pair_coeff 1 1 buck 22764.0 0.149 27.88", "pair_coeff 1 2 buck 754.2 0.3879 0.0",
            "pair_coeff 1 3 buck 931.7 0.3949 0.0", "neigh_modify one 10000 page 200000"]
    runs = []
    seed = 2000
    for name, cell, repeat in phases:
        atoms = cell.repeat(repeat)
        for pressure_gpa in (0, 10):
            for temperature in (300, 800):
                seed += 1
                label = f"{name}_{pressure_gpa}GPa_{temperature}K"
                # Anisotropic cells keep their shape under iso coupling; fine for sampling.
                frames = lammps_md(work, label, data_file(atoms, types, charges), pair, [15.999, 102.906, 137.327],
                                   3000, 3600, 200, temperature, pressure_gpa * 1e4, seed, charges=charges)
                frames = set_symbols(frames[1:], {1: "O", 2: "Rh", 3: "Ba"})
                runs.append((label, frames[:12], frames[-6:]))
    return runs, "buck:BaRhO.buck"


def spearman(x, y):
    rank = lambda v: np.argsort(np.argsort(v, kind="stable"), kind="stable")
    return float(np.corrcoef(rank(x), rank(y))[0, 1])


def label(otfgp, spec, frames, path, work):
    raw = os.path.join(work, "raw.xyz")
    ase.io.write(raw, frames, format="extxyz")
    run([otfgp, "-q", "eval", "-p", spec, raw, "-o", path])


TRAIN_CONFIG = {
    "si": """descriptor: {n_max: 8, l_max: 6, cutoff: 4.0}
kernel: {power: 2}
sparse: {method: uncertain, count: 20}
hyperparameters: {signal_std: 2.0, energy_noise: 0.001, force_noise: 0.03, stress_noise: 0.0005}
""",
    "barho": """descriptor: {n_max: 8, l_max: 4, cutoff: 6.5}
kernel: {power: 2}
sparse: {method: uncertain, count: 30}
hyperparameters: {signal_std: 2.0, energy_noise: 0.002, force_noise: 0.05, stress_noise: 0.001}
""",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("system", choices=["si", "barho"])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--work", default=None, help="keep frames and models here (default: a temporary directory)")
    parser.add_argument("--sizes", default=None, help="training-set sizes, comma separated")
    args = parser.parse_args()
    otfgp = os.path.join(args.build, "otfgp")
    sizes = [int(s) for s in (args.sizes or ("5,10,20,30,50" if args.system == "si" else "16,32,48")).split(",")]
    work = args.work or tempfile.mkdtemp(prefix=f"otfgp-learning-{args.system}-")
    os.makedirs(work, exist_ok=True)

    start = time.time()
    runs, spec = silicon_runs(work) if args.system == "si" else barho_runs(work)
    pool, held_out = [], []
    for name, train, test in runs:
        for atoms in train + test:
            atoms.info["run"] = name
        pool.append(train)
        held_out += test
    test_path = os.path.join(work, "held_out.xyz")
    label(otfgp, spec, held_out, test_path, work)
    print(f"# {len(runs)} MD runs, {sum(len(p) for p in pool)} pool frames, {len(held_out)} held-out frames "
          f"({time.time() - start:.0f} s for MD and labels)", file=sys.stderr)

    config = os.path.join(work, "train.yaml")
    with open(config, "w") as f:
        f.write(TRAIN_CONFIG[args.system])
    rows = []
    for size in sizes:
        subset = [pool[k % len(pool)][k // len(pool)] for k in range(size)]
        data = os.path.join(work, f"train_{size}.xyz")
        label(otfgp, spec, subset, data, work)
        summary = os.path.join(work, f"summary_{size}.json")
        t0 = time.time()
        run([otfgp, "-q", "train", "--data", data, "--config", config, "--test", test_path, "-o",
             os.path.join(work, f"model_{size}.h5"), "--summary", summary])
        with open(summary) as f:
            s = json.load(f)
        s["wall_seconds"] = time.time() - t0
        rows.append((size, s))
        t = s["test"]
        print(f"# {size} frames: force MAE {t['force_mae_ev_per_a']:.4f} eV/A, energy MAE "
              f"{1e3 * t['energy_mae_ev_per_atom']:.2f} meV/atom, Spearman {t['uncertainty_force_error_spearman']:.3f}",
              file=sys.stderr)

    date = datetime.date.today().isoformat()
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {date}; "
          f"`/usr/bin/python3 bench/gp_learning.py {args.system}`\n")
    print("| training frames | sparse M | labels | force MAE (eV/Å) | energy MAE (meV/atom) | stress MAE (GPa) "
          "| Spearman(std, \\|ΔF\\|) | σ, σ_e, σ_f, σ_s | train time (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for size, s in rows:
        t, h, labels = s["test"], s["hyperparameters"], s["labels"]
        print(f"| {size} | {s['sparse']} | {labels['energy'] + labels['force'] + labels['stress']} "
              f"| {t['force_mae_ev_per_a']:.4f} | {1e3 * t['energy_mae_ev_per_atom']:.2f} | {t['stress_mae_gpa']:.3f} "
              f"| {t['uncertainty_force_error_spearman']:.2f} | {h['signal_std']:.3g}, {h['energy_noise']:.2g}, "
              f"{h['force_noise']:.2g}, {h['stress_noise']:.2g} | {s['seconds']['total']:.1f} |")
    size, s = rows[-1]
    print(f"\nHeld-out errors per composition with {size} training frames:\n")
    print("| composition | frames | force MAE (eV/Å) | energy MAE (meV/atom) | stress MAE (GPa) | Spearman |")
    print("| --- | --- | --- | --- | --- | --- |")
    for formula, t in s["test_by_composition"].items():
        print(f"| {formula} | {t['frames']} | {t['force_mae_ev_per_a']:.4f} | {1e3 * t['energy_mae_ev_per_atom']:.2f} "
              f"| {t['stress_mae_gpa']:.3f} | {t.get('uncertainty_force_error_spearman', float('nan')):.2f} |")

    # Per MD run (temperature, phase, pressure), from the mapped potential in `otfgp eval`.
    predicted = os.path.join(work, "held_out_predicted.xyz")
    run([otfgp, "-q", "eval", "-p", "gp:" + os.path.join(work, f"model_{size}.h5"), test_path, "-o", predicted])
    reference = ase.io.read(test_path, ":")
    prediction = ase.io.read(predicted, ":")
    print(f"\nHeld-out errors per MD run with {size} training frames (mapped potential, `otfgp eval`):\n")
    print("| run | frames | force MAE (eV/Å) | mean \\|F\\| (eV/Å) | energy MAE (meV/atom) | mean std | Spearman |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    std_all, error_all = [], []
    for name in [r[0] for r in runs]:
        pairs = [(r, p) for r, p in zip(reference, prediction) if r.info["run"] == name]
        force = np.mean([np.abs(r.get_forces() - p.get_forces()).mean() for r, p in pairs])
        scale = np.mean([np.abs(r.get_forces()).mean() for r, p in pairs])
        energy = np.mean([abs(r.get_potential_energy() - p.get_potential_energy()) / len(r) for r, p in pairs])
        std = np.concatenate([p.arrays["uncertainty"] for r, p in pairs])
        error = np.concatenate([np.linalg.norm(r.get_forces() - p.get_forces(), axis=1) for r, p in pairs])
        std_all.append(std)
        error_all.append(error)
        print(f"| {name} | {len(pairs)} | {force:.4f} | {scale:.3f} | {1e3 * energy:.2f} | {std.mean():.4f} "
              f"| {spearman(std, error):.2f} |")
    print(f"| all | {len(reference)} | | | | | {spearman(np.concatenate(std_all), np.concatenate(error_all)):.2f} |")


if __name__ == "__main__":
    main()
