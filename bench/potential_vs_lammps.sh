#!/usr/bin/env bash
# Force field against force field: otfgp's Potential::compute against LAMMPS's
# Pair time on the same rattled diamond crystal, both on one core.
#
#   bench/potential_vs_lammps.sh [BUILD_DIR]
#
# Environment: POTENTIAL=sw|tersoff (default sw: Si.sw; tersoff: Si.tersoff),
# CELLS (8 → 4096 atoms), STEPS (1000), TEMPERATURE (300 K for LAMMPS's NVE run).
# LAMMPS runs STEPS NVE steps (`neighbor 1.0 bin`, serial, no suffix) and we
# take the Pair line of its timing breakdown; otfgp calls compute() STEPS times
# on a neighbour list with the same skin (bench_potential). LAMMPS evaluates
# energy and virial only on thermo steps, otfgp on every call.
# Prints both rates, the ratio (otfgp / LAMMPS; > 1 means otfgp is faster) and
# a docs/BENCHMARKS.md row.
set -euo pipefail

build=${1:-build}
potential=${POTENTIAL:-sw}
cells=${CELLS:-8}
steps=${STEPS:-1000}
temperature=${TEMPERATURE:-300}
case "$potential" in
  sw) file=Si.sw ;;
  tersoff) file=Si.tersoff ;;
  *) echo "POTENTIAL must be sw or tersoff" >&2; exit 2 ;;
esac
lammps_file=/usr/share/lammps/potentials/$file
bench="$build/bench/bench_potential"
[[ -x "$bench" ]] || { echo "missing $bench: cmake --build $build --target bench_potential" >&2; exit 2; }
command -v lmp > /dev/null || { echo "lmp (Debian package lammps) not found" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

export OMP_NUM_THREADS=1
"$bench" "$potential:$lammps_file" --cells "$cells" --steps "$steps" --skin 1.0 \
  --write-lammps-data "$work/data.lmp" > "$work/otfgp.txt"
cat "$work/otfgp.txt"
atoms=$(awk '/^atoms/ {print $2}' "$work/otfgp.txt")
otfgp_rate=$(sed -n 's/^otfgp_atom_steps_per_second=//p' "$work/otfgp.txt")
otfgp_cpu=$(sed -n 's/^otfgp_cpu_percent=//p' "$work/otfgp.txt")

cat > "$work/in.lmp" << EOF
units metal
atom_style atomic
boundary p p p
read_data data.lmp
pair_style $potential
pair_coeff * * $lammps_file Si
neighbor 1.0 bin
neigh_modify every 1 delay 0 check yes
velocity all create $temperature 4928459 mom yes rot no dist gaussian
fix nve all nve
timestep 0.001
thermo 100
run $steps
EOF
(cd "$work" && lmp -in in.lmp -log log.lammps -screen none)
# "Pair    | 4.7415     | 4.7415     | 4.7415     |   0.0 | 88.91": the average is field 5.
pair_seconds=$(awk '$1 == "Pair" && $2 == "|" {print $5}' "$work/log.lammps")
loop_seconds=$(awk '/^Loop time of/ {print $4}' "$work/log.lammps")
[[ -n "$pair_seconds" ]] || { echo "no Pair timing in LAMMPS's log" >&2; tail -20 "$work/log.lammps" >&2; exit 1; }
lammps_version=$(head -1 "$work/log.lammps")
# "99.6% CPU use with 1 MPI tasks x 1 OpenMP threads": below 100 the machine was shared.
lammps_cpu=$(awk '/% CPU use with/ {sub("%", "", $1); print $1}' "$work/log.lammps")

awk -v atoms="$atoms" -v steps="$steps" -v pair="$pair_seconds" -v loop="$loop_seconds" \
    -v ours="$otfgp_rate" -v potential="$potential:$file" -v version="$lammps_version" \
    -v ours_cpu="$otfgp_cpu" -v lammps_cpu="${lammps_cpu:-100}" 'BEGIN {
  lammps_rate = atoms * steps / pair
  printf "LAMMPS (%s): Pair %.4f s of %.4f s loop for %d steps: %.6e s/step, %.6e atom-steps/s (%.1f%% CPU)\n", version, pair, loop, steps, pair / steps, lammps_rate, lammps_cpu
  printf "otfgp compute: %.6e atom-steps/s (%.1f%% CPU)\n", ours, ours_cpu
  printf "ratio otfgp/LAMMPS (pair only, wall time) = %.3f\n", ours / lammps_rate
  # Each rate divided by the share of a core it got: fairer on a busy machine.
  printf "ratio per processor second = %.3f\n", (ours * 100 / ours_cpu) / (lammps_rate * 100 / lammps_cpu)
  printf "| %s force field, %d atoms, one core | otfgp %.3e atom-steps/s | LAMMPS pair %.3e atom-steps/s | ratio %.2f |\n", potential, atoms, ours, lammps_rate, ours / lammps_rate
}'
