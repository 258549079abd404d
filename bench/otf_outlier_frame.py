#!/usr/bin/python3
"""The frame that costs the loop its lead over random frames (docs/BENCHMARKS.md
"Active learning against random frames").

  /usr/bin/python3 bench/otf_outlier_frame.py WORK SEED [--build build]

WORK is a work folder of bench/otf_active_vs_random.py (with
--robust-force-threshold 0 for the loop without robust force weights, where
such a frame costs the lead; with them, the default, it does not). For the loop's run of
SEED: the held-out force MAE after each learnt frame (held_out.csv), the call
whose force RMSE before learning (calls.csv) is largest after the warm-up,
and an offline check with the loop's final hyperparameters fixed (`otfgp
train`, sparse atoms picked as on the fly): the frames before that call
against those frames plus it, scored on the 1000 K held-out set; the atoms
of that frame the first model misses by more than 10× the frame's median
atom error; and the frames plus it with only those atoms' force labels
replaced by the first model's prediction (so that they teach nothing).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
from ase.io import read, write
from ase.calculators.singlepoint import SinglePointCalculator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout + result.stderr


def force_mae(otfgp, model, frames, predicted):
    out = run([otfgp, "eval", frames, "-p", f"gp:{model}", "-o", predicted])
    line = next(l for l in out.splitlines() if "force MAE" in l)
    return float(line.split("force MAE vs input labels:")[1].split()[0])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("work")
    parser.add_argument("seed", type=int)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = parser.parse_args()
    otfgp = os.path.join(args.build, "otfgp")
    otf = os.path.join(args.work, f"seed{args.seed}", "otf")
    held_out = os.path.join(args.work, "held_out", "trajectory.xyz")

    curve = np.genfromtxt(os.path.join(otf, "held_out.csv"), delimiter=",", names=True)
    print("held-out force MAE after frame k (eV/Å):",
          " ".join(f"{int(k)}:{m:.4f}" for k, m in zip(curve["frames"], curve["force_mae_eV_per_A"])))
    calls = np.genfromtxt(os.path.join(otf, "calls.csv"), delimiter=",", names=True, dtype=None,
                          encoding=None)
    # Rows of learnt frames, in the order of training.xyz (a resumed run replays some).
    labelled = calls[np.isin(calls["result"], ["labelled", "replayed"])]
    rmse = labelled["force_rmse_before"].astype(float)
    finite = np.isfinite(labelled["max_std"].astype(float))  # after the warm-up
    k = int(np.nanargmax(np.where(finite, rmse, np.nan)))  # index among labelled frames
    print(f"largest force RMSE before learning after the warm-up: frame {k + 1} (step "
          f"{labelled['step'][k]}): {rmse[k]:.3f} eV/Å; median of the others "
          f"{np.nanmedian(np.delete(np.where(finite, rmse, np.nan), k)):.3f}")

    with h5py.File(os.path.join(otf, "model.h5")) as f:
        h = dict(f["hyperparameters"].attrs)
    frames = read(os.path.join(otf, "training.xyz"), ":")
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "train.yaml")
        text = open(os.path.join(args.work, "train.yaml")).read()
        searched = "hyperparameters:\n  max_evaluations: 40\n"
        if searched not in text:
            sys.exit(f"{args.work}/train.yaml: no '{searched.strip()}' to replace by fixed values")
        with open(config, "w") as f:
            f.write(text.replace(
                searched,
                "hyperparameters:\n  optimize: false\n"
                f"  signal_std: {h['signal_std']}\n  energy_noise: {h['energy_noise']}\n"
                f"  force_noise: {h['force_noise']}\n  stress_noise: {h['stress_noise']}\n"))
        results = {}
        for name, count in (("before", k), ("with", k + 1)):
            data = os.path.join(tmp, f"{name}.xyz")
            write(data, frames[:count])
            model = os.path.join(tmp, f"{name}.h5")
            run([otfgp, "-q", "train", "--config", config, "--data", data, "-o", model])
            results[name] = force_mae(otfgp, model, held_out, os.path.join(tmp, f"{name}.eval.xyz"))
        print(f"offline, the loop's hyperparameters fixed: {k} frames {results['before']:.4f}, "
              f"with frame {k + 1} {results['with']:.4f} eV/Å on the 1000 K held-out set")
        single = os.path.join(tmp, "frame.xyz")
        write(single, frames[k])
        predicted = os.path.join(tmp, "frame.eval.xyz")
        run([otfgp, "eval", single, "-p", f"gp:{os.path.join(tmp, 'before.h5')}", "-o", predicted])
        guess = read(predicted).arrays["forces"]
        label = frames[k].get_forces()
        error = np.linalg.norm(guess - label, axis=1)
        worst = np.flatnonzero(error > 10 * np.median(error))
        print(f"that frame under the model before it: median atom force error {np.median(error):.3f} "
              "eV/Å; atoms above 10× that:",
              ", ".join(f"{a} ({error[a]:.2f} eV/Å)" for a in worst[np.argsort(-error[worst])]))
        # The same frames, with those atoms' force labels replaced by what the
        # model before the frame predicted for them (they then teach nothing).
        masked = [f.copy() for f in frames[:k + 1]]
        for f, source in zip(masked, frames[:k + 1]):
            f.calc = SinglePointCalculator(f, energy=source.get_potential_energy(),
                                           forces=source.get_forces(), stress=source.get_stress())
        forces = label.copy()
        forces[worst] = guess[worst]
        masked[k].calc = SinglePointCalculator(masked[k], energy=frames[k].get_potential_energy(),
                                               forces=forces, stress=frames[k].get_stress())
        data = os.path.join(tmp, "masked.xyz")
        write(data, masked)
        model = os.path.join(tmp, "masked.h5")
        run([otfgp, "-q", "train", "--config", config, "--data", data, "-o", model])
        print(f"with frame {k + 1} but those atoms' force labels replaced by the earlier model's "
              f"prediction: {force_mae(otfgp, model, held_out, os.path.join(tmp, 'm.eval.xyz')):.4f} "
              "eV/Å")


if __name__ == "__main__":
    main()
