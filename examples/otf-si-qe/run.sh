#!/usr/bin/env bash
# On-the-fly learning of Si8 with Quantum ESPRESSO (pw.x) as the oracle, then
# the learnt model tested on 5 fresh frames labelled by pw.x.
#
#   examples/otf-si-qe/run.sh [BUILD_DIR]     (from anywhere)
#
# Needs pw.x and Si.pbe-rrkj.UPF (Debian: quantum-espresso,
# quantum-espresso-data). Writes everything under examples/otf-si-qe/out/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
otfgp="$build/otfgp"
[[ -x "$otfgp" ]] || { echo "missing $otfgp: build first (scripts/build)" >&2; exit 2; }
cd "$here"
rm -rf out && mkdir -p out

echo "== 1. fresh test frames: Si8 at 1000 K (Stillinger-Weber MD), labelled by pw.x"
"$otfgp" -q md sample_fresh.yaml
# Drop the first frame (the perfect crystal at step 0): five thermal frames remain.
tail -n +11 out/fresh/trajectory.xyz > out/fresh_unlabelled.xyz
"$otfgp" label otf.yaml out/fresh_unlabelled.xyz -o out/fresh_qe.xyz

echo "== 2. on-the-fly learning: MD on the GP, pw.x when the GP is unsure"
"$otfgp" otf otf.yaml

echo "== 3. the learnt model on the fresh pw.x frames"
"$otfgp" eval -p gp:out/otf/model.h5 out/fresh_qe.xyz -o out/fresh_predicted.xyz

echo "done: results in $here/out (otf/: model.h5, training.h5, summary.json, plots; fresh_qe.xyz, fresh_predicted.xyz)"
