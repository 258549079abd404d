#!/usr/bin/env bash
# MD-like throughput of the mapped GP force field against Stillinger–Weber, in
# one run on one core: otfgp's gp (B2 n_max 8, l_max 3, r_cut 5 Å) for M = 100
# and M = 3000 sparse points, with and without the per-atom uncertainty on
# every step; otfgp's sw; and LAMMPS's pair_style sw, all on the same rattled
# diamond Si crystal (8×8×8 cells, 4096 atoms).
#
#   bench/gp_md_vs_lammps.sh [BUILD_DIR]
#
# Environment: CELLS (8), STEPS (20 GP steps per M), UNCERTAINTY_STEPS (3),
# SPARSE (100,3000), SW_STEPS (200 otfgp SW steps), LAMMPS_STEPS (1000).
# LAMMPS runs NVE from 300 K (`neighbor 1.0 bin`, serial) and we take the Pair
# line of its timing breakdown; otfgp calls compute() with forces and virial on
# a list with the same 1 Å skin. Rates are atom-steps per wall second; the
# processor share each run got is printed too (the machine may be shared).
# Prints the figures and a docs/BENCHMARKS.md row.
set -euo pipefail

build=${1:-build}
cells=${CELLS:-8}
steps=${STEPS:-20}
uncertainty_steps=${UNCERTAINTY_STEPS:-3}
sparse=${SPARSE:-100,3000}
sw_steps=${SW_STEPS:-200}
lammps_steps=${LAMMPS_STEPS:-1000}
sw_file=/usr/share/lammps/potentials/Si.sw
bench="$build/bench/bench_gp_md"
[[ -x "$bench" ]] || { echo "missing $bench: cmake --build $build --target bench_gp_md" >&2; exit 2; }
command -v lmp > /dev/null || { echo "lmp (Debian package lammps) not found" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1

"$bench" --cells "$cells" --steps "$steps" --uncertainty-steps "$uncertainty_steps" \
  --sparse "$sparse" --reference "sw:$sw_file" --reference-steps "$sw_steps" \
  --write-lammps-data "$work/data.lmp" | tee "$work/otfgp.txt"
value() { sed -n "s/^$1=//p" "$work/otfgp.txt"; }
first=${sparse%%,*}
last=${sparse##*,}
atoms=$(value atoms)
gp_first=$(value "gp_rate_M$first")
gp_last=$(value "gp_rate_M$last")
gp_first_cpu=$(value "gp_processor_rate_M$first")
unc_first=$(value "gp_uncertainty_rate_M$first")
unc_last=$(value "gp_uncertainty_rate_M$last")
step_ratio=$(value "gp_step_ratio_M${last}_over_M$first")
processor_step_ratio=$(value "gp_processor_step_ratio_M${last}_over_M$first")
sw_rate=$(value reference_rate)
sw_rate_cpu=$(value reference_processor_rate)

cat > "$work/in.lmp" << EOF
units metal
atom_style atomic
boundary p p p
read_data data.lmp
pair_style sw
pair_coeff * * $sw_file Si
neighbor 1.0 bin
neigh_modify every 1 delay 0 check yes
velocity all create 300 4928459 mom yes rot no dist gaussian
fix nve all nve
timestep 0.001
thermo 100
run $lammps_steps
EOF
(cd "$work" && lmp -in in.lmp -log log.lammps -screen none)
pair_seconds=$(awk '$1 == "Pair" && $2 == "|" {print $5}' "$work/log.lammps")
[[ -n "$pair_seconds" ]] || { echo "no Pair timing in LAMMPS's log" >&2; tail -20 "$work/log.lammps" >&2; exit 1; }
lammps_cpu=$(awk '/% CPU use with/ {sub("%", "", $1); print $1}' "$work/log.lammps")
lammps_version=$(head -1 "$work/log.lammps")

awk -v atoms="$atoms" -v steps="$lammps_steps" -v pair="$pair_seconds" -v cpu="${lammps_cpu:-100}" \
    -v gp1="$gp_first" -v gp2="$gp_last" -v gp1cpu="$gp_first_cpu" -v u1="$unc_first" -v u2="$unc_last" \
    -v m1="$first" -v m2="$last" -v ratio="$step_ratio" -v pratio="$processor_step_ratio" \
    -v sw="$sw_rate" -v swcpu="$sw_rate_cpu" -v version="$lammps_version" 'BEGIN {
  lammps = atoms * steps / pair
  lammpscpu = lammps * 100 / cpu
  printf "LAMMPS (%s) sw: Pair %.4f s for %d steps: %.4e atom-steps/s (%.1f%% CPU)\n", version, pair, steps, lammps, cpu
  printf "per wall second:      gp M=%d / otfgp sw = %.4f;  gp M=%d / LAMMPS sw = %.4f;  otfgp sw / LAMMPS sw = %.3f\n", m1, gp1 / sw, m1, gp1 / lammps, sw / lammps
  printf "per processor second: gp M=%d / otfgp sw = %.4f;  gp M=%d / LAMMPS sw = %.4f;  otfgp sw / LAMMPS sw = %.3f\n", m1, gp1cpu / swcpu, m1, gp1cpu / lammpscpu, swcpu / lammpscpu
  printf "step time M=%d / M=%d = %.3f wall, %.3f processor (target <= 1.1)\n", m2, m1, ratio, pratio
  printf "| gp (B2 n_max 8, l_max 3, 5 Å) vs sw, Si %d atoms, one core | gp M=%d %.3e atom-steps/s, M=%d %.3e; step ratio %.2f wall, %.2f processor | with uncertainty every step: M=%d %.3e, M=%d %.3e | otfgp sw %.3e, LAMMPS sw %.3e | gp/otfgp-sw %.3f, gp/LAMMPS-sw %.3f (per processor second %.3f, %.3f) |\n", atoms, m1, gp1, m2, gp2, ratio, pratio, m1, u1, m2, u2, sw, lammps, gp1 / sw, gp1 / lammps, gp1cpu / swcpu, gp1cpu / lammpscpu
}'
