#!/usr/bin/env bash
# MD cost of the GP's short-range repulsion (docs/BENCHMARKS.md "Short-range
# repulsion below the training data"): examples/quickstart/md_gp.yaml (216 Si
# atoms, 1000 K, here 2000 steps) with gp:MODEL and gp:MODEL,repulsion=none,
# alternated twice; prints otfgp md's atom-steps/s.
#
#   bench/gp_repulsion_md.sh MODEL.h5 [build]   (MODEL: e.g. examples/quickstart/out/otf/model.h5)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
model=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
otfgp=$(cd "${2:-$here/build}" && pwd)/otfgp
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for round in 1 2; do
  for spec in "gp:$model" "gp:$model,repulsion=none"; do
    sed -e "s|^potential: .*|potential: $spec|" -e "s|directory: md_gp|directory: $work/md|" \
      -e "s|^steps: 1000|steps: 2000|" "$here/examples/quickstart/md_gp.yaml" > "$work/md.yaml"
    rate=$("$otfgp" md "$work/md.yaml" 2>&1 | grep -oE '[0-9.e+]+ atom-steps/s')
    echo "round $round, gp:MODEL${spec#gp:$model}: ${rate}"
  done
done
