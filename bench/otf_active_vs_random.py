#!/usr/bin/python3
"""Active learning against random frames: issue #10's "active learning beats random".

  /usr/bin/python3 bench/otf_active_vs_random.py [--build build] [--work DIR] [--seeds 1,2,3,4,5]
                                                 [--png docs/images/otf_active_vs_random.png]

Silicon at 1000 K as in examples/quickstart (Stillinger-Weber `sw:Si.sw` as the
oracle, the same otf.yaml with only md.seed and the paths changed). Per seed:

1. `otfgp otf`: the on-the-fly loop; n = its oracle calls (labelled frames).
2. A plain reference MD run under the same conditions (64 atoms, NVT Langevin
   1000 K, the same number of steps, its own seed), one frame every 10 steps;
   n of its frames picked at random (seeded), labelled by the same potential.
3. Both frame sets trained offline the same way (`otfgp train`, the otf.yaml
   model section, sparse atoms picked as on the fly: `uncertain`, 16 per
   frame, replayed), so that only the choice of frames differs.

All models are scored on the quickstart's held-out frames (an independent SW run,
seed 21, 20 frames): force MAE (eV/Å). Reported per seed: the OTF loop's own
model (as the loop left it), the OTF frames retrained offline, the random frames.
Prints a markdown table and draws a PNG with gnuplot.
"""
import argparse
import datetime
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile

import ase.io

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICKSTART = os.path.join(ROOT, "examples", "quickstart")


def run(command, cwd=None):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def otf_config(seed, held_out, output):
    text = open(os.path.join(QUICKSTART, "otf.yaml")).read()
    text = re.sub(r"(?m)^(  seed:\s*)\d+", rf"\g<1>{seed}", text, count=1)
    text = re.sub(r"(?m)^structure:\s*\S+", f"structure: {os.path.join(QUICKSTART, 'si64.xyz')}", text)
    text = re.sub(r"(?m)^held_out:\s*\S+", f"held_out: {held_out}", text)
    text = re.sub(r"(?m)^output:\s*\S+", f"output: {output}", text)
    return text


def model_section():
    """The otf.yaml `model:` section as an `otfgp train` config (same descriptor and fit)."""
    lines = open(os.path.join(QUICKSTART, "otf.yaml")).read().splitlines()
    start = [line.startswith("model:") for line in lines].index(True)
    body = []
    for line in lines[start + 1:]:
        if line and not line.startswith(" "):
            break
        body.append(line[2:])
    return "\n".join(body) + "\n"


def reference_md(seed, steps, output):
    held = open(os.path.join(QUICKSTART, "sample_held_out.yaml")).read()
    held = re.sub(r"(?m)^seed:\s*\d+", f"seed: {seed}", held)
    held = re.sub(r"(?m)^steps:\s*\d+", f"steps: {steps}", held)
    held = re.sub(r"(?m)^potential:\s*\S+", "potential: sw:/usr/share/lammps/potentials/Si.sw", held)
    held = re.sub(r"(?m)^  directory:\s*\S+", f"  directory: {output}", held)
    held = re.sub(r"(?m)^  trajectory_interval:\s*\d+", "  trajectory_interval: 10", held)
    return held


def train_mae(otfgp, frames, config, held_out, work, name):
    data = os.path.join(work, name + ".xyz")
    ase.io.write(data, frames, format="extxyz")
    summary = os.path.join(work, name + ".json")
    run([otfgp, "-q", "train", "--data", data, "--config", config, "-o", os.path.join(work, name + ".h5"),
         "--test", held_out, "--summary", summary])
    return json.load(open(summary))["test"]["force_mae_ev_per_a"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--work", default=None)
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--png", default=os.path.join(ROOT, "docs", "images", "otf_active_vs_random.png"))
    args = parser.parse_args()
    otfgp = os.path.abspath(os.path.join(args.build, "otfgp"))
    work = args.work or tempfile.mkdtemp(prefix="otf-active-random-")
    os.makedirs(work, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]

    held_dir = os.path.join(work, "held_out")
    with open(os.path.join(work, "held_out.yaml"), "w") as f:
        text = open(os.path.join(QUICKSTART, "sample_held_out.yaml")).read()
        text = re.sub(r"(?m)^potential:\s*\S+", "potential: sw:/usr/share/lammps/potentials/Si.sw", text)
        f.write(re.sub(r"(?m)^  directory:\s*\S+", f"  directory: {held_dir}", text))
    run([otfgp, "-q", "md", os.path.join(work, "held_out.yaml")])
    held_out = os.path.join(held_dir, "trajectory.xyz")

    train_config = os.path.join(work, "train.yaml")
    with open(train_config, "w") as f:
        f.write(model_section())
        f.write("sparse: {method: uncertain, count: 16, replay: true}\ncalibration: {holdout: 0}\n")

    rows = []
    for seed in seeds:
        directory = os.path.join(work, f"seed{seed}")
        os.makedirs(directory, exist_ok=True)
        config = os.path.join(directory, "otf.yaml")
        with open(config, "w") as f:
            f.write(otf_config(seed, held_out, os.path.join(directory, "otf")))
        run([otfgp, "-q", "otf", config])
        summary = json.load(open(os.path.join(directory, "otf", "summary.json")))
        calls, steps = summary["oracle_calls"], summary["steps"]
        loop_mae = summary["held_out"]["force_mae_ev_per_a"]
        otf_frames = ase.io.read(os.path.join(directory, "otf", "training.xyz"), ":")

        md_config = os.path.join(directory, "reference_md.yaml")
        with open(md_config, "w") as f:
            f.write(reference_md(1000 + seed, steps, os.path.join(directory, "reference")))
        run([otfgp, "-q", "md", md_config])
        pool = ase.io.read(os.path.join(directory, "reference", "trajectory.xyz"), ":")
        picked = random.Random(seed).sample(range(len(pool)), len(otf_frames))
        random_frames = [pool[k] for k in sorted(picked)]

        retrained = train_mae(otfgp, otf_frames, train_config, held_out, directory, "otf_frames")
        random_mae = train_mae(otfgp, random_frames, train_config, held_out, directory, "random_frames")
        rows.append((seed, calls, len(otf_frames), loop_mae, retrained, random_mae))
        print(f"seed {seed}: {len(otf_frames)} frames; OTF loop {loop_mae:.4f}, OTF frames retrained "
              f"{retrained:.4f}, random frames {random_mae:.4f} eV/Å", flush=True)

    print(f"\nMeasured {datetime.date.today()} on {platform.node()} ({os.cpu_count()} cores), "
          f"`/usr/bin/python3 bench/otf_active_vs_random.py --seeds {args.seeds}`\n")
    print("| seed | oracle calls | frames | OTF loop model | OTF frames, offline fit | random frames, offline fit |")
    print("| --- | --- | --- | --- | --- | --- |")
    for seed, calls, frames, loop, retrained, rnd in rows:
        print(f"| {seed} | {calls} | {frames} | {loop:.4f} | {retrained:.4f} | {rnd:.4f} |")
    mean = lambda k: sum(r[k] for r in rows) / len(rows)
    print(f"| mean | {mean(1):.1f} | {mean(2):.1f} | {mean(3):.4f} | {mean(4):.4f} | {mean(5):.4f} |")
    wins = sum(1 for r in rows if r[3] < r[5])
    wins_retrained = sum(1 for r in rows if r[4] < r[5])
    print(f"\nOTF loop model better than random in {wins} of {len(rows)} seeds; "
          f"OTF frames (same offline fit) better in {wins_retrained} of {len(rows)}.")

    data = os.path.join(work, "plot.dat")
    with open(data, "w") as f:
        for seed, calls, frames, loop, retrained, rnd in rows:
            f.write(f"{seed} {loop} {retrained} {rnd}\n")
    os.makedirs(os.path.dirname(os.path.abspath(args.png)), exist_ok=True)
    script = f"""
set terminal pngcairo size 800,500 font ",11"
set output "{os.path.abspath(args.png)}"
set title "Si (SW) at 1000 K: held-out force MAE at equal labelled frames"
set xlabel "seed"
set ylabel "held-out force MAE (eV/Å)"
set xrange [0.5:{len(rows) + 0.5}]
set yrange [0:*]
set xtics 1
set key bottom right
set style data linespoints
plot "{data}" using 1:2 title "OTF loop model" pt 7 ps 1.4, \\
     "{data}" using 1:3 title "OTF frames, offline fit" pt 5 ps 1.2, \\
     "{data}" using 1:4 title "random MD frames, offline fit" pt 9 ps 1.4
"""
    subprocess.run(["gnuplot"], input=script.encode(), check=True)
    print(f"plot: {args.png}; work: {work}")


if __name__ == "__main__":
    main()
