#!/usr/bin/env bash
# The figures of docs/BENCHMARKS.md "The kernel's three-body part" (issue 9):
# learning runs of bench/gp_learning.py with kernel.three_body, each against
# the same system without it, in one work folder (the frames are made once).
#
#   bench/gp_three_body.sh cuni WORK [build]    w₃ scan, unbounded and with bounded energy/stress
#                                               noises, the pair part, both (M = 400), and M = 1500
#   bench/gp_three_body.sh sic WORK [build]     w₃ scan
# Each run prints gp_learning.py's markdown tables (overall, per run, out of
# distribution, `otfgp md` timing); models and summaries are named by the tag.
# After the w₃ scan, ⟨|b|²⟩ over the 50 training frames' atoms (the scale of
# w₃) from bench_descriptor_norm (built with the benchmarks: scripts/build).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
system=$1
work=$2
build=$(cd "${3:-$here/build}" && pwd)
learn() {  # TAG CONFIG-TEXT [extra gp_learning options]
  local tag=$1 text=$2; shift 2
  mkdir -p "$work"
  printf '%s\n' "$text" > "$work/config_$tag.yaml"
  echo "=== $system $tag"
  /usr/bin/python3 "$here/bench/gp_learning.py" "$system" --build "$build" --work "$work" \
    --sizes 50 --config "$work/config_$tag.yaml" --tag "$tag" "$@"
}
mean_b2() {  # CUTOFF: ⟨|b|²⟩ of the n_max 8, l_max 4 power spectrum over the training atoms
  echo "=== $system <|b|^2> over the atoms of $work/train_50.xyz"
  "$build/bench/bench_descriptor_norm" "$work/train_50.xyz" --n-max 8 --l-max 4 --cutoff "$1"
}
bounded='upper: {energy_noise: 0.04, stress_noise: 0.004}'
case $system in
  cuni)
    descriptor='descriptor: {n_max: 8, l_max: 4, cutoff: 5.0}'
    noises='signal_std: 2.0, energy_noise: 0.001, force_noise: 0.03, stress_noise: 0.0005'
    for w in 0 1e-7 3e-7 1e-6 3e-6 1e-5; do
      timing=(); [[ $w == 0 ]] && timing=(--md-steps 200)
      learn "w$w" "$descriptor"$'\n'"kernel: {power: 2, three_body: $w}"$'\nsparse: {method: uncertain, count: 8}\n'"hyperparameters: {$noises}" "${timing[@]}"
    done
    mean_b2 5.0
    for w in 1e-6 3e-6 1e-5; do
      timing=(); [[ $w == 1e-5 ]] && timing=(--md-steps 200)
      learn "bounded_w$w" "$descriptor"$'\n'"kernel: {power: 2, three_body: $w}"$'\nsparse: {method: uncertain, count: 8}\n'"hyperparameters: {$noises, $bounded}" "${timing[@]}"
    done
    learn pair "$descriptor"$'\nkernel: {power: 2, two_body: auto}\nsparse: {method: uncertain, count: 8}\n'"hyperparameters: {$noises}"
    learn bounded_pair "$descriptor"$'\nkernel: {power: 2, two_body: auto}\nsparse: {method: uncertain, count: 8}\n'"hyperparameters: {$noises, $bounded}"
    learn bounded_pair_w1e-5 "$descriptor"$'\nkernel: {power: 2, two_body: auto, three_body: 1e-5}\nsparse: {method: uncertain, count: 8}\n'"hyperparameters: {$noises, $bounded}" --md-steps 200
    learn m1500_23 "$descriptor"$'\nkernel: {power: 2, two_body: 0.037, three_body: 1e-5}\nsparse: {method: uncertain, count: 30}\n'"hyperparameters: {$noises, $bounded}" ;;
  sic)
    for w in 0 1e-7 3e-7 1e-6 3e-6 1e-5; do
      learn "w$w" $'descriptor: {n_max: 8, l_max: 4, cutoff: 4.5}\n'"kernel: {power: 2, three_body: $w}"$'\nsparse: {method: uncertain, count: 10}\nhyperparameters: {signal_std: 2.0, energy_noise: 0.001, force_noise: 0.05, stress_noise: 0.001}'
    done
    mean_b2 4.5 ;;
  *) echo "usage: bench/gp_three_body.sh cuni|sic WORK [build]" >&2; exit 2 ;;
esac
