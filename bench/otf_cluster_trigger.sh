#!/usr/bin/env bash
# The figure of docs/otf.md "a′ is at least the force scale": on-the-fly
# learning of a 32-atom Cu cluster (open boundaries, EAM Cu_u3 oracle, 600 K
# Langevin, 1000 steps), then the learnt model's force error on an independent
# EAM run of the same cluster.
#
#   bench/otf_cluster_trigger.sh WORK [build]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$1
build=$(cd "${2:-$here/build}" && pwd)
mkdir -p "$work" && cd "$work"
/usr/bin/python3 - <<'PY'
import random
# fcc Cu, a = 3.615 A, 2x2x2 conventional cells, each coordinate moved by a
# Gaussian of 0.05 A (Python's random, seed 1), written without a cell.
random.seed(1)
a, basis = 3.615, [(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)]
lines = []
for i in range(2):
    for j in range(2):
        for k in range(2):
            for b in basis:
                x = [(c + o) * a + random.gauss(0, 0.05) for c, o in zip((i, j, k), b)]
                lines.append(f"Cu {x[0]:.6f} {x[1]:.6f} {x[2]:.6f}")
with open("cluster.xyz", "w") as f:
    f.write(f"{len(lines)}\nProperties=species:S:1:pos:R:3\n" + "\n".join(lines) + "\n")
PY
cat > otf.yaml <<'YAML'
structure: cluster.xyz
md: {ensemble: nvt, temperature: 600, steps: 1000, thermostat: {type: langevin, damping: 100}}
model: {descriptor: {n_max: 6, l_max: 3, cutoff: 4.5}}
oracle: {kind: potential, potential: 'eam:Cu_u3.eam'}
otf: {check_interval: 5}
output: otf
YAML
cat > reference.yaml <<'YAML'
structure: {file: cluster.xyz}
potential: 'eam:Cu_u3.eam'
ensemble: nvt
temperature: 600
seed: 17
steps: 1000
thermostat: {type: langevin, damping: 100}
output: {directory: reference, thermo_interval: 500, trajectory_interval: 50}
YAML
rm -rf otf reference
"$build/otfgp" otf otf.yaml > otf.log 2>&1
echo "calls where the force-scale bound was used: $(grep -c "uses the force scale" otf.log)," \
  "the last: $(grep "uses the force scale" otf.log | tail -1 | grep -o "step [0-9]*")"
"$build/otfgp" -q md reference.yaml > /dev/null
echo "oracle calls: $(($(wc -l < otf/calls.csv) - 1))"
grep -E '"trigger_scale(_fitted)?_ev_per_a"' otf/summary.json
"$build/otfgp" eval reference/trajectory.xyz -p gp:otf/model.h5 -o predicted.xyz 2>&1 | grep "force MAE"
