#!/usr/bin/env bash
# The figure of docs/otf.md's `max_sparse_per_frame` row: on a two-species
# system the loop's model against a refit (`otfgp train`) of its own frames,
# with 10 sparse environments per labelled frame in all (the default before
# 2026-12-01) and with the default of 10 per species. Random Cu54Ni54 fcc
# (a = 3.58 Å), eam/alloy CuNi.eam.alloy oracle, NVT 1200 K, 3000 steps of
# 2 fs; held out: 10 frames of an independent MD run with the same potential.
#
#   bench/otf_sparse_per_frame.sh [BUILD_DIR]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
otfgp="$build/otfgp"
[[ -x "$otfgp" ]] || { echo "missing $otfgp: scripts/build otfgp" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

/usr/bin/python3 - << 'PY'
import numpy as np
from ase.build import bulk
from ase.io import write
atoms = bulk("Cu", "fcc", a=3.58, cubic=True).repeat((3, 3, 3))
rng = np.random.default_rng(7)
symbols = np.array(["Cu"] * 54 + ["Ni"] * 54)
rng.shuffle(symbols)
atoms.set_chemical_symbols(list(symbols))
write("start.xyz", atoms)
PY

# Held-out frames: MD with the oracle's potential, relabelled.
cat > md.yaml << 'YAML'
structure: {file: start.xyz}
potential: eam/alloy:CuNi.eam.alloy
ensemble: nvt
temperature: 1200
timestep: 2.0
steps: 2200
seed: 11
thermostat: {type: langevin, damping: 100}
output: {directory: held, thermo_interval: 0, trajectory_interval: 200}
YAML
"$otfgp" -q md md.yaml
printf 'oracle: {kind: potential, potential: "eam/alloy:CuNi.eam.alloy"}\n' > oracle.yaml
/usr/bin/python3 -c "
from ase.io import read, write
frames = read('held/trajectory.xyz', '1:')
for f in frames:
    f.calc = None
    for key in [k for k in f.arrays if k not in ('numbers', 'positions')]: del f.arrays[key]
write('held_in.xyz', frames)"
"$otfgp" -q label oracle.yaml held_in.xyz -o test.xyz

run() {  # name, extra otf line: the loop's and the refit's held-out force MAE
  cat > "$1.yaml" << YAML
structure: start.xyz
md:
  ensemble: nvt
  temperature: 1200
  seed: 7
  timestep: 2.0
  steps: 3000
  thermostat: {type: langevin, damping: 100}
  output: {trajectory_interval: 500}
model:
  hyperparameters: {max_evaluations: 40}
oracle: {kind: potential, potential: "eam/alloy:CuNi.eam.alloy"}
otf:
  check_interval: 10
  min_steps_between_calls: 20
$2
held_out: test.xyz
output: $1
YAML
  "$otfgp" -q otf "$1.yaml"
  "$otfgp" train --data "$1/training.xyz" --test test.xyz -o "$1-refit.h5" 2>&1 |
    grep -o "force MAE [0-9.]* eV/Å" | tail -1 > "$1-refit.txt"
  /usr/bin/python3 - "$1" << 'PY'
import json, sys
name = sys.argv[1]
s = json.load(open(f"{name}/summary.json"))
refit = open(f"{name}-refit.txt").read().split()[2]
print(f"{name:<22} calls {s['oracle_calls']:3d}  sparse {s['sparse_size']:4d}  "
      f"loop's model {s['held_out']['force_mae_ev_per_a']:.4f} eV/Å  refit {refit} eV/Å")
PY
}
run ten_in_all "  max_sparse_per_frame: 10"
run ten_per_species ""
