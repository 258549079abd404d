#!/usr/bin/env bash
# Instructions per MD step, A against B: `otfgp md` of two builds under
# valgrind's callgrind, each at 2 steps and at STEPS steps, so that set-up
# (model loading, the first neighbour list) cancels. Deterministic where wall
# and CPU times on a shared machine are not (bench/md_step_ab.sh times them).
#   bench/md_instructions_ab.sh OTFGP_CLI_A OTFGP_CLI_B CONFIG [STEPS]
# CONFIG: an `otfgp md` config (its `steps` key replaced; paths in it
# absolute). The environment reaches otfgp (OTFGP_GP_FORCE_FORM=… picks a GP form);
# AB_ENV_A / AB_ENV_B (VAR=value words) reach only that side's runs.
set -euo pipefail
a=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
b=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
config=$3
steps=${4:-20}
command -v valgrind > /dev/null || { echo "$0: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
[ -f "$config" ] || { echo "$0: no config $config" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/sw_si_32768.sh"
# instructions CLI STEPS SIDE: the instructions callgrind counts for one run.
instructions() {
  MD_BENCH_CONFIG=$config write_md_bench_config "$work" "$2"
  local settings
  read -ra settings <<< "$(side_settings "$3")"
  (cd "$work" && rm -rf out && env "${settings[@]}" OMP_NUM_THREADS=1 valgrind --tool=callgrind \
    --callgrind-out-file="$work/callgrind.out" "$1" -q md md.yaml 2>&1 > /dev/null |
    sed -n 's/.*Collected : //p')
}
declare -A per_step
for which in A B; do
  cli=$a
  [ "$which" = B ] && cli=$b
  short=$(instructions "$cli" 2 "$which")
  long=$(instructions "$cli" "$steps" "$which")
  per_step[$which]=$(( (long - short) / (steps - 2) ))
  echo "$which instructions: $short at 2 steps, $long at $steps steps, ${per_step[$which]} per step"
done
/usr/bin/python3 -c "print(f'per step: A {${per_step[A]}:.4g}, B {${per_step[B]}:.4g} instructions, B/A {${per_step[B]}/${per_step[A]}:.4f}')"
