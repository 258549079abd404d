#!/usr/bin/python3
"""Mean per-atom uncertainty of structures unlike the training data against
the held-out mean, and the fraction of atoms flagged novel (docs/gp.md
"Novelty"; docs/BENCHMARKS.md "With the density novelty").

  /usr/bin/python3 bench/gp_novelty.py MODEL.h5 HELD_OUT.xyz OTHER.xyz... [--build build]

With the work folder of `bench/gp_learning.py cuni|sic --sizes 50 --work W`:
MODEL = W/model_50.h5, HELD_OUT = W/held_out.xyz, OTHER = W/extra_*.xyz
(the 15 % compressed crystal first, then the polymorphs).
"""
import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from ase.io import read


def mean_std_and_novel(otfgp, model, structures, work):
    out = Path(work) / "evaluated.xyz"
    subprocess.run([otfgp, "-q", "eval", structures, "-p", f"gp:{model}", "-o", str(out)],
                   check=True, capture_output=True)
    frames = read(out, ":")
    std = np.concatenate([f.arrays["uncertainty"] for f in frames])
    novel = np.concatenate([f.arrays["novel"] for f in frames])
    return std.mean(), novel.mean()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("held_out")
    parser.add_argument("others", nargs="+")
    parser.add_argument("--build", default=str(Path(__file__).resolve().parent.parent / "build"))
    args = parser.parse_args()
    otfgp = str(Path(args.build) / "otfgp")
    with tempfile.TemporaryDirectory() as work:
        held, held_novel = mean_std_and_novel(otfgp, args.model, args.held_out, work)
        print(f"{args.held_out}: mean std {held:.4g} eV, novel fraction {held_novel:.3f}")
        for other in args.others:
            std, novel = mean_std_and_novel(otfgp, args.model, other, work)
            print(f"{other}: mean std {std:.4g} eV = {std / held:.2f}x the held-out, "
                  f"novel fraction {novel:.3f}")


if __name__ == "__main__":
    main()
