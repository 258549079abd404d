#!/usr/bin/env bash
# The figures of docs/BENCHMARKS.md "The kernel's two-body part" and "The exact
# force posterior as a ranker of force errors" (issue 9).
#
#   bench/gp_two_body.sh barho|cuni|sic WORK [build]   learning runs (bench/gp_learning.py)
#   bench/gp_two_body.sh md WORK [build]               bench_gp_md of WORK/model_48_tb60.h5 (after barho)
#   bench/gp_two_body.sh campaign [build]              examples/otf-barho-reference with and without the pair part
#   bench/gp_two_body.sh force-variance WORK [build]   Spearman per run of the force posterior (after
#                                                      `bench/gp_learning.py cuni|sic --sizes 50 --work WORK`)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mode=$1
case $mode in campaign) build=${2:-$here/build} ;; *) work=$2; build=${3:-$here/build} ;; esac
build=$(cd "$build" && pwd)
learn() {  # NAME SIZES TAG CONFIG-TEXT [extra gp_learning options]
  local system=$1 sizes=$2 tag=$3 text=$4; shift 4
  mkdir -p "$work"
  printf '%s\n' "$text" > "$work/config_$tag.yaml"
  /usr/bin/python3 "$here/bench/gp_learning.py" "$system" --build "$build" --work "$work" \
    --sizes "$sizes" --config "$work/config_$tag.yaml" --tag "$tag" "$@"
}
barho_model='descriptor: {n_max: 4, l_max: 4, cutoff: 6.5, embedding: {type: elements, channels: 2, contrast: 1}}
hyperparameters: {signal_std: 2.0, energy_noise: 0.002, force_noise: 0.05, stress_noise: 0.001}'
case $mode in
  barho)
    learn barho 48 tb4 "$barho_model"$'\nkernel: {power: 2, two_body: 1.0e-4}\nsparse: {method: uncertain, count: 30}'
    learn barho 48 tbauto "$barho_model"$'\nkernel: {power: 2, two_body: auto}\nsparse: {method: uncertain, count: 30}'
    learn barho 48 tb60 "$barho_model"$'\nkernel: {power: 2, two_body: 5.2e-5}\nsparse: {method: uncertain, count: 60}' \
      --md-steps 200 ;;
  cuni)
    cuni='descriptor: {n_max: 8, l_max: 4, cutoff: 5.0}
sparse: {method: uncertain, count: 8}
hyperparameters: {signal_std: 2.0, energy_noise: 0.001, force_noise: 0.03, stress_noise: 0.0005}'
    learn cuni 50 tbauto "$cuni"$'\nkernel: {power: 2, two_body: auto}'
    learn cuni 50 tb37 "$cuni"$'\nkernel: {power: 2, two_body: 0.0037}' ;;
  sic)
    learn sic 50 tbauto 'descriptor: {n_max: 8, l_max: 4, cutoff: 4.5}
kernel: {power: 2, two_body: auto}
sparse: {method: uncertain, count: 10}
hyperparameters: {signal_std: 2.0, energy_noise: 0.001, force_noise: 0.05, stress_noise: 0.001}' ;;
  md)
    # BaRhO3 cubic perovskite (a = 4.093 Å) 4×4×6, 480 atoms, rattled 0.05 Å.
    /usr/bin/python3 - "$work/barho3_480.xyz" <<'PY'
import sys
from ase import Atoms
a = 4.093
cell = Atoms("BaRhO3", scaled_positions=[[0, 0, 0], [.5, .5, .5], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]],
             cell=[a, a, a], pbc=True).repeat((4, 4, 6))
cell.rattle(0.05, seed=1)
cell.write(sys.argv[1], format="extxyz")
PY
    "$build/bench/bench_gp_md" --model "$work/model_48_tb60.h5" --structure "$work/barho3_480.xyz" \
      --steps 20 --uncertainty-steps 3 --reference buck:BaRhO.buck ;;
  campaign)
    # examples/otf-barho-reference as it is (with the pair part), and a copy without it
    "$here/examples/otf-barho-reference/run.sh" "$build"
    copy=$(mktemp -d)
    mkdir -p "$copy/examples"
    cp -r "$here/examples/otf-barho-reference" "$here/examples/hull-barho" "$copy/examples/"
    sed -i '/^  kernel: {two_body: 6.3e-4}$/d' "$copy/examples/otf-barho-reference/otf.yaml"
    ! grep -q "two_body" "$copy/examples/otf-barho-reference/otf.yaml" || { echo "config edit failed" >&2; exit 1; }
    "$copy/examples/otf-barho-reference/run.sh" "$build"
    echo "with the pair part: $here/examples/otf-barho-reference/out; without: $copy/examples/otf-barho-reference/out" ;;
  force-variance)
    "$build/bench/bench_gp_force_variance" "$work/model_50.h5" "$work/held_out.xyz" \
      > "$work/force_variance.csv"
    /usr/bin/python3 - "$work/force_variance.csv" <<'PY'
import sys
import pandas as pd
from scipy.stats import spearmanr
atoms = pd.read_csv(sys.argv[1])
print("| run | atoms | local-energy std | force posterior std | |F| alone |")
print("| --- | --- | --- | --- | --- |")
for run, group in atoms.groupby("run"):
    rank = lambda column: spearmanr(group[column], group["error"]).correlation
    print(f"| {run} | {len(group)} | {rank('atom_std'):.2f} | {rank('force_std'):.2f} | {rank('force'):.2f} |")
PY
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
