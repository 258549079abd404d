#!/usr/bin/env bash
# OpenMP scaling of the whole MD loop: `otfgp md` (a Kokkos OpenMP build) on
# Stillinger–Weber Si, NVE, 32768 atoms (16×16×16 diamond cells), with
# OMP_NUM_THREADS=1 and 2; prints atom-steps/s of the loop (summary.json) and
# the speedup. Issue 12 target: 2 threads ≥ 1.7× one thread. MD_BENCH_CONFIG=FILE
# runs that `otfgp md` config instead (sw_si_32768.sh), e.g. a GP model's.
#   bench/md_openmp_speedup.sh OTFGP_CLI [STEPS] [REPEATS]
# (OTFGP_CLI e.g. build-openmp/otfgp from
#  OTFGP_BUILD_DIR=build-openmp OTFGP_CMAKE_ARGS=-DKokkos_ROOT=… scripts/build otfgp)
set -euo pipefail
cli=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
steps=${2:-100}
repeats=${3:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/sw_si_32768.sh"
write_md_bench_config "$work" "$steps"
declare -A best
for threads in 1 2; do
  for ((r = 0; r < repeats; ++r)); do
    (cd "$work" && rm -rf out &&
      OMP_NUM_THREADS=$threads OMP_PROC_BIND=false "$cli" -q md md.yaml > /dev/null)
    read -r rate cpu loop < <(/usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["atom_steps_per_second"], j["loop_cpu_seconds"], j["timings_s"]["total"])' "$work/out/summary.json")
    # CPU seconds of all threads over loop wall seconds: how many cores the run got
    # (below the thread count on a loaded machine, where wall-clock speedups shrink).
    echo "threads=$threads run=$r atom-steps/s=$rate loop_wall_s=$loop loop_cpu_s=$cpu cores_used=$(/usr/bin/python3 -c "print(f'{$cpu/$loop:.2f}')")"
    if [ -z "${best[$threads]:-}" ] || /usr/bin/python3 -c "import sys; sys.exit(not ($rate > ${best[$threads]}))"; then
      best[$threads]=$rate
    fi
  done
done
/usr/bin/python3 -c "print(f'best of $repeats: 1 thread {${best[1]}:.3g}, 2 threads {${best[2]}:.3g} atom-steps/s, speedup {${best[2]}/${best[1]}:.2f}x')"
