#!/usr/bin/env bash
# The Ba-Rh-O hull example: every structure in structures/ relaxed with the
# Buckingham + damped-shifted-force Coulomb reference potential at 0 GPa, at
# 10 GPa, and over a 0-20 GPa sweep, on the BaO-RhO2 join (an ionic model
# cannot describe the metals, so BaO and RhO2 are the references).
#
#   examples/hull-barho/run.sh [BUILD_DIR]     (from the repository root)
#
# Environment: POTENTIAL (the spec; default below), PRESSURES (0:20:0.5).
# Writes results/ beside this script: JSON, CSV, PNG plots, relaxed structures.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/examples/hull-barho"
otfgp="${1:-$root/build}/otfgp"
potential=${POTENTIAL:-buck:BaRhO.buck}
pressures=${PRESSURES:-0:20:0.5}
[[ -x "$otfgp" ]] || { echo "missing $otfgp: build first (scripts/build)" >&2; exit 2; }

results="$here/results"
mkdir -p "$results/relaxed"
structures=("$here"/structures/*.vasp)
common=(--references BaO RhO2 --relax-with "$potential" --relax-algorithm lbfgs --fmax 0.005 --max-steps 2000)

for pressure in 0 10; do
  echo "== hull at $pressure GPa"
  "$otfgp" hull "${structures[@]}" "${common[@]}" --pressure "$pressure" --relaxed-dir "$results/relaxed" \
    --json "$results/hull_${pressure}GPa.json" --csv "$results/hull_${pressure}GPa.csv" --plot "$results/barho_${pressure}GPa" \
    | tee "$results/hull_${pressure}GPa.txt"
done

echo "== pressure sweep $pressures GPa"
"$otfgp" hull "${structures[@]}" "${common[@]}" --pressure "$pressures" \
  --json "$results/sweep.json" --csv "$results/sweep.csv" --plot "$results/barho" | tee "$results/sweep.txt"
