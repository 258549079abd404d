#!/usr/bin/python3
"""Learning curves of otfgp's sparse GP against an analytic reference potential.

  /usr/bin/python3 bench/gp_learning.py si    [--build build] [--work DIR] [--sizes 5,10,20,30,50]
  /usr/bin/python3 bench/gp_learning.py barho [--build build] [--work DIR] [--sizes 16,32,48]
  /usr/bin/python3 bench/gp_learning.py cuni  [--sizes 10,25,50] [--config train.yaml]
  /usr/bin/python3 bench/gp_learning.py sic   [--sizes 10,25,50]
  /usr/bin/python3 bench/gp_learning.py cdznhgtese [--sizes 10,25,50,100,200]
  common options: [--embedding elements:K[:CONTRAST] | resolved] [--n-max N] [--l-max L] [--sparse-count C]
                  [--tag NAME]  (override the system's config; models and summaries are named by the tag)
                  [--plot PREFIX]  PREFIX.png: learning curve and σ_F calibration (gnuplot)
                  [--md-steps N]  `otfgp md` atom-steps/s of the largest model and of the reference

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
cuni:  random Cu54Ni54 fcc labelled by eam/alloy CuNi.eam.alloy: crystal at 300 and 1000 K and a liquid
       (2000 K) train, a crystal at 1500 K is held out; bcc, hcp and 15 % compressed fcc out of distribution.
sic:   SiC zincblende (Tersoff SiC.tersoff) at 300, 1000 and 2000 K; wurtzite and 15 % compressed
       zincblende out of distribution.
cdznhgtese: five components, random zincblende (Cd,Zn,Hg)(Te,Se) (Cd24 Zn12 Hg12 Te36 Se12, 96 atoms)
       labelled by the Stillinger-Weber CdTeZnSeHgS0.sw of Zhou et al. (2013): crystal at 300, 600, 900 K
       and a liquid (melted at 2200 K, run at 1600 K) train (50 pool frames each, so up to 200 frames), a
       crystal at 750 K is held out with the last 15 frames of each run; 15 % compressed zincblende out of
       distribution. otfgp's `sw` labels are checked against LAMMPS's (`lammps` oracle, `otfgp label`) on
       every held-out frame. (Debian's LAMMPS lacks the MEAM package, so AlSiMgCuFe.meam cannot be used.)
       Default model: n_max 4, l_max 4, embedding elements K = 2, γ = 0.25 (D = 180), 10 sparse per frame.

Besides errors, reports the force RMSE relative to the held-out force RMS, the
Spearman correlation of the per-atom std with |ΔF|, the coverage of force error
components by the calibrated force std at 1σ and 2σ (when the model has one),
and the mean std out of distribution relative to the held-out mean.

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
    data = "\n".join(data_lines) + "\n"
    dump = os.path.join(directory, "dump.lammpstrj")
    done = os.path.join(directory, "done")
    key = open(os.path.join(directory, "in.lmp")).read() + data
    # A run already made in this --work directory with the same input is reused (seeded: same frames).
    if not (os.path.exists(done) and open(done).read() == key):
        with open(os.path.join(directory, "data.lmp"), "w") as f:
            f.write(data)
        run(["lmp", "-in", "in.lmp", "-log", "log.lammps", "-screen", "none"], cwd=directory)
        with open(done, "w") as f:
            f.write(key)
    return ase.io.read(dump, ":", format="lammps-dump-text")


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


def cuni_runs(work):
    """Random Cu54Ni54 fcc: crystal at 300 and 1000 K and a liquid (melted at 3000 K, run at 2000 K) form
    the training pool; a crystal at 1500 K is held out (issue 9)."""
    from ase.build import bulk
    crystal = bulk("Cu", "fcc", a=3.57, cubic=True).repeat((3, 3, 3))
    rng = np.random.default_rng(9)
    symbols = np.array(["Cu"] * 54 + ["Ni"] * 54)
    rng.shuffle(symbols)
    crystal.set_chemical_symbols(list(symbols))
    pair = ["pair_style eam/alloy", "pair_coeff * * /usr/share/lammps/potentials/CuNi.eam.alloy Cu Ni"]
    runs = []
    for k, (temperature, melt, train) in enumerate([(300, None, True), (1000, None, True), (2000, 3000, True),
                                                    (1500, None, False)]):
        name = f"CuNi_{temperature}K" + ("_liquid" if melt else "")
        frames = lammps_md(work, name, data_file(crystal, {"Cu": 1, "Ni": 2}), pair, [63.546, 58.693], 4000, 8000,
                           200, temperature, 0.0, 3000 + k, melt=melt)
        frames = set_symbols(frames[1:], {1: "Cu", 2: "Ni"})
        runs.append((name, frames[:25] if train else [], frames[-15:]))
    # Out of distribution: the alloy 15 % compressed in volume, and bcc and hcp arrangements.
    extra = {}
    compressed = crystal.copy()
    compressed.set_cell(crystal.cell * 0.85 ** (1 / 3), scale_atoms=True)
    extra["fcc, volume -15 %"] = [rattled(compressed, 0.05, 1)]
    bcc = bulk("Cu", "bcc", a=2.84, cubic=True).repeat((4, 4, 4))
    bcc.set_chemical_symbols(list(rng.permutation(["Cu"] * 64 + ["Ni"] * 64)))
    extra["bcc"] = [rattled(bcc, 0.05, 2)]
    hcp = bulk("Cu", "hcp", a=2.52, c=4.12, orthorhombic=True).repeat((3, 2, 2))
    hcp.set_chemical_symbols(list(rng.permutation(["Cu", "Ni"] * (len(hcp) // 2))))
    extra["hcp"] = [rattled(hcp, 0.05, 3)]
    return runs, "eam/alloy:CuNi.eam.alloy", extra


def sic_runs(work):
    """SiC zincblende (64 atoms, Tersoff) at 300, 1000 and 2000 K; wurtzite (energy-degenerate with
    zincblende in this potential) and 15 % compressed zincblende out of distribution."""
    from ase.build import bulk
    crystal = bulk("SiC", "zincblende", a=4.36, cubic=True).repeat((2, 2, 2))
    pair = ["pair_style tersoff", "pair_coeff * * /usr/share/lammps/potentials/SiC.tersoff Si C"]
    runs = []
    for k, temperature in enumerate([300, 1000, 2000]):
        name = f"SiC_{temperature}K"
        frames = lammps_md(work, name, data_file(crystal, {"Si": 1, "C": 2}), pair, [28.0855, 12.011], 4000, 8000,
                           200, temperature, 0.0, 4000 + k)
        frames = set_symbols(frames[1:], {1: "Si", 2: "C"})
        runs.append((name, frames[:25], frames[-15:]))
    extra = {}
    compressed = crystal.copy()
    compressed.set_cell(crystal.cell * 0.85 ** (1 / 3), scale_atoms=True)
    extra["zincblende, volume -15 %"] = [rattled(compressed, 0.03, 1)]
    wurtzite = bulk("SiC", "wurtzite", a=3.08, c=5.04).repeat((3, 3, 2))
    extra["wurtzite"] = [rattled(wurtzite, 0.03, 2)]
    return runs, "tersoff:SiC.tersoff", extra


II_VI_ELEMENTS = ["Cd", "Zn", "Hg", "Te", "Se"]


def cdznhgtese_runs(work):
    """Random zincblende (Cd,Zn,Hg)(Te,Se): cations Cd24 Zn12 Hg12 on one fcc sublattice, anions Te36 Se12 on
    the other (96 atoms, 2x2x3 cubic cells), labelled by the Stillinger-Weber potential of Zhou et al.,
    PRB 88, 085309 (2013) (LAMMPS's CdTeZnSeHgS0.sw). Training pool: crystal at 300, 600 and 900 K and a
    liquid (melted at 2200 K, run at 1600 K; at 3000 K and 0 bar it boils), 50 frames each; held out: the
    last 15 frames of each and a crystal at 750 K; zincblende 15 % compressed in volume out of distribution."""
    from ase.build import bulk
    crystal = bulk("CdTe", "zincblende", a=6.35, cubic=True).repeat((2, 2, 3))
    rng = np.random.default_rng(5)
    cations = rng.permutation(["Cd"] * 24 + ["Zn"] * 12 + ["Hg"] * 12)
    anions = rng.permutation(["Te"] * 36 + ["Se"] * 12)
    symbols = np.array(crystal.get_chemical_symbols())
    symbols[symbols == "Cd"] = cations
    symbols[symbols == "Te"] = anions
    crystal.set_chemical_symbols(list(symbols))
    types = {symbol: k for k, symbol in enumerate(II_VI_ELEMENTS, start=1)}
    pair = ["pair_style sw",
            f"pair_coeff * * /usr/share/lammps/potentials/CdTeZnSeHgS0.sw {' '.join(II_VI_ELEMENTS)}"]
    masses = [112.414, 65.38, 200.59, 127.60, 78.971]
    runs = []
    for k, (temperature, melt, train) in enumerate([(300, None, True), (600, None, True), (900, None, True),
                                                    (1600, 2200, True), (750, None, False)]):
        name = f"CdZnHgTeSe_{temperature}K" + ("_liquid" if melt else "")
        frames = lammps_md(work, name, data_file(crystal, types), pair, masses, 4000, 13000 if train else 3000,
                           200, temperature, 0.0, 5000 + k, melt=melt)
        frames = set_symbols(frames[1:], dict(enumerate(II_VI_ELEMENTS, start=1)))
        runs.append((name, frames[:50] if train else [], frames[-15:]))
    compressed = crystal.copy()
    compressed.set_cell(crystal.cell * 0.85 ** (1 / 3), scale_atoms=True)
    extra = {"zincblende, volume -15 %": [rattled(compressed, 0.05, 1)]}
    return runs, "sw:CdTeZnSeHgS0.sw", extra


# Systems whose otfgp reference is checked against LAMMPS itself on the held-out frames (`lammps` oracle).
LAMMPS_CHECK = {"cdznhgtese": {"kind": "lammps", "pair_style": "sw", "pair_coeff": "* * CdTeZnSeHgS0.sw {elements}",
                               "elements": II_VI_ELEMENTS}}


def rattled(atoms, amplitude, seed):
    atoms = atoms.copy()
    atoms.pbc = True
    atoms.positions += np.random.default_rng(seed).normal(0.0, amplitude, atoms.positions.shape)
    return atoms


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
    """Labels frames with an otfgp potential spec (`otfgp eval -p SPEC`) or, when spec is a mapping, with that
    oracle section (`otfgp label`, e.g. LAMMPS for a potential otfgp does not have)."""
    raw = os.path.join(work, "raw.xyz")
    ase.io.write(raw, frames, format="extxyz")
    if isinstance(spec, dict):
        import yaml
        config = os.path.join(work, "oracle.yaml")
        with open(config, "w") as f:
            yaml.safe_dump({"oracle": spec}, f, default_flow_style=None, sort_keys=False)
        if os.path.exists(path):
            os.remove(path)  # `label` appends
        run([otfgp, "-q", "label", config, raw, "-o", path])
        labelled = ase.io.read(path, ":")
        assert len(labelled) == len(frames), f"{path}: {len(labelled)} of {len(frames)} frames labelled"
        for atoms, source in zip(labelled, frames):  # keep the run names for the per-run table
            assert atoms.get_chemical_symbols() == source.get_chemical_symbols()
            atoms.info.update({k: v for k, v in source.info.items() if k == "run"})
        import warnings
        with warnings.catch_warnings():  # ASE notes that the calculator's forces replace the read ones (equal)
            warnings.simplefilter("ignore", UserWarning)
            ase.io.write(path, labelled, format="extxyz")
    else:
        run([otfgp, "-q", "eval", "-p", spec, raw, "-o", path])


TRAIN_CONFIG = {
    "si": """descriptor: {n_max: 8, l_max: 6, cutoff: 4.0}
kernel: {power: 2}
sparse: {method: uncertain, count: 20}
hyperparameters: {signal_std: 2.0, energy_noise: 0.001, force_noise: 0.03, stress_noise: 0.0005}
""",
    "barho": """descriptor: {n_max: 8, l_max: 4, cutoff: 6.5, embedding: {type: resolved}}
kernel: {power: 2}
sparse: {method: uncertain, count: 30}
hyperparameters: {signal_std: 2.0, energy_noise: 0.002, force_noise: 0.05, stress_noise: 0.001}
""",
    # The quickstart's settings with a cutoff that suits each system (what issue 9 measured).
    "cuni": """descriptor: {n_max: 8, l_max: 4, cutoff: 5.0}
kernel: {power: 2}
sparse: {method: uncertain, count: 8}
hyperparameters: {signal_std: 2.0, energy_noise: 0.001, force_noise: 0.03, stress_noise: 0.0005}
""",
    "sic": """descriptor: {n_max: 8, l_max: 4, cutoff: 4.5}
kernel: {power: 2}
sparse: {method: uncertain, count: 10}
hyperparameters: {signal_std: 2.0, energy_noise: 0.001, force_noise: 0.05, stress_noise: 0.001}
""",
    # Five species: the fast embedded setting of docs/gp.md (K = 2, n_max 4, l_max 4: D = 180), γ = 0.25 (best of
    # the scan in docs/BENCHMARKS.md), 10 sparse points per frame (M = 2000 at 200 frames); SW cutoff 4.63 Å.
    "cdznhgtese": """descriptor: {n_max: 4, l_max: 4, cutoff: 5.0, embedding: {type: elements, channels: 2, contrast: 0.25}}
kernel: {power: 2}
sparse: {method: uncertain, count: 10}
hyperparameters: {signal_std: 2.0, energy_noise: 0.001, force_noise: 0.03, stress_noise: 0.0005}
""",
}

SYSTEMS = {"si": silicon_runs, "barho": barho_runs, "cuni": cuni_runs, "sic": sic_runs,
           "cdznhgtese": cdznhgtese_runs}
DEFAULT_SIZES = {"si": "5,10,20,30,50", "barho": "16,32,48", "cuni": "10,25,50", "sic": "10,25,50",
                 "cdznhgtese": "10,25,50,100,200"}


def descriptor_size(model):
    """D of a model file (columns of its sparse descriptors)."""
    import h5py
    with h5py.File(model, "r") as f:
        return int(f["sparse/descriptors"].shape[1])


def uncertainty_quality(reference, prediction):
    """Per-atom std (eV), force std (eV/Å, when the model is calibrated) and force errors of paired frames."""
    std = np.concatenate([p.arrays["uncertainty"] for p in prediction])
    error = np.concatenate([np.linalg.norm(r.get_forces() - p.get_forces(), axis=1)
                            for r, p in zip(reference, prediction)])
    out = {"std": std, "error": error, "spearman": spearman(std, error),
           "energy_error": float(np.mean([(p.get_potential_energy() - r.get_potential_energy()) / len(r)
                                          for r, p in zip(reference, prediction)]))}
    if "force_std" in prediction[0].arrays:
        force_std = np.concatenate([p.arrays["force_std"] for p in prediction])
        components = np.concatenate([(r.get_forces() - p.get_forces()) for r, p in zip(reference, prediction)])
        z = np.abs(components) / force_std[:, None]
        out.update(force_std=force_std, coverage1=float(np.mean(z <= 1)), coverage2=float(np.mean(z <= 2)),
                   spearman_force_std=spearman(force_std, error))
    if "novel" in prediction[0].arrays:
        out["novel"] = float(np.mean(np.concatenate([p.arrays["novel"] for p in prediction])))
    return out


def md_timing(otfgp, work, tag, spec, atoms, model, steps):
    """Atom-steps per second of `otfgp md` (NVT Langevin, 300 K, forces every step, no trajectory) for the GP
    (mapped) and for the reference potential, started from one held-out frame."""
    import yaml
    structure = os.path.join(work, "md_start.xyz")
    ase.io.write(structure, atoms, format="extxyz")
    print(f"\n`otfgp md` timing, {len(atoms)} atoms ({atoms.get_chemical_formula()}), NVT Langevin 300 K, "
          f"{steps} steps of 1 fs, forces every step:\n")
    print("| potential | atom-steps/s (wall) | atom-steps/s (loop CPU) |")
    print("| --- | --- | --- |")
    for name, potential in [("GP " + os.path.basename(model), "gp:" + model), ("reference " + spec, spec)]:
        directory = os.path.join(work, f"md_{'gp' if potential.startswith('gp:') else 'reference'}{tag}")
        config = {"structure": {"file": structure}, "potential": potential, "ensemble": "nvt", "temperature": 300,
                  "thermostat": {"type": "langevin", "damping": 100}, "timestep": 1.0, "steps": steps, "seed": 1,
                  "output": {"directory": directory, "thermo_interval": 0, "trajectory_interval": 0}}
        path = os.path.join(work, f"md{tag}.yaml")
        with open(path, "w") as f:
            yaml.safe_dump(config, f, default_flow_style=None, sort_keys=False)
        run([otfgp, "-q", "md", path])
        with open(os.path.join(directory, "summary.json")) as f:
            summary = json.load(f)
        loop_cpu = len(atoms) * summary["steps_this_run"] / summary["loop_cpu_seconds"]
        print(f"| {name} | {summary['atom_steps_per_second']:.3g} | {loop_cpu:.3g} |")


def plot(prefix, sizes, reference, work, tag, title):
    """PREFIX.png: held-out force RMSE ÷ RMS against training frames (all held-out frames, and split into
    crystal and liquid runs when there is a liquid), and the calibration of σ_F: the RMS error of the force
    components in ten bins of σ_F (by rank) against the bin's mean σ_F, per training-set size. Reads the
    predictions `main` wrote; data in PREFIX_curve.dat and PREFIX_calib.dat."""
    liquid = np.array(["liquid" in r.info.get("run", "") for r in reference])
    with open(prefix + "_curve.dat", "w") as curve, open(prefix + "_calib.dat", "w") as calib:
        curve.write("# frames  force RMSE/RMS: all, crystal runs, liquid runs; coverage 1 sigma, 2 sigma\n")
        calib.write("# per size: mean sigma_F of a bin (eV/A), RMS force-component error in it (eV/A)\n")
        for size in sizes:
            prediction = ase.io.read(os.path.join(work, f"held_out_predicted_{size}{tag}.xyz"), ":")
            ratios = []
            for keep in (np.ones_like(liquid), ~liquid, liquid):
                pairs = [(r, p) for r, p, k in zip(reference, prediction, keep) if k]
                if not pairs:
                    ratios.append(float("nan"))
                    continue
                e = np.concatenate([(r.get_forces() - p.get_forces()).ravel() for r, p in pairs])
                f = np.concatenate([r.get_forces().ravel() for r, _ in pairs])
                ratios.append(float(np.sqrt(np.mean(e ** 2) / np.mean(f ** 2))))
            q = uncertainty_quality(reference, prediction)
            curve.write(f"{size} {' '.join(str(x) for x in ratios)} {q.get('coverage1', float('nan'))} "
                        f"{q.get('coverage2', float('nan'))}\n")
            if "force_std" not in prediction[0].arrays:
                continue
            sigma = np.concatenate([p.arrays["force_std"] for p in prediction])
            error = np.concatenate([r.get_forces() - p.get_forces() for r, p in zip(reference, prediction)])
            calib.write(f'"{size} frames"\n')
            for chunk in np.array_split(np.argsort(sigma), 10):
                calib.write(f"{sigma[chunk].mean()} {np.sqrt(np.mean(error[chunk] ** 2))}\n")
            calib.write("\n\n")
    script = f"""set terminal pngcairo size 1100,450 font ',10'
set output '{prefix}.png'
set multiplot layout 1,2 title '{title}: held-out force error and calibration'
set logscale xy
set xrange [{min(sizes) * 0.8}:{max(sizes) * 1.25}]
set xlabel 'training frames'
set ylabel 'force RMSE / force RMS (held-out)'
set xtics ({', '.join(str(n) for n in sizes)})
set grid
set key top right
plot '{prefix}_curve.dat' using 1:2 with linespoints pt 7 title 'all', \\
     '' using 1:3 with linespoints pt 5 title 'crystal runs', \\
     '' using 1:4 with linespoints pt 9 title 'liquid run'
unset logscale
set xrange [*:*]
set xtics auto
set xlabel 'predicted {{/Symbol s}}_F (eV/Å), bin mean'
set ylabel 'RMS force-component error in the bin (eV/Å)'
set key top left
plot for [i=0:{len(sizes) - 1}] '{prefix}_calib.dat' index i using 1:2 with linespoints title columnheader(1), \\
     x with lines dt 2 lc rgb 'black' title 'ideal'
unset multiplot
"""
    with open(prefix + ".gnuplot", "w") as f:
        f.write(script)
    run(["gnuplot", prefix + ".gnuplot"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("system", choices=sorted(SYSTEMS))
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--work", default=None, help="keep frames and models here (default: a temporary directory)")
    parser.add_argument("--sizes", default=None, help="training-set sizes, comma separated")
    parser.add_argument("--config", default=None, help="training config (default: the system's, see TRAIN_CONFIG)")
    parser.add_argument("--embedding", default=None,
                        help="descriptor.embedding: 'resolved' or 'elements:K[:CONTRAST]' (docs/gp.md)")
    parser.add_argument("--n-max", type=int, default=None, help="descriptor.n_max")
    parser.add_argument("--l-max", type=int, default=None, help="descriptor.l_max")
    parser.add_argument("--sparse-count", type=int, default=None, help="sparse.count (per frame)")
    parser.add_argument("--tag", default="", help="suffix of the model and summary files in --work")
    parser.add_argument("--plot", default=None,
                        help="PREFIX: write PREFIX.png (learning curve, calibration) and its data with gnuplot")
    parser.add_argument("--md-steps", type=int, default=0,
                        help="time `otfgp md` (NVT) of the largest model and of the reference on a held-out frame")
    args = parser.parse_args()
    otfgp = os.path.join(args.build, "otfgp")
    sizes = [int(s) for s in (args.sizes or DEFAULT_SIZES[args.system]).split(",")]
    work = args.work or tempfile.mkdtemp(prefix=f"otfgp-learning-{args.system}-")
    os.makedirs(work, exist_ok=True)

    start = time.time()
    produced = SYSTEMS[args.system](work)
    runs, spec = produced[0], produced[1]
    extra = produced[2] if len(produced) > 2 else {}
    pool, held_out = [], []
    for name, train, test in runs:
        for atoms in train + test:
            atoms.info["run"] = name
        if train:
            pool.append(train)
        held_out += test
    test_path = os.path.join(work, "held_out.xyz")
    label(otfgp, spec, held_out, test_path, work)
    if args.system in LAMMPS_CHECK:
        # otfgp's reference potential against LAMMPS's own on every held-out frame.
        lammps_path = os.path.join(work, "held_out_lammps.xyz")
        label(otfgp, LAMMPS_CHECK[args.system], held_out, lammps_path, work)
        ours, theirs = ase.io.read(test_path, ":"), ase.io.read(lammps_path, ":")
        de = max(abs(a.get_potential_energy() - b.get_potential_energy()) / len(a) for a, b in zip(ours, theirs))
        df = max(np.abs(a.get_forces() - b.get_forces()).max() for a, b in zip(ours, theirs))
        ds = max(np.abs(a.get_stress() - b.get_stress()).max() for a, b in zip(ours, theirs))
        print(f"# reference {spec} against LAMMPS on {len(ours)} held-out frames: max |dE| {de:.2e} eV/atom, "
              f"max |dF| {df:.2e} eV/A, max |dstress| {ds:.2e} eV/A^3", file=sys.stderr)
    extra_paths = {}
    for k, (name, frames) in enumerate(extra.items()):
        extra_paths[name] = os.path.join(work, f"extra_{k}.xyz")
        label(otfgp, spec, frames, extra_paths[name], work)
    print(f"# {len(runs)} MD runs, {sum(len(p) for p in pool)} pool frames, {len(held_out)} held-out frames "
          f"({time.time() - start:.0f} s for MD and labels)", file=sys.stderr)

    import yaml
    settings = yaml.safe_load(open(args.config).read() if args.config else TRAIN_CONFIG[args.system])
    descriptor = settings.setdefault("descriptor", {})
    if args.embedding:
        kind, *rest = args.embedding.split(":")
        descriptor["embedding"] = {"type": kind}
        if rest:
            descriptor["embedding"]["channels"] = int(rest[0])
        if len(rest) > 1:
            descriptor["embedding"]["contrast"] = float(rest[1])
    if args.n_max:
        descriptor["n_max"] = args.n_max
    if args.l_max is not None:
        descriptor["l_max"] = args.l_max
    if args.sparse_count:
        settings.setdefault("sparse", {})["count"] = args.sparse_count
    tag = f"_{args.tag}" if args.tag else ""
    config = os.path.join(work, f"train{tag}.yaml")
    with open(config, "w") as f:
        yaml.safe_dump(settings, f, default_flow_style=None, sort_keys=False)
    print(f"# config: {json.dumps(settings)}", file=sys.stderr)
    reference = ase.io.read(test_path, ":")
    force_rms = float(np.sqrt(np.mean(np.concatenate([r.get_forces().ravel() for r in reference]) ** 2)))
    rows = []
    for size in sizes:
        subset = [pool[k % len(pool)][k // len(pool)] for k in range(size)]
        data = os.path.join(work, f"train_{size}.xyz")
        label(otfgp, spec, subset, data, work)
        summary = os.path.join(work, f"summary_{size}{tag}.json")
        model = os.path.join(work, f"model_{size}{tag}.h5")
        t0 = time.time()
        run([otfgp, "-q", "train", "--data", data, "--config", config, "--test", test_path, "-o", model,
             "--summary", summary])
        with open(summary) as f:
            s = json.load(f)
        s["wall_seconds"] = time.time() - t0
        predicted = os.path.join(work, f"held_out_predicted_{size}{tag}.xyz")
        run([otfgp, "-q", "eval", "-p", "gp:" + model, test_path, "-o", predicted])
        prediction = ase.io.read(predicted, ":")
        q = uncertainty_quality(reference, prediction)
        errors = np.concatenate([(r.get_forces() - p.get_forces()).ravel() for r, p in zip(reference, prediction)])
        s["force_rmse"] = float(np.sqrt(np.mean(errors ** 2)))
        s["quality"] = q
        s["extra"] = {}
        for name, path in extra_paths.items():
            out = os.path.join(work, f"extra_predicted_{size}.xyz")
            run([otfgp, "-q", "eval", "-p", "gp:" + model, path, "-o", out])
            s["extra"][name] = uncertainty_quality(ase.io.read(path, ":"), ase.io.read(out, ":"))
        rows.append((size, s))
        s["descriptor_size"] = descriptor_size(model)
        print(f"# {size} frames (D = {s['descriptor_size']}, M = {s['sparse']}): force RMSE {s['force_rmse']:.4f} eV/A ({100 * s['force_rmse'] / force_rms:.1f} % of "
              f"RMS {force_rms:.3f}), Spearman {q['spearman']:.3f}"
              + (f", coverage {q['coverage1']:.3f}/{q['coverage2']:.3f}" if "coverage1" in q else ""),
              file=sys.stderr)

    date = datetime.date.today().isoformat()
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {date}; "
          f"`/usr/bin/python3 bench/gp_learning.py {' '.join(sys.argv[1:])}`\n")
    print(f"Held-out force RMS {force_rms:.3f} eV/Å.\n")
    print("| training frames | sparse M | labels | force RMSE (eV/Å) | RMSE ÷ RMS | force MAE (eV/Å) "
          "| energy MAE (meV/atom) | stress MAE (GPa) | Spearman(std, \\|ΔF\\|) | Spearman(σ_F, \\|ΔF\\|) | coverage 1σ / 2σ "
          "| σ, σ_e, σ_f, σ_s | train time (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for size, s in rows:
        t, h, labels, q = s["test"], s["hyperparameters"], s["labels"], s["quality"]
        coverage = f"{q['coverage1']:.2f} / {q['coverage2']:.2f}" if "coverage1" in q else "—"
        print(f"| {size} | {s['sparse']} | {labels['energy'] + labels['force'] + labels['stress']} "
              f"| {s['force_rmse']:.4f} | {100 * s['force_rmse'] / force_rms:.1f} % "
              f"| {t['force_mae_ev_per_a']:.4f} | {1e3 * t['energy_mae_ev_per_atom']:.2f} | {t['stress_mae_gpa']:.3f} "
              f"| {q['spearman']:.2f} | {q.get('spearman_force_std', float('nan')):.2f} | {coverage} | {h['signal_std']:.3g}, {h['energy_noise']:.2g}, "
              f"{h['force_noise']:.2g}, {h['stress_noise']:.2g} | {s['seconds']['total']:.1f} |")
    size, s = rows[-1]
    if s["extra"]:
        held = s["quality"]
        print(f"\nOut of distribution with {size} training frames: mean std ÷ held-out mean std "
              f"({held['std'].mean():.4g} eV), fraction of atoms flagged novel:\n")
        print("| structure | mean std (eV) | ratio | novel atoms | mean σ_F (eV/Å) | force RMSE (eV/Å) "
              "| energy error (eV/atom) |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        print(f"| held-out | {held['std'].mean():.4g} | 1 | {held.get('novel', float('nan')):.2f} "
              f"| {held.get('force_std', np.array([np.nan])).mean():.3f} "
              f"| {np.sqrt(np.mean(held['error'] ** 2) / 3):.3f} | |")
        for name, q in s["extra"].items():
            print(f"| {name} | {q['std'].mean():.4g} | {q['std'].mean() / held['std'].mean():.1f} "
                  f"| {q.get('novel', float('nan')):.2f} | {q.get('force_std', np.array([np.nan])).mean():.3f} "
                  f"| {np.sqrt(np.mean(q['error'] ** 2) / 3):.3f} | {q['energy_error']:+.3f} |")
    print(f"\nHeld-out errors per composition with {size} training frames:\n")
    print("| composition | frames | force MAE (eV/Å) | energy MAE (meV/atom) | stress MAE (GPa) | Spearman |")
    print("| --- | --- | --- | --- | --- | --- |")
    for formula, t in s["test_by_composition"].items():
        print(f"| {formula} | {t['frames']} | {t['force_mae_ev_per_a']:.4f} | {1e3 * t['energy_mae_ev_per_atom']:.2f} "
              f"| {t['stress_mae_gpa']:.3f} | {t.get('uncertainty_force_error_spearman', float('nan')):.2f} |")

    if args.md_steps:
        md_timing(otfgp, work, tag, spec, reference[-1], os.path.join(work, f"model_{size}{tag}.h5"), args.md_steps)
    if args.plot:
        plot(args.plot, sizes, reference, work, tag, f"{args.system}{' ' + args.tag if args.tag else ''}")

    # Per MD run (temperature, phase, pressure), from the mapped potential in `otfgp eval`.
    prediction = ase.io.read(os.path.join(work, f"held_out_predicted_{size}{tag}.xyz"), ":")
    print(f"\nHeld-out errors per MD run with {size} training frames (mapped potential, `otfgp eval`):\n")
    print("| run | frames | force RMSE ÷ RMS | force MAE (eV/Å) | energy MAE (meV/atom) | mean std (eV) "
          "| Spearman std / σ_F | coverage 1σ / 2σ |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in [r[0] for r in runs]:
        pairs = [(r, p) for r, p in zip(reference, prediction) if r.info["run"] == name]
        if not pairs:
            continue
        rr, pp = [r for r, p in pairs], [p for r, p in pairs]
        e = np.concatenate([(r.get_forces() - p.get_forces()).ravel() for r, p in pairs])
        f = np.concatenate([r.get_forces().ravel() for r in rr])
        energy = np.mean([abs(r.get_potential_energy() - p.get_potential_energy()) / len(r) for r, p in pairs])
        q = uncertainty_quality(rr, pp)
        coverage = f"{q['coverage1']:.2f} / {q['coverage2']:.2f}" if "coverage1" in q else "—"
        print(f"| {name} | {len(pairs)} | {100 * np.sqrt(np.mean(e ** 2) / np.mean(f ** 2)):.1f} % "
              f"| {np.abs(e).mean():.4f} | {1e3 * energy:.2f} | {q['std'].mean():.4g} "
              f"| {q['spearman']:.2f} / {q.get('spearman_force_std', float('nan')):.2f} "
              f"| {coverage} |")
    q = s["quality"]
    print(f"| all | {len(reference)} | | | | {q['std'].mean():.4g} "
          f"| {q['spearman']:.2f} / {q.get('spearman_force_std', float('nan')):.2f} | "
          + (f"{q['coverage1']:.2f} / {q['coverage2']:.2f} |" if "coverage1" in q else "— |"))


if __name__ == "__main__":
    main()
