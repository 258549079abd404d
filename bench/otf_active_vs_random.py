#!/usr/bin/python3
"""Active learning against random frames: issue #10's "active learning beats random".

  /usr/bin/python3 bench/otf_active_vs_random.py [--build build] [--work DIR] [--seeds 1,2,3,4,5]
                                                 [--draws 4] [--curve 8,16]
                                                 [--png docs/images/otf_active_vs_random.png]

Silicon at 1000 K as in examples/quickstart (Stillinger-Weber `sw:Si.sw` as the
oracle, the same otf.yaml with only md.seed and the paths changed). Per seed:

1. `otfgp otf`: the on-the-fly loop; n = its labelled frames.
2. A plain reference MD run under the same conditions (64 atoms, NVT Langevin
   1000 K, the same number of steps, its own seed), one frame every 10 steps;
   `--draws` random sets of n of its frames (seeded; draw 0 is the set earlier
   versions of this bench used), labelled by the same potential.
3. All frame sets trained offline the same way (`otfgp train`, the otf.yaml
   model section, sparse atoms picked as on the fly: `uncertain`, 16 per
   frame, replayed), so that only the choice of frames differs. With
   `--curve`, also the first k OTF frames against k random frames.

All models are scored with `otfgp eval` on two held-out sets, independent SW
runs made like the quickstart's (20 frames every 150 steps plus the starting
crystal): 1000 K, seed 21 (the quickstart's, the run's own conditions) and
1400 K, seed 31 (hotter: the tails of the 1000 K distribution). Reported: force
MAE (eV/Å) of the OTF loop's own model, the OTF frames refitted offline, and
the random frames (mean and range over the draws); the learning curve; the
median per-frame force RMS of the OTF and the random frames, the atoms the
loop learnt with robust force weights, how many OTF frames were labelled in
the first 10 % of the run and the peak temperatures there (the loop's and the
reference MD's) (what explains the result, docs/BENCHMARKS.md). Prints markdown tables, draws a PNG with gnuplot and
writes results.json in the work folder.
"""
import argparse
import csv
import datetime
import json
import math
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


def otf_config(seed, held_out, output, structure, robust=None):
    text = open(os.path.join(QUICKSTART, "otf.yaml")).read()
    if robust is not None:
        text = re.sub(r"(?m)^otf:\n", f"otf:\n  robust_force_threshold: {robust}\n", text, count=1)
    text = re.sub(r"(?m)^(  seed:\s*)\d+", rf"\g<1>{seed}", text, count=1)
    text = re.sub(r"(?m)^structure:\s*\S+", f"structure: {structure}", text)
    text = re.sub(r"(?m)^held_out:\s*\S+", f"held_out: {held_out}", text)
    text = re.sub(r"(?m)^output:\s*\S+", f"output: {output}", text)
    return text


def start_structure(seed, rattle, directory):
    """The quickstart's crystal, or (rattle > 0) that crystal with seeded Gaussian displacements."""
    crystal = os.path.join(QUICKSTART, "si64.xyz")
    if rattle <= 0:
        return crystal
    atoms = ase.io.read(crystal)
    atoms.rattle(stdev=rattle, seed=seed)
    path = os.path.join(directory, "start.xyz")
    ase.io.write(path, atoms, format="extxyz")
    return path


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
    # Thermo every 10 steps, as the loop checks: the start-up temperatures compare.
    held = re.sub(r"(?m)^  thermo_interval:\s*\d+", "  thermo_interval: 10", held)
    return held


def robust_weights(model, frames):
    """Atoms the loop learnt at a scaled force noise (docs/otf.md "Robust force weights")."""
    import h5py
    with h5py.File(model, "r") as f:
        scales = f["training"]["force_noise_scale"][:] if "force_noise_scale" in f["training"] else []
    weighted, first = {"atoms": 0, "frames": 0, "largest": 1.0}, 0
    for frame in frames:
        part = scales[first:first + len(frame)] if len(scales) else []
        first += len(frame)
        count = sum(1 for s in part if s > 1.0)
        weighted["atoms"] += count
        weighted["frames"] += 1 if count else 0
        weighted["largest"] = max([weighted["largest"]] + [float(s) for s in part])
    return weighted


def peak_temperature(steps_and_temperatures, first, last):
    """The highest temperature (K) logged at steps first … last."""
    return max(t for step, t in steps_and_temperatures if first <= step <= last)


def force_mae(otfgp, model, frames_file, work, name):
    """Force MAE (eV/Å, over all components of all frames) of gp:MODEL on a labelled file."""
    out = os.path.join(work, name + ".eval.xyz")
    run([otfgp, "-q", "eval", frames_file, "-p", "gp:" + model, "-o", out])
    predicted, reference = ase.io.read(out, ":"), ase.io.read(frames_file, ":")
    errors = [abs(p.get_forces() - r.get_forces()).ravel() for p, r in zip(predicted, reference)]
    return float(sum(e.sum() for e in errors) / sum(e.size for e in errors))


def train_mae(otfgp, frames, config, held_out, work, name):
    """Trains on `frames` as `otfgp train` does; force MAE on each held-out set (name → file)."""
    data = os.path.join(work, name + ".xyz")
    ase.io.write(data, frames, format="extxyz")
    model = os.path.join(work, name + ".h5")
    run([otfgp, "-q", "train", "--data", data, "--config", config, "-o", model])
    return {key: force_mae(otfgp, model, path, work, f"{name}.{key}") for key, path in held_out.items()}


def force_rms(frame):
    return float(math.sqrt((frame.get_forces() ** 2).mean()))


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])


def held_out_run(otfgp, work, name, temperature, seed):
    """An independent SW run as the quickstart's sample_held_out.yaml, at `temperature` and `seed`."""
    directory = os.path.join(work, name)
    text = open(os.path.join(QUICKSTART, "sample_held_out.yaml")).read()
    text = re.sub(r"(?m)^potential:\s*\S+", "potential: sw:/usr/share/lammps/potentials/Si.sw", text)
    text = re.sub(r"(?m)^temperature:\s*\S+", f"temperature: {temperature}", text)
    text = re.sub(r"(?m)^seed:\s*\d+", f"seed: {seed}", text)
    with open(os.path.join(work, name + ".yaml"), "w") as f:
        f.write(re.sub(r"(?m)^  directory:\s*\S+", f"  directory: {directory}", text))
    run([otfgp, "-q", "md", os.path.join(work, name + ".yaml")])
    return os.path.join(directory, "trajectory.xyz")


def spearman(a, b):
    import numpy
    ra, rb = numpy.argsort(numpy.argsort(a)), numpy.argsort(numpy.argsort(b))
    return float(numpy.corrcoef(ra, rb)[0, 1])


def probes(otfgp, work, seeds, held_out, train_config):
    """On a finished --work folder (with --curve 16): what makes the OTF frames differ from random ones.

    1. Time correlation: 16 consecutive frames of the reference run 20 steps apart (steps
       2000-2300, as close as the loop's early calls) against 16 frames spread over steps 600-4650.
    2. Selection bias: the 16-frame OTF model on the reference frames after step 200: Spearman
       of the frame's largest and mean normalised atom std with its force RMS, and the median force
       RMS of the 25 frames each statistic ranks highest against all frames'.
    """
    import numpy
    print("\nProbes (force MAE on the 1000 K held-out set, eV/Å):\n")
    print("| seed | 16 consecutive frames, 20 steps apart | 16 spread frames | "
          "Spearman(max std, F_rms) | Spearman(mean std, F_rms) | median F_rms: all / top 25 by max / top 25 by mean |")
    print("| --- | --- | --- | --- | --- | --- |")
    for seed in seeds:
        directory = os.path.join(work, f"seed{seed}")
        pool = ase.io.read(os.path.join(directory, "reference", "trajectory.xyz"), ":")
        consecutive = train_mae(otfgp, pool[200:232:2], train_config, held_out, directory, "consecutive")
        spread = train_mae(otfgp, pool[60:500:27][:16], train_config, held_out, directory, "spread")
        model = os.path.join(directory, "otf16.h5")
        out = os.path.join(directory, "pool.eval.xyz")
        run([otfgp, "-q", "eval", os.path.join(directory, "reference", "trajectory.xyz"), "-p",
             "gp:" + model, "-o", out])
        evaluated = ase.io.read(out, ":")[20:]
        largest = numpy.array([f.arrays["uncertainty_normalised"].max() for f in evaluated])
        average = numpy.array([f.arrays["uncertainty_normalised"].mean() for f in evaluated])
        rms = numpy.array([force_rms(f) for f in pool[20:]])
        top_max, top_mean = numpy.argsort(-largest)[:25], numpy.argsort(-average)[:25]
        print(f"| {seed} | {consecutive['1000K']:.4f} | {spread['1000K']:.4f} | "
              f"{spearman(largest, rms):.2f} | {spearman(average, rms):.2f} | "
              f"{numpy.median(rms):.3f} / {numpy.median(rms[top_max]):.3f} / {numpy.median(rms[top_mean]):.3f} |",
              flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--work", default=None)
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--draws", type=int, default=4, help="random frame sets per seed")
    parser.add_argument("--curve", default="8,16", help="learning-curve sizes (first k OTF frames)")
    parser.add_argument("--rattle", type=float, default=0.0,
                        help="start the OTF run from the crystal with Gaussian displacements of this "
                             "std (Å per component, seeded per seed) instead of the perfect crystal")
    parser.add_argument("--robust-force-threshold", type=float, default=None,
                        help="otf.robust_force_threshold for the loop (default: the quickstart's, "
                             "i.e. the default 10; 0: no robust force weights, the loop before them)")
    parser.add_argument("--probes-only", action="store_true",
                        help="only the probes (see probes()) on a finished --work folder")
    parser.add_argument("--png", default=os.path.join(ROOT, "docs", "images", "otf_active_vs_random.png"))
    args = parser.parse_args()
    otfgp = os.path.abspath(os.path.join(args.build, "otfgp"))
    work = args.work or tempfile.mkdtemp(prefix="otf-active-random-")
    os.makedirs(work, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    curve = [int(k) for k in args.curve.split(",") if k]

    # The quickstart's held-out run (1000 K, seed 21), and a hotter one (1400 K,
    # seed 31): the tails of the 1000 K distribution, where frames picked for
    # their uncertainty should help most.
    held_out = {"1000K": held_out_run(otfgp, work, "held_out", 1000, 21),
                "1400K": held_out_run(otfgp, work, "held_out_1400K", 1400, 31)}
    held_frames = ase.io.read(held_out["1000K"], ":")

    train_config = os.path.join(work, "train.yaml")
    with open(train_config, "w") as f:
        f.write(model_section())
        f.write("sparse: {method: uncertain, count: 16, replay: true}\ncalibration: {holdout: 0}\n")

    if args.probes_only:
        probes(otfgp, work, seeds, held_out, train_config)
        return
    rows = []
    for seed in seeds:
        directory = os.path.join(work, f"seed{seed}")
        os.makedirs(directory, exist_ok=True)
        config = os.path.join(directory, "otf.yaml")
        with open(config, "w") as f:
            f.write(otf_config(seed, held_out["1000K"], os.path.join(directory, "otf"),
                               start_structure(seed, args.rattle, directory),
                               args.robust_force_threshold))
        run([otfgp, "-q", "otf", config])
        summary = json.load(open(os.path.join(directory, "otf", "summary.json")))
        steps = summary["steps"]
        loop = {key: force_mae(otfgp, os.path.join(directory, "otf", "model.h5"), path, directory,
                               f"loop.{key}") for key, path in held_out.items()}
        otf_frames = ase.io.read(os.path.join(directory, "otf", "training.xyz"), ":")
        n = len(otf_frames)
        weighted = robust_weights(os.path.join(directory, "otf", "model.h5"), otf_frames)
        call_steps = [int(frame.info["otf_step"]) for frame in otf_frames]

        md_config = os.path.join(directory, "reference_md.yaml")
        with open(md_config, "w") as f:
            f.write(reference_md(1000 + seed, steps, os.path.join(directory, "reference")))
        run([otfgp, "-q", "md", md_config])
        pool = ase.io.read(os.path.join(directory, "reference", "trajectory.xyz"), ":")
        # Draw 0 is the one earlier versions of this bench used (random.Random(seed)).
        orders = [random.Random(seed if d == 0 else 1000 * seed + d).sample(range(len(pool)), len(pool))
                  for d in range(args.draws)]

        # Start-up temperatures over the first 10 % of the run, and after its first 100 steps.
        loop_t = [(int(r["step"]), float(r["temperature_K"])) for r in
                  csv.DictReader(open(os.path.join(directory, "otf", "uncertainty.csv")))]
        reference_t = [(int(line.split()[0]), float(line.split()[2])) for line in
                       open(os.path.join(directory, "reference", "thermo.dat")) if line[0] != "#"]
        early = steps // 10
        row = {"seed": seed, "calls": summary["oracle_calls"], "frames": n, "loop": loop,
               "peak_t": {"loop": peak_temperature(loop_t, 0, early),
                          "loop_after_100": peak_temperature(loop_t, 100, early),
                          "reference": peak_temperature(reference_t, 0, early),
                          "reference_after_100": peak_temperature(reference_t, 100, early)},
               "early": sum(1 for s in call_steps if s < steps // 10), "weighted": weighted,
               "frms_otf": median([force_rms(f) for f in otf_frames]),
               "frms_random": median([force_rms(pool[k]) for d in orders for k in d[:n]]),
               "curve": {}}
        for k in [k for k in curve if k < n] + [n]:
            otf_mae = train_mae(otfgp, otf_frames[:k], train_config, held_out, directory, f"otf{k}")
            draws = [train_mae(otfgp, [pool[i] for i in sorted(order[:k])], train_config, held_out,
                               directory, f"random{k}-{d}") for d, order in enumerate(orders)]
            row["curve"][k] = {"otf": otf_mae, "random": draws}
        rows.append(row)
        full = row["curve"][n]
        mean_random = {key: sum(d[key] for d in full["random"]) / len(full["random"]) for key in held_out}
        print(f"seed {seed}: {n} frames ({row['early']} in the first 10 % of the run); 1000 K: loop "
              f"{loop['1000K']:.4f}, OTF frames {full['otf']['1000K']:.4f}, random {mean_random['1000K']:.4f}; "
              f"1400 K: loop {loop['1400K']:.4f}, OTF frames {full['otf']['1400K']:.4f}, random "
              f"{mean_random['1400K']:.4f} eV/Å", flush=True)

    json.dump(rows, open(os.path.join(work, "results.json"), "w"), indent=1)
    held_rms = median([force_rms(f) for f in held_frames if int(f.info.get("step", 1)) > 0])
    print(f"\nMeasured {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC on {platform.node()} "
          f"({os.cpu_count()} cores), `/usr/bin/python3 bench/otf_active_vs_random.py --seeds {args.seeds} "
          f"--draws {args.draws} --curve {args.curve}"
          + (f" --rattle {args.rattle}" if args.rattle > 0 else "")
          + (f" --robust-force-threshold {args.robust_force_threshold:g}"
             if args.robust_force_threshold is not None else "") + f"`; work: {work}\n")

    def mean(values):
        return sum(values) / len(values)

    def spread(draws, key):
        values = [d[key] for d in draws]
        return f"{mean(values):.4f} ({min(values):.4f}–{max(values):.4f})"

    for key in held_out:
        print(f"Held-out {key}: force MAE (eV/Å); random: mean of {args.draws} draws (min–max)\n")
        print("| seed | labelled frames | OTF loop model | OTF frames, offline fit | random MD frames, offline fit | loop model better than the random mean |")
        print("| --- | --- | --- | --- | --- | --- |")
        for r in rows:
            full = r["curve"][r["frames"]]
            better = r["loop"][key] < mean([d[key] for d in full["random"]])
            print(f"| {r['seed']} | {r['frames']} | {r['loop'][key]:.4f} | {full['otf'][key]:.4f} | "
                  f"{spread(full['random'], key)} | {'yes' if better else 'no'} |")
        loops = mean([r["loop"][key] for r in rows])
        offline = mean([r["curve"][r["frames"]]["otf"][key] for r in rows])
        randoms = mean([mean([d[key] for d in r["curve"][r["frames"]]["random"]]) for r in rows])
        print(f"| mean | {mean([r['frames'] for r in rows]):.1f} | {loops:.4f} | {offline:.4f} | {randoms:.4f} | |\n")
    print("Learning curve (first k OTF frames against k random frames, mean of the draws), force MAE "
          "1000 K / 1400 K:\n")
    print("| seed | k | OTF frames | random frames |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        for k, c in r["curve"].items():
            rnd = {key: mean([d[key] for d in c["random"]]) for key in held_out}
            print(f"| {r['seed']} | {k} | {c['otf']['1000K']:.4f} / {c['otf']['1400K']:.4f} | "
                  f"{rnd['1000K']:.4f} / {rnd['1400K']:.4f} |")
    print(f"\nMedian per-frame force RMS (eV/Å): held-out 1000 K {held_rms:.3f}; per seed OTF frames / "
          "random frames: " + "; ".join(f"{r['frms_otf']:.3f} / {r['frms_random']:.3f}" for r in rows))
    print("Robust force weights (otf.robust_force_threshold), atoms with a scale > 1 (their frames, "
          "largest scale): " + "; ".join(
              f"{r['weighted']['atoms']} ({r['weighted']['frames']}, {r['weighted']['largest']:.2f})"
              for r in rows))
    print("OTF frames labelled in the first 10 % of the run: " + ", ".join(
        f"{r['early']} of {r['frames']}" for r in rows))
    print("Peak temperature (K) in the first 10 % of the run, from step 0 / from step 100: loop "
          + ", ".join(f"{r['peak_t']['loop']:.0f} / {r['peak_t']['loop_after_100']:.0f}" for r in rows)
          + "; reference MD " + ", ".join(
              f"{r['peak_t']['reference']:.0f} / {r['peak_t']['reference_after_100']:.0f}" for r in rows))

    data = os.path.join(work, "plot.dat")
    with open(data, "w") as f:
        for r in rows:
            full = r["curve"][r["frames"]]
            values = []
            for key in held_out:
                draws = [d[key] for d in full["random"]]
                values += [r["loop"][key], full["otf"][key], mean(draws), min(draws), max(draws)]
            f.write(f"{r['seed']} " + " ".join(f"{v}" for v in values) + "\n")
    os.makedirs(os.path.dirname(os.path.abspath(args.png)), exist_ok=True)
    panels = []
    for index, (key, title) in enumerate([("1000K", "held-out 1000 K (the run's conditions)"),
                                          ("1400K", "held-out 1400 K (hotter: the tails)")]):
        c = 2 + 5 * index
        panels.append(f"""
set title "{title}"
plot "{data}" using ($1-0.1):{c} title "OTF loop model" pt 7 ps 1.3, \\
     "{data}" using 1:{c + 1} title "OTF frames, offline fit" pt 5 ps 1.1, \\
     "{data}" using ($1+0.1):{c + 2}:{c + 3}:{c + 4} with yerrorbars title "random MD frames (mean, min–max)" pt 9 ps 1.3
""")
    script = f"""
set terminal pngcairo size 1100,460 font ",10"
set output "{os.path.abspath(args.png)}"
set multiplot layout 1,2 title "Si (SW), OTF at 1000 K: force MAE at equal labelled frames"
set xlabel "seed"
set ylabel "force MAE (eV/Å)"
set xrange [0.5:{len(rows) + 0.5}]
set yrange [0:*]
set xtics 1
set key bottom right
""" + "".join(panels) + "unset multiplot\n"
    subprocess.run(["gnuplot"], input=script.encode(), check=True)
    print(f"plot: {args.png}; work: {work}")


if __name__ == "__main__":
    main()
