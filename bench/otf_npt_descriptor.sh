#!/usr/bin/env bash
# On-the-fly learning under a barostat (docs/otf.md "NPT and the descriptor"):
# 8-atom diamond Si rattled 0.05 Å, the SW potential as the oracle, npt at
# 10 GPa and 800 K, 300 steps, check every 5 steps, for three models: a small
# descriptor (n_max 4, l_max 2, 4.5 Å), the same with the two-body part
# (w = 0.0074), and the default descriptor; MD seeds 2 and 3.
#   bench/otf_npt_descriptor.sh [BUILD_DIR] [WORK_DIR]
# Prints, per run, the oracle calls and the volume per atom and the oracle's
# pressure of every labelled frame (SW Si at 10 GPa: about 18.5 Å³/atom).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
otfgp=$(cd "${1:-$root/build}" && pwd)/otfgp
work=${2:-$(mktemp -d)}
mkdir -p "$work" && cd "$work"
/usr/bin/python3 - <<'PY'
from ase.build import bulk
from ase.io import write
si = bulk("Si", "diamond", a=5.431, cubic=True)
si.rattle(stdev=0.05, seed=1)
write("si8.xyz", si, format="extxyz")
PY
declare -A models=(
  [small]="descriptor: {n_max: 4, l_max: 2, cutoff: 4.5}"
  [small_two_body]="descriptor: {n_max: 4, l_max: 2, cutoff: 4.5}
  kernel: {two_body: 0.0074}"
  [default]="{}"
)
for name in small small_two_body default; do
  for seed in 2 3; do
    run=${name}_seed$seed
    model=${models[$name]}
    [ "$model" = "{}" ] && model_section="model: {}" || model_section="model:
  $model"
    cat > "$run.yaml" <<YAML
structure: si8.xyz
md:
  ensemble: npt
  seed: $seed
  temperature: 800
  steps: 300
  thermostat: {type: langevin, damping: 100}
  barostat: {pressure: 10, damping: 500}
$model_section
oracle: {kind: potential, potential: sw:/usr/share/lammps/potentials/Si.sw}
otf: {check_interval: 5, min_steps_between_calls: 10}
output: $run
YAML
    rm -rf "$run"
    "$otfgp" -q otf "$run.yaml" > "$run.log" 2>&1
    /usr/bin/python3 - "$run" <<'PY'
import sys
from ase.io import read
frames = read(sys.argv[1] + "/training.xyz", ":")
volumes = [a.get_volume() / len(a) for a in frames]
pressures = [-sum(a.get_stress(voigt=True)[:3]) / 3 * 160.21766 for a in frames]
print(f"{sys.argv[1]}: {len(frames)} calls; V/atom {min(volumes):.1f}-{max(volumes):.1f} Å³, "
      f"P {min(pressures):.0f} to {max(pressures):.0f} GPa")
print("  V:", " ".join(f"{v:.1f}" for v in volumes))
print("  P:", " ".join(f"{p:.0f}" for p in pressures))
PY
  done
done
