#!/usr/bin/env bash
# Single-point cost of the DFT oracles through `otfgp label`: pw.x on Si8
# (20 Ry, 2×2×2 k, the examples/otf-si-qe oracle) on five 1000 K frames, and
# CP2K on the 5-atom cubic BaRhO3 cell (DZVP-MOLOPT-SR-GTH, 300 Ry, 4×4×4 k,
# examples/otf-barho-cp2k/small_cell.yaml). Prints each program's own CPU and
# wall time per call and a docs/BENCHMARKS.md row.
#
#   bench/oracle_single_points.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
otfgp="$build/otfgp"
[[ -x "$otfgp" ]] || { echo "missing $otfgp: build first (scripts/build otfgp)" >&2; exit 2; }
work=$(mktemp -d /tmp/otfgp-oracle-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
machine="$(nproc)-core $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1 /proc/loadavg)"

cd "$root/examples/otf-si-qe"
sed "s|directory: out/fresh|directory: $work/fresh|" sample_fresh.yaml > "$work/sample_fresh.yaml"
cp si8.xyz "$work/"
"$otfgp" -q md "$work/sample_fresh.yaml" > /dev/null
tail -n +11 "$work/fresh/trajectory.xyz" > "$work/si8_frames.xyz"
"$otfgp" -q label otf.yaml "$work/si8_frames.xyz" -o "$work/si8_qe.xyz" --workdir "$work/qe" --keep
qe=$(grep -h 'PWSCF.*WALL' "$work"/qe/*/pw.out | awk '{gsub("s","",$3); gsub("s","",$5); cpu+=$3; wall+=$5; n++}
  END {printf "%.2f s CPU, %.1f s wall (mean of %d)", cpu/n, wall/n, n}')
echo "QE pw.x Si8, 20 Ry, 2x2x2 k: $qe"

cd "$root/examples/otf-barho-cp2k"
# CP2K prints no CPU total: take the user + system time of the label run
# (its waited-for children included) from /usr/bin/time.
/usr/bin/time -f "%U %S" -o "$work/cp2k_time.txt" "$otfgp" -q label small_cell.yaml \
  ../hull-barho/structures/BaRhO3-cubic.vasp -o "$work/barho3.xyz" --workdir "$work/cp2k" --keep
cp2k=$(awk '/^ CP2K  +1 /{printf "%.1f s wall", $NF}' "$work"/cp2k/*/cp2k.out)
cp2k="$(awk '{printf "%.1f s CPU", $1 + $2}' "$work/cp2k_time.txt"), $cp2k"
echo "CP2K BaRhO3 (5 atoms), DZVP-MOLOPT-SR-GTH, 300 Ry, 4x4x4 k: $cp2k"
echo
echo "| pw.x Si8, PBE Si.pbe-rrkj.UPF, 20 Ry, 2×2×2 k | $qe | $machine, $(date -u +%F) | \`bench/oracle_single_points.sh\` |"
echo "| CP2K BaRhO₃ 5 atoms, DZVP-MOLOPT-SR-GTH, 300 Ry, 4×4×4 k | $cp2k | $machine, $(date -u +%F) | \`bench/oracle_single_points.sh\` |"
