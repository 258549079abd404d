#!/usr/bin/env bash
# The figures of docs/BENCHMARKS.md "Training defaults" (issue 9, item 5):
# bench/gp_learning.py on each multi-species system with `otfgp train`'s
# defaults (the config gives only the system's cutoff) and with the defaults
# before 2026-11-29 written out (species-resolved B2, n_max 8, l_max 3, 10
# random sparse atoms per frame). One work folder per system (its frames are
# made once, by LAMMPS, and shared by both runs).
#
#   bench/gp_defaults.sh WORK [build] [systems]    systems: default "cuni sic barho cdznhgtese"
#
# Each run prints gp_learning.py's markdown tables (overall, per run, out of
# distribution); the models and summaries are WORK/SYSTEM/*_50_{defaults,before}.*
# (48 frames for barho). About 15 minutes on two cores.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$1
build=$(cd "${2:-$here/build}" && pwd)
systems=${3:-cuni sic barho cdznhgtese}
for system in $systems; do
  case $system in
    cuni | cdznhgtese) cutoff=5.0 ;;
    sic) cutoff=4.5 ;;
    barho) cutoff=6.5 ;;
    *) echo "bench/gp_defaults.sh: unknown system $system" >&2; exit 2 ;;
  esac
  size=50; [[ $system == barho ]] && size=48
  mkdir -p "$work/$system"
  printf 'descriptor: {cutoff: %s}\n' "$cutoff" > "$work/$system/config_defaults.yaml"
  printf '%s\n' "descriptor: {cutoff: $cutoff, n_max: 8, l_max: 3, embedding: {type: resolved}}" \
    'sparse: {method: random, count: 10}' > "$work/$system/config_before.yaml"
  for tag in defaults before; do
    echo "=== $system $tag"
    /usr/bin/python3 "$here/bench/gp_learning.py" "$system" --build "$build" --work "$work/$system" \
      --sizes "$size" --config "$work/$system/config_$tag.yaml" --tag "$tag"
  done
done
