#!/usr/bin/env bash
# LAQA against random search on the same candidate sets: for every system and
# seed, the candidates (generated from the seed) are relaxed fully in order
# (random) or under LAQA's selection, and the cumulative optimisation steps
# until the ground state is first reached are compared. The ground state is
# the lowest enthalpy per atom found by any run of that system. At 10 GPa
# LAQA also runs without the stress term and with CrySPY's raw stress; Si8
# also with 3 initial steps instead of 10, and with a pool of 120 candidates
# (POOL_SEEDS seeds, default 5) to see how the saving grows with the pool.
#
#   bench/search_laqa_vs_random.sh [BUILD_DIR] [OUT_DIR]
#
# Environment: SEEDS (10), CANDIDATES_SI (40), CANDIDATES_NACL (30).
# Writes OUT_DIR/<system>/<variant>/seed<N>/summary.json (seed<N>.yaml and
# seed<N>.log beside it), then
# bench/search_laqa_vs_random.py prints the table and draws the plot.
set -euo pipefail

build=${1:-build}
out=${2:-bench-search}
seeds=${SEEDS:-10}
cli="$build/otfgp"
[[ -x "$cli" ]] || { echo "missing $cli: scripts/build otfgp" >&2; exit 2; }
mkdir -p "$out"

config() {  # system variant seed
  local system=$1 variant=$2 seed=$3 algorithm=laqa stress=deviation weight_stress=10 initial=10
  case $variant in
    random) algorithm=random ;;
    laqa) ;;
    laqa_no_stress) stress=none ;;
    laqa_raw_stress) stress=raw ;;
    laqa_initial3) initial=3 ;;
  esac
  case $system in
    Si8_0GPa_pool120) printf 'composition: Si\nformula_units: 8\npotential: sw:/usr/share/lammps/potentials/Si.sw\npressure: 0\ncandidates: 120\n' ;;
    Si8_0GPa) printf 'composition: Si\nformula_units: 8\npotential: sw:/usr/share/lammps/potentials/Si.sw\npressure: 0\ncandidates: %s\n' "${CANDIDATES_SI:-40}" ;;
    Na4Cl4_0GPa) printf 'composition: NaCl\nformula_units: 4\npotential: buck:NaCl.buck\npressure: 0\ncandidates: %s\n' "${CANDIDATES_NACL:-30}" ;;
    Na4Cl4_10GPa) printf 'composition: NaCl\nformula_units: 4\npotential: buck:NaCl.buck\npressure: 10\ncandidates: %s\n' "${CANDIDATES_NACL:-30}" ;;
  esac
  printf 'seed: %s\nalgorithm: %s\nrelax:\n  max_steps: 400\nlaqa:\n  initial_steps: %s\n  n_select: 5\n  n_steps: 10\n  weight_force: 0.1\n  weight_stress: %s\n  stress: %s\noutput:\n  plots: false\n' \
    "$seed" "$algorithm" "$initial" "$weight_stress" "$stress"
}

for system in Si8_0GPa Na4Cl4_0GPa Na4Cl4_10GPa Si8_0GPa_pool120; do
  variants="random laqa"
  [[ $system == Si8_0GPa ]] && variants="random laqa laqa_initial3"
  [[ $system == *10GPa ]] && variants="random laqa laqa_no_stress laqa_raw_stress"
  for variant in $variants; do
    count=$seeds
    [[ $system == *pool120 ]] && count=${POOL_SEEDS:-5}
    for seed in $(seq 1 "$count"); do
      dir="$out/$system/$variant/seed$seed"
      [[ -f "$dir/summary.json" ]] && continue
      # The config and log lie beside the search's folder: a search refuses
      # files it does not write in its own.
      mkdir -p "$out/$system/$variant"
      config "$system" "$variant" "$seed" > "$dir.yaml"
      "$cli" -q search "$dir.yaml" -o "$dir" > "$dir.log" 2>&1
    done
    echo "done $system $variant" >&2
  done
done
/usr/bin/python3 "$(dirname "$0")/search_laqa_vs_random.py" "$out"
