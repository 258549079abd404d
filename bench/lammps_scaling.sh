#!/usr/bin/env bash
# Strong scaling of otfgp potentials inside LAMMPS (otfgp-lammps, fix external
# pf/callback) with mpirun -np 1 and 2: GP and Stillinger–Weber MD of diamond Si
# with 4096, 32768 and 110592 atoms, and LAMMPS's own pair_style sw as the peer
# on the same set-up. Per run: atom-steps/s of the time-step loop (LAMMPS's
# "Loop time"), peak resident memory per rank, and what the ghost shell costs:
# atoms held per owned atom (owned + ghosts within 2·cutoff + skin) and site
# energies computed per owned atom (owned + ghosts within cutoff + skin). One
# extra pair of runs computes every ghost's site energy (--all-ghost-sites).
#
#   bench/lammps_scaling.sh [BUILD_DIR]
#
# Environment: SIZES (8,16,24 conventional cells per edge: 4096, 32768, 110592
# atoms), RANKS (1,2), GP_STEPS (40,8,3) and SW_STEPS (400,60,20) per size,
# KEEP (a directory to keep the inputs, logs and reports in).
# The GP: B2 n_max 8, l_max 3, r_cut 5 Å, M = 100 sparse points, trained here
# by `otfgp train` on 24 frames of an `otfgp md` SW run of Si64 at 1500 K.
# NVE from 1000 K, dt = 1 fs, `neighbor 1.0 bin`, every 1 delay 0 check yes.
# Prints one markdown row per run and writes lammps_scaling.json.
set -euo pipefail

build=${1:-build}
sizes=${SIZES:-8,16,24}
ranks_list=${RANKS:-1,2}
gp_steps=${GP_STEPS:-40,8,3}
sw_steps=${SW_STEPS:-400,60,20}
driver="$build/src/lammps/otfgp-lammps"
otfgp="$build/otfgp"
[[ -x "$driver" ]] || { echo "missing $driver: scripts/build otfgp-lammps" >&2; exit 2; }
[[ -x "$otfgp" ]] || { echo "missing $otfgp: scripts/build otfgp" >&2; exit 2; }
command -v mpirun > /dev/null || { echo "mpirun (openmpi-bin) not found" >&2; exit 2; }
if [[ -n "${KEEP:-}" ]]; then
  work=$KEEP
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
work=$(cd "$work" && pwd)
driver=$(cd "$(dirname "$driver")" && pwd)/$(basename "$driver")
otfgp=$(cd "$(dirname "$otfgp")" && pwd)/$(basename "$otfgp")
export OMP_NUM_THREADS=1
mpirun_args=(--allow-run-as-root --oversubscribe --bind-to none)

# The GP model: frames from a short SW MD run, then otfgp train.
if [[ ! -f "$work/model.h5" ]]; then
  cat > "$work/frames.yaml" << EOF
structure: {lattice: diamond, elements: [Si], a: 5.431, repeat: [2, 2, 2]}
potential: sw:Si.sw
ensemble: nve
temperature: 1500
timestep: 1.0
steps: 480
output: {directory: frames, thermo_interval: 0, trajectory_interval: 20}
EOF
  cat > "$work/train.yaml" << EOF
descriptor: {n_max: 8, l_max: 3, cutoff: 5.0}
kernel: {power: 2}
sparse: {method: uncertain, count: 100}
hyperparameters: {signal_std: 1.0, force_noise: 0.05, max_evaluations: 30}
reference_energies: fit
EOF
  (cd "$work" && "$otfgp" md frames.yaml > /dev/null &&
    "$otfgp" train --data frames/trajectory.xyz --config train.yaml -o model.h5 > train.log)
fi

input() {  # cells steps force-lines...
  local cells=$1 steps=$2
  shift 2
  cat << EOF
units metal
atom_style atomic
boundary p p p
lattice diamond 5.431
region box block 0 $cells 0 $cells 0 $cells
create_box 1 box
create_atoms 1 box
mass 1 28.085  # the mass otfgp md uses for Si (src/core/elements.cpp)
$(printf '%s\n' "$@")
neighbor 1.0 bin
neigh_modify every 1 delay 0 check yes
velocity all create 1000 4928459 loop geom
fix integrate all nve
timestep 0.001
thermo $steps
run $steps
EOF
}

nth() { echo "$1" | cut -d, -f"$2"; }
cpu=$(sed -n 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1)
cores=$(nproc --all)
echo "machine: $cores cores, $cpu; load $(cut -d' ' -f1-3 /proc/loadavg) at the start; $(date -u +%F)"
echo "| potential | atoms | ranks | steps | atom-steps/s (wall) | per processor s | parallel efficiency: wall, per processor s | peak RSS per rank (MiB) | atoms held / owned | site energies / owned | slowest rank's callback: compute / list / copy+reduce (s) | CPU share per rank |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
json="$work/lammps_scaling.json"
echo "[" > "$json"
first_json=1
declare -A single_rate single_processor_rate

run_case() {  # name kind cells steps ranks [extra driver options]
  local name=$1 kind=$2 cells=$3 steps=$4 ranks=$5
  shift 5
  local extra=("$@")
  local dir="$work/$name-$cells-np$ranks${extra:+-all}"
  mkdir -p "$dir"
  local report="$dir/report.json"
  case $kind in
    gp | sw)
      local spec
      [[ $kind == gp ]] && spec="gp:$work/model.h5" || spec="sw:Si.sw"
      input "$cells" "$steps" "fix ext all external pf/callback 1 1" > "$dir/in.lmp"
      (cd "$dir" && mpirun "${mpirun_args[@]}" -np "$ranks" sh -c \
        '/usr/bin/time -f %M -o rss.$OMPI_COMM_WORLD_RANK "$0" "$@"' \
        "$driver" -in in.lmp -log log.lammps -screen none --potential "$spec" --fix ext \
        --types Si --report report.json "${extra[@]}")
      ;;
    lammps-sw)
      input "$cells" "$steps" "pair_style sw" "pair_coeff * * /usr/share/lammps/potentials/Si.sw Si" \
        > "$dir/in.lmp"
      (cd "$dir" && mpirun "${mpirun_args[@]}" -np "$ranks" sh -c \
        '/usr/bin/time -f %M -o rss.$OMPI_COMM_WORLD_RANK "$0" "$@"' \
        lmp -in in.lmp -log log.lammps -screen none)
      ;;
  esac
  local loop atoms cpu_use
  loop=$(awk '/^Loop time of/ {print $4}' "$dir/log.lammps" | tail -1)
  atoms=$(awk '/^Loop time of/ {print $12}' "$dir/log.lammps" | tail -1)
  cpu_use=$(awk '/% CPU use with/ {sub("%", "", $1); print $1}' "$dir/log.lammps" | tail -1)
  local key="$name-$cells${extra:+-all}"
  local rate
  rate=$(awk -v a="$atoms" -v s="$steps" -v t="$loop" 'BEGIN {printf "%.4e", a * s / t}')
  # Per processor second: the loop's wall time times the share of a core each rank got.
  local processor_rate
  processor_rate=$(awk -v r="$rate" -v c="$cpu_use" -v n="$ranks" 'BEGIN {printf "%.4e", r / (n * c / 100)}')
  local efficiency="–"
  if [[ $ranks == 1 ]]; then
    single_rate[$key]=$rate
    single_processor_rate[$key]=$processor_rate
  elif [[ -n "${single_rate[$key]:-}" ]]; then
    efficiency=$(awk -v r="$rate" -v s="${single_rate[$key]}" -v p="$processor_rate" \
      -v q="${single_processor_rate[$key]}" -v n="$ranks" 'BEGIN {printf "%.2f, %.2f", r / s / n, p / q}')
  fi
  local memory held centres timing
  memory=$(cat "$dir"/rss.* | awk '{if ($1 > m) m = $1} END {printf "%.0f", m / 1024}')
  if [[ -f "$report" ]]; then
    held=$(/usr/bin/python3 -c "import json; r = json.load(open('$report')); p = r['per_rank']; print('%.2f' % (sum(x['cluster_atom_calls'] for x in p) / sum(x['owned_atom_calls'] for x in p)))")
    centres=$(/usr/bin/python3 -c "import json; r = json.load(open('$report')); p = r['per_rank']; print('%.2f' % (sum(x['centre_atom_calls'] for x in p) / sum(x['owned_atom_calls'] for x in p)))")
    timing=$(/usr/bin/python3 -c "import json; r = json.load(open('$report')); p = max(r['per_rank'], key=lambda x: x['callback_s']); print('%.2f / %.2f / %.2f' % (p['compute_s'], p['neighbor_s'], p['callback_s'] - p['compute_s'] - p['neighbor_s']))")
  else
    held="–"
    centres="–"
    timing="–"
  fi
  local label=$name
  [[ ${#extra[@]} -gt 0 ]] && label="$name, all ghost sites"
  echo "| $label | $atoms | $ranks | $steps | $rate | $processor_rate | $efficiency | $memory | $held | $centres | $timing | ${cpu_use}% |"
  [[ $first_json == 1 ]] || echo "," >> "$json"
  first_json=0
  printf '{"case": "%s", "atoms": %s, "ranks": %s, "steps": %s, "loop_s": %s, "atom_steps_per_s": %s, "cpu_percent": %s, "peak_rss_mib": %s}' \
    "$label" "$atoms" "$ranks" "$steps" "$loop" "$rate" "$cpu_use" "$memory" >> "$json"
}

IFS=, read -r -a size_array <<< "$sizes"
IFS=, read -r -a rank_array <<< "$ranks_list"
for index in "${!size_array[@]}"; do
  cells=${size_array[$index]}
  for ranks in "${rank_array[@]}"; do
    run_case gp gp "$cells" "$(nth "$gp_steps" $((index + 1)))" "$ranks"
    run_case sw sw "$cells" "$(nth "$sw_steps" $((index + 1)))" "$ranks"
    run_case lammps-sw lammps-sw "$cells" "$(nth "$sw_steps" $((index + 1)))" "$ranks"
  done
  if [[ $index == 0 ]]; then
    for ranks in "${rank_array[@]}"; do
      run_case gp gp "$cells" "$(nth "$gp_steps" 1)" "$ranks" --all-ghost-sites
    done
  fi
done
echo "]" >> "$json"
echo "LAMMPS: $(head -1 "$work/gp-${size_array[0]}-np1/log.lammps")"
echo "raw figures: $json"
