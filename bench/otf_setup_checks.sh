#!/usr/bin/env bash
# The cost of the checks `otfgp otf` makes before its first oracle call
# (docs/BENCHMARKS.md "OTF set-up checks before the first oracle call"):
#
# 1. the `lammps` oracle's trial run: `lmp -in in.lmp -log none -nocite` on
#    the input the oracle writes for it (one atom of each element, N and Ga,
#    in a 10 Å box; pair_style tersoff with GaN.tersoff; `run 0`), 5 runs;
# 2. a whole refused run, the new-user probe: a 32-atom wurtzite GaN cell
#    with `oracle: {kind: lammps, pair_style: tersoff, pair_coeff: '* *
#    SiC.tersoff {elements}'}` (SiC.tersoff has no Ga or N: LAMMPS refuses it
#    at pair_coeff), `otfgp -q otf refused.yaml`, 3 runs; it must end in the
#    trial run's error, with no output folder written.
#
#   bench/otf_setup_checks.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
otfgp="$build/otfgp"
[[ -x "$otfgp" ]] || { echo "missing $otfgp: build first (scripts/build otfgp)" >&2; exit 2; }
command -v lmp > /dev/null || { echo "missing lmp (Debian's lammps)" >&2; exit 2; }
work=$(mktemp -d /tmp/otfgp-setup-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
machine="$(nproc)-core $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1 /proc/loadavg)"
seconds() {  # COMMAND…: wall seconds of one run
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null 2>&1 || true
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
range() { sort -g | awk 'NR == 1 {lo = $1} {hi = $1; n++} END {printf "%.2f–%.2f s (%d runs)", lo, hi, n}'; }

# 1. The trial input, as src/oracle/lammps_oracle.cpp writes it (types in
# atomic-number order: N, Ga; atoms at edge·t/n, edge/2·(t mod 2)).
mkdir -p "$work/trial"
cat > "$work/trial/data.lmp" << 'EOF'
otfgp lammps oracle frame

2 atoms
2 atom types

0 10 xlo xhi
0 10 ylo yhi
0 10 zlo zhi
0 0 0 xy xz yz

Masses

1 14.007
2 69.723

Atoms # atomic

1 1 0 0 0
2 2 5 5 0
EOF
cat > "$work/trial/in.lmp" << 'EOF'
units metal
atom_style atomic
boundary p p p
box tilt large
read_data data.lmp
pair_style tersoff
pair_coeff * * GaN.tersoff N Ga
compute otfgp_virial all pressure NULL virial
thermo_style custom step pe c_otfgp_virial[1] c_otfgp_virial[2] c_otfgp_virial[3] c_otfgp_virial[6] c_otfgp_virial[5] c_otfgp_virial[4]
thermo_modify format float %.17g
dump otfgp_forces all custom 1 forces.dump id fx fy fz
dump_modify otfgp_forces format float %.17g sort id
run 0
EOF
export LAMMPS_POTENTIALS=${LAMMPS_POTENTIALS:-/usr/share/lammps/potentials}
(cd "$work/trial" && lmp -in in.lmp -log none -nocite > trial.out 2>&1) ||
  { cat "$work/trial/trial.out" >&2; echo "the trial input fails" >&2; exit 1; }
trial=$(for k in 1 2 3 4 5; do (cd "$work/trial" && seconds lmp -in in.lmp -log none -nocite); done | range)
echo "lammps oracle trial run (GaN.tersoff, N Ga, 10 Å box): $trial"

# 2. The refused run.
/usr/bin/python3 -c "
from ase.build import bulk
bulk('GaN', 'wurtzite', a=3.189, c=5.185).repeat((2, 2, 2)).write('$work/gan32.xyz', format='extxyz')"
cat > "$work/refused.yaml" << EOF
structure: gan32.xyz
md:
  ensemble: nvt
  temperature: 600
  steps: 100
  thermostat: {type: langevin, damping: 100}
model:
  descriptor: {n_max: 4, l_max: 2, cutoff: 4.5}
oracle: {kind: lammps, pair_style: tersoff, pair_coeff: '* * SiC.tersoff {elements}'}
output: $work/out
EOF
if "$otfgp" -q otf "$work/refused.yaml" > "$work/refused.txt" 2>&1; then
  echo "otfgp otf accepted SiC.tersoff for GaN" >&2; exit 1
fi
grep -q "test frame with one atom of each element" "$work/refused.txt" ||
  { cat "$work/refused.txt" >&2; echo "not refused by the trial run" >&2; exit 1; }
[[ ! -e "$work/out" ]] || { echo "the refused run wrote $work/out" >&2; exit 1; }
refused=$(for k in 1 2 3; do seconds "$otfgp" -q otf "$work/refused.yaml"; done | range)
echo "whole refused run (SiC.tersoff on 32-atom GaN): $refused"
echo "machine: $machine; $(lmp -h | grep -m1 'Large-scale' || true)"
echo "| \`lammps\` oracle trial run (one atom per element, \`run 0\`) | $trial, one \`lmp\` start | \`bash bench/otf_setup_checks.sh\` (part 1) |"
echo "| whole refused run, \`SiC.tersoff\` on GaN (config, structure checks, trial run, error) | $refused | \`bash bench/otf_setup_checks.sh\` (part 2) |"
