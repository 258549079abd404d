#!/usr/bin/env bash
# One-thread MD step time, A against B: `otfgp md` of two builds alternated run
# by run (so that a change in the machine's load hits both alike), on
# Stillinger–Weber Si, NVE, 32768 atoms (16×16×16 diamond cells), thermo every
# 100 steps. Prints each run's loop atom-steps/s (wall and CPU time) and
# per-phase seconds (summary.json), then the best of each and B/A.
#   bench/md_step_ab.sh OTFGP_CLI_A OTFGP_CLI_B [STEPS] [REPEATS]
# MD_BENCH_CONFIG=FILE runs that `otfgp md` config instead (sw_si_32768.sh); the
# environment reaches otfgp, so OTFGP_GP_FORCE_FORM=batched picks a form, and
# AB_ENV_A / AB_ENV_B (VAR=value words) reach only that side's runs.
set -euo pipefail
a=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
b=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
steps=${3:-200}
repeats=${4:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/sw_si_32768.sh"
write_md_bench_config "$work" "$steps"
declare -A best
for ((r = 0; r < repeats; ++r)); do
  for which in A B; do
    cli=$a
    [ "$which" = B ] && cli=$b
    read -ra settings <<< "$(side_settings "$which")"
    (cd "$work" && rm -rf out && env "${settings[@]}" OMP_NUM_THREADS=1 "$cli" -q md md.yaml > /dev/null)
    read -r rate phases < <(/usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
t = j["timings_s"]
cpu = j["atoms"] * j["steps_this_run"] / j["loop_cpu_seconds"]
print(cpu, "wall=%.4g" % j["atom_steps_per_second"], " ".join(f"{k}={v:.3f}" for k, v in t.items()))' "$work/out/summary.json")
    echo "$which run=$r atom-steps/s(cpu)=$rate $phases"
    if [ -z "${best[$which]:-}" ] || /usr/bin/python3 -c "import sys; sys.exit(not ($rate > ${best[$which]}))"; then
      best[$which]=$rate
    fi
  done
done
/usr/bin/python3 -c "print(f'best of $repeats (CPU time): A {${best[A]}:.4g}, B {${best[B]}:.4g} atom-steps/s, B/A {${best[B]}/${best[A]}:.3f}')"
