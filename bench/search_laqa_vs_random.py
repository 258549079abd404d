"""Table and plot for bench/search_laqa_vs_random.sh: per system and variant,
the success rate (ground state reached) and the cumulative optimisation steps
until it was first reached, against random search on the same candidates."""
import json
import os
import statistics
import subprocess
import sys

out = sys.argv[1]
tolerance = 0.002  # eV/atom, as the search's duplicate_enthalpy


def load(system, variant):
    runs = {}
    folder = os.path.join(out, system, variant)
    if not os.path.isdir(folder):
        return runs
    for seed_dir in sorted(os.listdir(folder)):
        path = os.path.join(folder, seed_dir, "summary.json")
        if os.path.exists(path):
            runs[seed_dir] = json.load(open(path))
    return runs


def steps_to(summary, target):
    for steps, best in summary["statistics"]["best_history"]:
        if best < target + tolerance:
            return steps
    return None


rows = []
plot_rows = []
for system in ["Si8_0GPa", "Na4Cl4_0GPa", "Na4Cl4_10GPa"]:
    variants = ["random", "laqa", "laqa_no_stress", "laqa_raw_stress"]
    data = {v: load(system, v) for v in variants}
    everything = [s for v in variants for s in data[v].values()]
    if not everything:
        continue
    ground = min(s["statistics"]["best_enthalpy_per_atom"] for s in everything
                 if s["statistics"]["best_candidate"] >= 0)
    group = ""
    for s in everything:
        st = s["statistics"]
        if st["best_candidate"] >= 0 and abs(st["best_enthalpy_per_atom"] - ground) < 1e-6:
            group = s["candidates"][st["best_candidate"]].get("space_group_symbol", "")
            break
    random_steps = {seed: steps_to(s, ground) for seed, s in data["random"].items()}
    for variant in variants:
        runs = data[variant]
        if not runs:
            continue
        found = {seed: steps_to(s, ground) for seed, s in runs.items()}
        hits = [v for v in found.values() if v is not None]
        total = [s["statistics"]["total_steps"] for s in runs.values()]
        both = [seed for seed in found if found[seed] is not None and random_steps.get(seed)]
        ratios = [found[seed] / random_steps[seed] for seed in both]
        ratio_of_sums = (sum(found[seed] for seed in both) /
                         sum(random_steps[seed] for seed in both)) if both else float("nan")
        mean_steps = statistics.mean(hits) if hits else float("nan")
        rows.append((system, group, f"{ground:.4f}", variant, f"{len(hits)}/{len(runs)}",
                     f"{mean_steps:.0f}", f"{statistics.median(hits):.0f}" if hits else "-",
                     f"{statistics.mean(total):.0f}",
                     f"{(1 - ratio_of_sums) * 100:.0f} %" if ratios and variant != "random" else "-",
                     f"{(1 - statistics.median(ratios)) * 100:.0f} %" if ratios and variant != "random" else "-"))
        plot_rows.append((f"{system} {variant}", mean_steps))

header = ("system", "ground state", "H (eV/atom)", "variant", "success", "mean steps to GS",
          "median", "total steps (all relaxed)", "saving vs random (1 − Σ laqa / Σ random)", "median of per-seed savings")
print("| " + " | ".join(header) + " |")
print("|" + "---|" * len(header))
for row in rows:
    print("| " + " | ".join(row) + " |")

data_file = os.path.join(out, "steps_to_ground_state.dat")
with open(data_file, "w") as f:
    for k, (label, value) in enumerate(plot_rows):
        f.write(f'{k} "{label}" {value}\n')
png = os.path.join(out, "search_laqa_vs_random.png")
script = f"""set terminal pngcairo size 1000,600 font 'Sans,10'
set output '{png}'
set style fill solid 0.6
set boxwidth 0.7
set ylabel 'mean optimisation steps until the ground state'
set xtics rotate by -35 noenhanced
set grid ytics
plot '{data_file}' using 1:3:xtic(2) with boxes notitle
"""
subprocess.run(["gnuplot"], input=script.encode(), check=True)
print(f"\nplot: {png}", file=sys.stderr)
