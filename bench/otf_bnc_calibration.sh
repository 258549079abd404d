#!/usr/bin/env bash
# The force-std calibration of a campaign across compositions the model learns
# unequally well (docs/otf.md "Why σ_F sees every stage"): B-C-N with
# LAMMPS's BNC.tersoff as the oracle, 16-atom cells of c-BN and diamond at
# 1500 K, then a random BC2N at 1500 and 2500 K, 600 steps of 0.5 fs each,
# check every 10 steps, B2 n_max 6 / l_max 3 / 4 Å, every other setting
# default. Held out: an independent Tersoff run (3000 steps, a frame every
# 300) of each composition at 1500 and 2500 K, scored with `otfgp eval`.
#   bench/otf_bnc_calibration.sh [BUILD_DIR] [WORK_DIR]
# Prints the oracle calls per stage, the model's calibration terms, and per
# held-out run and element: the median normalised std n, median σ_F, median
# and 90th percentile of |ΔF| (eV/Å), then eval's coverage and Spearman.
# About 3 minutes on two cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
otfgp=$(cd "${1:-$root/build}" && pwd)/otfgp
work=${2:-$(mktemp -d)}
mkdir -p "$work" && cd "$work"
tersoff=/usr/share/lammps/potentials/BNC.tersoff
/usr/bin/python3 - <<'PY'
from ase.build import bulk
from ase.io import write
import numpy as np
write("cBN.xyz", bulk("BN", "zincblende", a=3.615) * (2, 2, 2), format="extxyz")
write("diamond.xyz", bulk("C", "diamond", a=3.567) * (2, 2, 2), format="extxyz")
mixed = bulk("C", "diamond", a=3.59) * (2, 2, 2)
symbols = ["B"] * 4 + ["N"] * 4 + ["C"] * 8
np.random.default_rng(7).shuffle(symbols)
mixed.set_chemical_symbols(symbols)
write("BC2N.xyz", mixed, format="extxyz")
PY
cat > otf.yaml <<YAML
campaign:
  - {structure: cBN.xyz}
  - {structure: diamond.xyz}
  - {structure: BC2N.xyz}
  - {structure: BC2N.xyz, temperature: 2500}
md:
  ensemble: nvt
  temperature: 1500
  seed: 5
  timestep: 0.5
  steps: 600
  thermostat: {type: langevin, damping: 100}
model:
  species: [B, C, N]
  descriptor: {n_max: 6, l_max: 3, cutoff: 4.0}
oracle:
  kind: potential
  potential: tersoff:$tersoff
otf:
  check_interval: 10
output: out
YAML
rm -rf out held_*
"$otfgp" -q otf otf.yaml
for name in cBN diamond BC2N; do
  for temperature in 1500 2500; do
    cat > "held_${name}_$temperature.yaml" <<YAML
structure: {file: $name.xyz}
potential: tersoff:$tersoff
ensemble: nvt
temperature: $temperature
seed: 21
timestep: 0.5
steps: 3000
thermostat: {type: langevin, damping: 100}
output: {directory: held_${name}_$temperature, thermo_interval: 1000, trajectory_interval: 300}
YAML
    "$otfgp" -q md "held_${name}_$temperature.yaml" > /dev/null
  done
done
echo "oracle calls per stage (starting structures first): $(tail -n +2 out/calls.csv | cut -d, -f2 | uniq -c | awk '{printf "%s:%s ", $2, $1}')"
/usr/bin/python3 - <<'PY'
import json
c = json.load(open("out/summary.json"))["force_calibration"]
print(f"trigger a' {c['trigger_scale_ev_per_a']:.3g} eV/Å; per element a, g, b, c:")
for element, t in c["species"].items():
    print(f"  {element}: {t['normalised_std_scale_ev_per_a']:.3g} {t['neighbour_normalised_std_scale_ev_per_a']:.3g} "
          f"{t['floor_ev_per_a']:.3g} {t['relative']:.3g}")
PY
for run in held_*/; do
  run=${run%/}
  "$otfgp" eval "$run/trajectory.xyz" -p gp:out/model.h5 -o "predicted_$run.xyz" 2> "eval_$run.log"
  /usr/bin/python3 - "$run" <<'PY'
import sys
import numpy as np
from ase.io import read
run = sys.argv[1]
rows = {}
for ref, pred in zip(read(f"{run}/trajectory.xyz", ":"), read(f"predicted_{run}.xyz", ":")):
    error = np.linalg.norm(pred.get_forces() - ref.get_forces(), axis=1)
    for i, element in enumerate(ref.get_chemical_symbols()):
        rows.setdefault(element, []).append(
            (pred.arrays["uncertainty_normalised"][i], pred.arrays["force_std"][i], error[i]))
for element, values in sorted(rows.items()):
    a = np.array(values)
    print(f"{run} {element}: n {np.median(a[:, 0]):.3g}  σ_F {np.median(a[:, 1]):.3g}  "
          f"|ΔF| {np.median(a[:, 2]):.3g} (p90 {np.percentile(a[:, 2], 90):.3g})")
PY
  grep -E "force MAE|Spearman" "eval_$run.log" | sed "s/^info: /  /"
done
echo "work: $work"
