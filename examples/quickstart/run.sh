#!/usr/bin/env bash
# The quickstart: otfgp's main job, on-the-fly learning, on the embedded
# reference oracle (the Stillinger-Weber Si potential stands in for DFT).
# Well under 2 minutes on two cores after the build.
#
#   examples/quickstart/run.sh [BUILD_DIR]     (from anywhere)
#
# Writes everything under examples/quickstart/out/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
otfgp="$build/otfgp"
[[ -x "$otfgp" ]] || { echo "missing $otfgp: build first (scripts/build)" >&2; exit 2; }
cd "$here"
rm -rf out && mkdir -p out

echo "== 1. held-out frames: an independent reference MD run of Si at 1000 K"
"$otfgp" -q md sample_held_out.yaml > out/md_held_out.log

echo "== 2. on-the-fly learning: MD on the GP at 1000 K, the oracle called where the GP is unsure"
"$otfgp" otf otf.yaml

echo "== 3. molecular dynamics with the learnt GP as the force field (216 atoms)"
(cd out && "$otfgp" md ../md_gp.yaml)

echo "done: results in $here/out/otf (summary.json, model.h5, training.h5, *.png) and out/md_gp/"
