#!/usr/bin/python3
"""The figures of docs/gp.md "Hyperparameters", the bound on the signal std.

A GP with the normalised dot-product kernel trained on one composition of a
covalent binary (SiC, GaN; Tersoff labels) lets the likelihood drive the
signal std σ far up (182 eV for SiC): the fit is then barely regularised, fits
the training forces a little closer, and extrapolates by eV/atom. This trains
the same frames with σ's upper bound at 1000 (free), 30, 10, 5 (the default)
and 3 eV, and prints per bound: the fitted σ, held-out force and energy MAE,
and the energy error (meV/atom) on structures outside the training data — the
crystal compressed 7 % in length, one vacancy, a slab with 6 Å of vacuum and
wurtzite — with the mean uncertainty there ÷ the held-out mean.

    /usr/bin/python3 bench/gp_signal_bound.py [BUILD_DIR] [--systems sic,gan]

Training data: 64-atom zincblende NVT MD at two temperatures (every 200th
step of 8000, half-and-half), held out: every 400th step of the hotter run
(frames not trained on). Runs in about 10 minutes on 2 cores.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from ase.build import bulk
from ase.io import read, write

SYSTEMS = {
    # name: elements, zincblende a, Tersoff file, temperatures, time step, wurtzite a, c
    "sic": (["Si", "C"], 4.36, "SiC.tersoff", (500, 1500), 0.5, 3.08, 5.05),
    "gan": (["Ga", "N"], 4.50, "GaN.tersoff", (600, 1200), 1.0, 3.19, 5.19),
}
BOUNDS = [1000.0, 30.0, 10.0, 5.0, 3.0]


def run(command, log=None):
    with open(log or os.devnull, "w") as out:
        subprocess.run(command, check=True, stdout=out, stderr=subprocess.STDOUT)


def positions_only(frames):
    out = []
    for f in frames:
        g = f.copy()
        g.calc = None
        g.info = {}
        for key in list(g.arrays):
            if key not in ("numbers", "positions"):
                del g.arrays[key]
        out.append(g)
    return out


def make_data(otfgp, name, work):
    elements, a, tersoff, temperatures, dt, wa, wc = SYSTEMS[name]
    runs = []
    for t in temperatures:
        with open(f"md{t}.yaml", "w") as f:
            f.write(f"structure: {{lattice: zincblende, elements: [{', '.join(elements)}], "
                    f"a: {a}, repeat: 2}}\npotential: tersoff:{tersoff}\nensemble: nvt\n"
                    f"temperature: {t}\nthermostat: {{type: langevin, damping: 100}}\n"
                    f"timestep: {dt}\nsteps: 8000\nseed: {t}\n"
                    f"output: {{directory: md{t}, thermo_interval: 0, trajectory_interval: 200}}\n")
        run([otfgp, "-q", "md", f"md{t}.yaml"])
        runs.append(read(f"md{t}/trajectory.xyz", ":"))
    cold, hot = runs
    train = cold[5::2] + hot[5::2]
    test = hot[6::4]
    base = hot[-1]
    compressed = base.copy()
    compressed.set_cell(compressed.cell * 0.93, scale_atoms=True)
    vacancy = base.copy()
    del vacancy[0]
    slab = base.copy()
    slab.center(vacuum=6.0, axis=2)
    slab.pbc = [True, True, False]
    wurtzite = bulk(elements[0] + elements[1], "wurtzite", a=wa, c=wc).repeat((3, 3, 2))
    wurtzite.rattle(0.05, seed=1)
    with open("label.yaml", "w") as f:
        f.write(f"oracle: {{kind: potential, potential: tersoff:{tersoff}}}\n")
    sets = {"train": train, "test": test, "ood": [compressed, vacancy, slab, wurtzite]}
    for key, frames in sets.items():
        write(f"{key}_in.xyz", positions_only(frames))
        run([otfgp, "-q", "label", "label.yaml", f"{key}_in.xyz", "-o", f"{key}.xyz"])


def energy_errors(reference, predicted):
    return np.array([(p.get_potential_energy() - r.get_potential_energy()) / len(r)
                     for r, p in zip(reference, predicted)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", nargs="?", default="build")
    parser.add_argument("--systems", default="sic,gan")
    args = parser.parse_args()
    otfgp = os.path.abspath(os.path.join(args.build, "otfgp"))
    if not os.access(otfgp, os.X_OK):
        sys.exit(f"missing {otfgp}: scripts/build otfgp")
    for name in args.systems.split(","):
        with tempfile.TemporaryDirectory() as work:
            os.chdir(work)
            make_data(otfgp, name, work)
            test, ood = read("test.xyz", ":"), read("ood.xyz", ":")
            print(f"\n{name}: {len(read('train.xyz', ':'))} training frames, {len(test)} held out")
            print("| upper bound (eV) | σ (eV) | held-out force MAE (eV/Å) | energy MAE (meV/atom) "
                  "| compressed | vacancy | slab | wurtzite (meV/atom) | wurtzite std ÷ held-out |")
            print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
            for bound in BOUNDS:
                with open("bound.yaml", "w") as f:
                    f.write(f"hyperparameters: {{upper: {{signal_std: {bound}}}}}\n")
                run([otfgp, "train", "--data", "train.xyz", "--config", "bound.yaml", "-o",
                     "model.h5", "--summary", "summary.json"], "train.log")
                with open("summary.json") as f:
                    sigma = json.load(f)["hyperparameters"]["signal_std"]
                for key in ("test", "ood"):
                    run([otfgp, "-q", "eval", "-p", "gp:model.h5", f"{key}.xyz", "-o",
                         f"{key}_gp.xyz"])
                test_gp, ood_gp = read("test_gp.xyz", ":"), read("ood_gp.xyz", ":")
                force_mae = np.mean([np.abs(p.get_forces() - r.get_forces()).mean()
                                     for r, p in zip(test, test_gp)])
                energy_mae = 1000 * np.abs(energy_errors(test, test_gp)).mean()
                ood_errors = 1000 * energy_errors(ood, ood_gp)
                held_std = np.mean([p.arrays["uncertainty"].mean() for p in test_gp])
                ratio = ood_gp[3].arrays["uncertainty"].mean() / held_std
                print(f"| {bound:g} | {sigma:.3g} | {force_mae:.3f} | {energy_mae:.2f} | "
                      + " | ".join(f"{e:+.0f}" for e in ood_errors) + f" | {ratio:.1f}× |",
                      flush=True)


if __name__ == "__main__":
    main()
