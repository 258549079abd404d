#!/usr/bin/env bash
# Mapped GP MD cost against the number of species, species-resolved B2 against
# a species embedding (docs/BENCHMARKS.md, "Species embedding"): bench_gp_md
# with synthetic models (n_max 8, l_max 4, r_cut 6.5 Å as the Ba–Rh–O model,
# M = 500 per species) on 216 rattled diamond sites shared out among 1, 2, 3
# and 5 elements; resolved (embedding 0) and embeddings of 1 and 2 channels
# (contrast 0.25). Prints D and the rates per processor second: forces, forces
# + uncertainty every step, and uncertainty every 10 steps.
#
#   bench/gp_md_species.sh [build]
set -euo pipefail
build=${1:-build}
bench="$build/bench/bench_gp_md"
[[ -x "$bench" ]] || { echo "missing $bench: scripts/build bench_gp_md" >&2; exit 2; }
printf '| species | descriptor | D | forces (atom-steps/s) | + uncertainty every step | + uncertainty every 10 steps |\n'
printf '| --- | --- | --- | --- | --- | --- |\n'
for species in 14 28,29 8,45,56 8,14,22,45,56; do
  n=$(tr ',' '\n' <<<"$species" | wc -l)
  for k in 0 1 2; do
    if [[ $k -ne 0 && ( $n -eq 1 || $k -gt $n ) ]]; then continue; fi
    steps=20
    if [[ $n -ge 3 && $k -eq 0 ]]; then steps=4; fi
    out=$("$bench" --cells 3 --steps $steps --uncertainty-steps 2 --sparse 500 --n-max 8 --l-max 4 \
      --cutoff 6.5 --species "$species" --embedding $k --contrast 0.25 --reference "")
    value() { sed -n "s/^$1=//p" <<<"$out"; }
    name=$([[ $k -eq 0 ]] && echo resolved || echo "embedding K = $k")
    printf '| %s | %s | %s | %.3g | %.3g | %.3g |\n' "$species" "$name" "$(value descriptor_size)" \
      "$(value gp_processor_rate_M500)" "$(value gp_uncertainty_processor_rate_M500)" \
      "$(value gp_uncertainty_every10_processor_rate_M500)"
  done
done
