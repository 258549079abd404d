#!/usr/bin/env bash
# Convex hull against pymatgen on the same random entry sets: 10⁵ ternary and
# 10⁴ quaternary entries (bench_hull), elemental references. otfgp: the best of
# three compute_hull calls (hull, e_above_hull and decomposition of every
# entry), and the whole `otfgp hull` command on the CSV (parsing included, no
# output files). pymatgen: PhaseDiagram(entries) plus
# get_decomp_and_e_above_hull for every entry (one run; /usr/bin/python3).
#
#   bench/hull_vs_pymatgen.sh [BUILD_DIR]
#
# Environment: TERNARY (100000), QUATERNARY (10000).
# Prints the times, the ratio (pymatgen / otfgp; > 1 means otfgp is faster)
# and docs/BENCHMARKS.md rows.
set -euo pipefail

build=${1:-build}
ternary=${TERNARY:-100000}
quaternary=${QUATERNARY:-10000}
bench="$build/bench/bench_hull"
cli="$build/otfgp"
[[ -x "$bench" && -x "$cli" ]] || { echo "missing $bench or $cli: cmake --build $build --target bench_hull otfgp" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1

"$bench" --ternary "$ternary" --quaternary "$quaternary" --write-csv "$work" | tee "$work/otfgp.txt"

cat > "$work/pymatgen_hull.py" <<'PY'
import csv
import sys
import time

from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.core import Composition

entries = []
for row in csv.DictReader(open(sys.argv[1])):
    composition = Composition(row["formula"])
    entries.append(PDEntry(composition, float(row["energy_per_atom"]) * composition.num_atoms, name=row["id"]))
start = time.perf_counter()
diagram = PhaseDiagram(entries)
for entry in entries:
    diagram.get_decomp_and_e_above_hull(entry, check_stable=False)
print(f"{time.perf_counter() - start:.3f}")
PY

row() {  # set, entries, otfgp seconds, otfgp CLI seconds, pymatgen seconds
  local ratio
  ratio=$(awk -v a="$5" -v b="$3" 'BEGIN { printf "%.0f", a / b }')
  echo "$1 hull: $2 entries: otfgp compute_hull $3 s, otfgp hull CLI $4 s, pymatgen $5 s, ratio pymatgen/otfgp ${ratio}x"
  echo "| hull, $1 ($2 entries, elemental references) | otfgp compute_hull $3 s; \`otfgp hull\` on the CSV $4 s | pymatgen PhaseDiagram + e_above_hull of all entries $5 s | ${ratio}× | $(getconf _NPROCESSORS_ONLN)-core $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%Y-%m-%d) | \`bench/hull_vs_pymatgen.sh\` |"
}

for set in ternary quaternary; do
  entries=$([[ $set == ternary ]] && echo "$ternary" || echo "$quaternary")
  ours=$(awk -v s="$set" '$1 == s { for (i = 1; i <= NF; ++i) if ($i == "compute_hull") print $(i + 1) }' "$work/otfgp.txt")
  start=$(date +%s.%N)
  "$cli" -q hull "$work/$set.csv" > /dev/null
  cli_seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
  theirs=$(/usr/bin/python3 "$work/pymatgen_hull.py" "$work/$set.csv")
  row "$set" "$entries" "$ours" "$cli_seconds" "$theirs"
done
