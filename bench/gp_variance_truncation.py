#!/usr/bin/python3
"""The truncated mapped variance against the exact one (docs/gp.md, "Truncated variance").

  /usr/bin/python3 bench/gp_variance_truncation.py MODEL.h5 HELD_OUT.xyz --reference SPEC
                   [--ranks 16,64,256] [--build build]

Evaluates the held-out frames with `otfgp eval -p gp:MODEL.h5,variance_rank=R` for
R = 0 (exact) and each rank, and with the reference potential, and prints per
rank: Spearman(truncated std, exact std), Spearman(std, |ΔF_i|) over atoms, the
median and largest truncated/exact std ratio, and the eval wall time (which
includes the one-off truncation at load).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import ase.io
import numpy as np
from scipy.stats import spearmanr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def evaluate(otfgp, spec, frames, out):
    start = time.time()
    result = subprocess.run([otfgp, "-q", "eval", "-p", spec, "-o", out, frames], capture_output=True,
                            text=True)
    if result.returncode != 0:
        sys.exit(f"eval {spec} failed:\n{result.stderr[-2000:]}")
    return ase.io.read(out, ":"), time.time() - start


def column(frames, name):
    return np.concatenate([f.arrays[name] for f in frames])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("held_out")
    parser.add_argument("--reference", required=True)
    parser.add_argument("--ranks", default="16,64,256")
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = parser.parse_args()
    otfgp = os.path.join(args.build, "otfgp")
    work = tempfile.mkdtemp(prefix="variance-truncation-")
    reference, _ = evaluate(otfgp, args.reference, args.held_out, os.path.join(work, "reference.xyz"))
    reference_forces = np.concatenate([f.get_forces() for f in reference])
    rows = []
    exact_std = None
    for rank in [0] + [int(r) for r in args.ranks.split(",")]:
        frames, seconds = evaluate(otfgp, f"gp:{args.model},variance_rank={rank}", args.held_out,
                                   os.path.join(work, f"rank{rank}.xyz"))
        std = column(frames, "uncertainty")
        error = np.linalg.norm(np.concatenate([f.get_forces() for f in frames]) - reference_forces, axis=1)
        if rank == 0:
            exact_std = std
        ratio = std / np.maximum(exact_std, 1e-300)
        rows.append((rank, spearmanr(std, exact_std).correlation, spearmanr(std, error).correlation,
                     float(np.median(std)), float(np.median(ratio)), float(np.max(ratio)), seconds))
    atoms = len(exact_std)
    print(f"{args.model} on {args.held_out} ({atoms} atoms); force MAE per atom |ΔF| median "
          f"{np.median(error):.4f} eV/Å")
    print("| rank | Spearman(std, exact std) | Spearman(std, abs ΔF) | median std (eV) | median std / exact "
          "| max std / exact | eval wall (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for rank, with_exact, with_error, median, median_ratio, max_ratio, seconds in rows:
        name = "exact" if rank == 0 else str(rank)
        print(f"| {name} | {with_exact:.3f} | {with_error:.3f} | {median:.4g} | {median_ratio:.3g} | "
              f"{max_ratio:.3g} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
