#!/usr/bin/env bash
# The Ba-Rh-O campaign with CP2K as the oracle (hours to a day on 2 cores),
# then the hull of the hull-barho candidates relaxed with the learnt model.
#
#   examples/otf-barho-cp2k/run.sh [BUILD_DIR]     (from anywhere)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
otfgp="$build/otfgp"
[[ -x "$otfgp" ]] || { echo "missing $otfgp: build first (scripts/build)" >&2; exit 2; }
cd "$here"
mkdir -p out
# --resume continues an interrupted campaign (kill, node time limit).
if [[ -d out/otf ]]; then resume=--resume; else resume=; fi
"$otfgp" otf otf.yaml $resume
for pressure in 0 10; do
  "$otfgp" hull ../hull-barho/structures/*.vasp --references BaO RhO2 \
    --relax-with gp:out/otf/model.h5 --relax-algorithm lbfgs --fmax 0.01 --max-steps 2000 \
    --pressure "$pressure" --json "out/hull_${pressure}GPa.json" --csv "out/hull_${pressure}GPa.csv"
done
echo "done: results in $here/out"
