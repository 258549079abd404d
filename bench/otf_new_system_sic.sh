#!/usr/bin/env bash
# The on-the-fly loop on a system no default was chosen for (docs/otf.md "When
# the oracle is called", SiC table): 16-atom SiC zincblende, Tersoff
# (SiC.tersoff) as the oracle, NVT 1500 K, 1500 steps, check every 10 steps,
# B2 n_max 6 / l_max 3 / 4 Å, every other setting default. Then 21 held-out
# frames of an independent Tersoff run scored with `otfgp eval`.
# The same again with Tersoff's Si–Si cutoff switch moved from 2.70–3.00 Å
# (where the second-neighbour Si–Si pairs, 3.08 Å at rest, pass at these
# temperatures) to 2.35–2.65 Å, nothing else changed: how much of the error is
# the GP's and how much the sharp switch's.
#   bench/otf_new_system_sic.sh [BUILD_DIR] [WORK_DIR]
# Prints per oracle the oracle calls (calls.csv: step, max std, force RMSE
# before learning), the held-out force MAE/RMSE and the calibrated force
# std's coverage and Spearman(σ_F, |ΔF|) there, the model's force noise, the
# held-out force RMS, the held-out Si–Si pairs inside the stock switch and
# the force RMSE per element.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
otfgp=$(cd "${1:-$root/build}" && pwd)/otfgp
work=${2:-$(mktemp -d)}
mkdir -p "$work" && cd "$work"
/usr/bin/python3 - <<'PY'
from ase.build import bulk
from ase.io import write
write("sic.xyz", bulk("SiC", "zincblende", a=4.36) * (2, 2, 2), format="extxyz")
PY
# The switch of a Si–Si distance sits in two entries: Si Si Si (the pair and
# the bond order's Si–Si neighbours) and Si C Si (a Si–C bond's Si neighbours).
cp /usr/share/lammps/potentials/SiC.tersoff SiC.tersoff
sed -e 's/471.18  2.85   0.15/471.18  2.50   0.15/' \
  -e 's/0.0 0.0 0.0 2.85   0.15 0.0 0.0/0.0 0.0 0.0 2.50   0.15 0.0 0.0/' \
  SiC.tersoff > SiC-switch-2.5.tersoff
[ "$(diff SiC.tersoff SiC-switch-2.5.tersoff | grep -c '^>')" = 2 ] ||
  { echo "SiC.tersoff's Si-Si entries are not where this script expects them" >&2; exit 1; }

run() {  # run FOLDER TERSOFF_FILE
  local name=$1 tersoff=$work/$2
  mkdir -p "$name"
  cd "$name"
  cat > otf.yaml <<YAML
structure: ../sic.xyz
md:
  ensemble: nvt
  temperature: 1500
  seed: 3
  timestep: 1.0
  steps: 1500
  thermostat: {type: langevin, damping: 100}
model:
  descriptor: {n_max: 6, l_max: 3, cutoff: 4.0}
oracle:
  kind: potential
  potential: tersoff:$tersoff
otf:
  check_interval: 10
output: out
YAML
  cat > held.yaml <<YAML
structure: {file: ../sic.xyz}
potential: tersoff:$tersoff
ensemble: nvt
temperature: 1500
seed: 21
timestep: 1.0
steps: 3000
thermostat: {type: langevin, damping: 100}
output: {directory: held, thermo_interval: 1000, trajectory_interval: 150}
YAML
  rm -rf out held
  "$otfgp" -q otf otf.yaml
  "$otfgp" -q md held.yaml > /dev/null
  echo "== $name: oracle $2"
  echo "oracle calls: $(($(wc -l < out/calls.csv) - 1)) (step, max std, force RMSE before learning):"
  cut -d, -f3,4,11 out/calls.csv | tail -n +2 | tr '\n' ' '
  echo
  "$otfgp" eval held/trajectory.xyz -p gp:out/model.h5 -o held_predicted.xyz 2>&1 |
    grep -E "force MAE|Spearman"
  /usr/bin/python3 - <<'PY'
import json
import numpy as np
from ase.io import read
from ase.neighborlist import neighbor_list
summary = json.load(open("out/summary.json"))
print("force noise sigma_f: %.3f eV/A; last force error ratio (summary.json): %.3f"
      % (summary["hyperparameters"]["force_noise"], summary["last_force_error_ratio"]))
held, predicted = read("held/trajectory.xyz", ":"), read("held_predicted.xyz", ":")
forces = np.concatenate([a.arrays["forces"] for a in held])
print("held-out force RMS: %.2f eV/A" % np.sqrt((forces ** 2).mean()))
pairs, errors = [], {"Si": [], "C": []}
for a, p in zip(held, predicted):
    i, j, d = neighbor_list("ijd", a, 3.0)
    symbols = np.array(a.get_chemical_symbols())
    pairs.append(np.sum((d > 2.70) & (symbols[i] == "Si") & (symbols[j] == "Si")) / 2)
    for element in errors:
        errors[element].append((p.arrays["forces"] - a.arrays["forces"])[symbols == element])
rmse = {e: np.sqrt(np.mean(np.concatenate(v) ** 2)) for e, v in errors.items()}
print("held-out Si-Si pairs at 2.70-3.00 A (stock switch) per frame: %.1f;" % np.mean(pairs),
      "force RMSE on Si %.3f, on C %.3f eV/A" % (rmse["Si"], rmse["C"]))
PY
  cd "$work"
}
run stock SiC.tersoff
run switch-2.5 SiC-switch-2.5.tersoff
echo "work: $work"
