#!/usr/bin/env bash
# The on-the-fly loop on a system no default was chosen for (docs/otf.md "When
# the oracle is called", SiC table): 16-atom SiC zincblende, Tersoff
# (SiC.tersoff) as the oracle, NVT 1500 K, 1500 steps, check every 10 steps,
# B2 n_max 6 / l_max 3 / 4 Å, every other setting default. Then 21 held-out
# frames of an independent Tersoff run scored with `otfgp eval`.
#   bench/otf_new_system_sic.sh [BUILD_DIR] [WORK_DIR]
# Prints the oracle calls (calls.csv: step, max std, force RMSE before
# learning), the held-out force MAE/RMSE and the calibrated force std's
# coverage and Spearman(σ_F, |ΔF|) there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
otfgp=$(cd "${1:-$root/build}" && pwd)/otfgp
work=${2:-$(mktemp -d)}
mkdir -p "$work" && cd "$work"
tersoff=/usr/share/lammps/potentials/SiC.tersoff
/usr/bin/python3 - <<'PY'
from ase.build import bulk
from ase.io import write
write("sic.xyz", bulk("SiC", "zincblende", a=4.36) * (2, 2, 2), format="extxyz")
PY
cat > otf.yaml <<YAML
structure: sic.xyz
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
structure: {file: sic.xyz}
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
echo "oracle calls: $(($(wc -l < out/calls.csv) - 1)) (step, max std, force RMSE before learning):"
cut -d, -f3,4,11 out/calls.csv | tail -n +2 | tr '\n' ' '
echo
"$otfgp" eval held/trajectory.xyz -p gp:out/model.h5 -o held_predicted.xyz 2>&1 | grep -E "force MAE|Spearman"
echo "work: $work"
