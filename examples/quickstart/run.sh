#!/usr/bin/env bash
# The quickstart: the main otfgp workflow on the embedded reference oracle
# (the Stillinger-Weber Si potential stands in for DFT). About a minute.
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

echo "== 1. sample silicon with the reference potential (crystal 900 K, liquid 2500 K, held-out 1500 K)"
for run in crystal liquid held_out; do
  "$otfgp" -q md "sample_$run.yaml" > "out/md_$run.log"
done
cat out/crystal/trajectory.xyz out/liquid/trajectory.xyz > out/train.xyz

echo "== 2. train a sparse GP on energies, forces and stresses of the sampled frames"
"$otfgp" train --data out/train.xyz --config train.yaml --test out/held_out/trajectory.xyz \
  --summary out/train_summary.json -o out/model.h5

echo "== 3. predict the held-out frames with the GP, with per-atom uncertainty"
"$otfgp" eval -p gp:out/model.h5 out/held_out/trajectory.xyz -o out/held_out_predicted.xyz

echo "== 4. molecular dynamics with the trained GP as the force field"
(cd out && "$otfgp" md ../md_gp.yaml)

echo "done: results in $here/out (model.h5, train_summary.json, held_out_predicted.xyz, md_gp/)"
