#!/usr/bin/env bash
# Training cost of the sparse GP: time and peak memory against the number of
# labels N (fixed M) and against M (fixed N), the 200-frame × 100-atom
# three-species set with M = 2000, and the cost of one on-the-fly update
# against the number of frames already in the model. One process per
# configuration, so that each peak memory is its own.
#
#   bench/sparse_gp_scaling.sh [BUILD_DIR]
#
# Prints markdown tables for docs/BENCHMARKS.md (and the raw JSON lines on stderr).
set -euo pipefail
build=${1:-build}
bench="$build/bench/bench_sparse_gp"
[[ -x "$bench" ]] || { echo "missing $bench: cmake --build $build --target bench_sparse_gp" >&2; exit 2; }
# OpenBLAS takes a generic SSE3 kernel on CPUs it does not recognise (this VM's
# "Intel Xeon Processor"); name the core so that its AVX-512 kernels run.
if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/format.py" << 'PY'
import json, sys
mode = sys.argv[1]
for line in sys.stdin:
    j = json.loads(line)
    if mode == "scratch":
        print("| {frames} × {atoms_per_frame} | {labels} | {sparse} | {s:.1f} | {r:.1f} | {pf:.2f} | {l:.2f} | {f:.0f} | {p:.0f} |".format(
            s=j["seconds_sparse_set"], r=j["seconds_rows"], pf=j["seconds_rows"] / j["frames"],
            l=j["seconds_likelihood_and_gradient"], f=j["factor_mb"], p=j["peak_memory_mb"], **j))
    elif j["mode"] == "rebuild":
        print("\nRebuilding the final model ({frames} frames, M = {sparse}) from scratch instead: {seconds_rebuild_and_solve:.2f} s.".format(**j))
    elif j["frames_before"] in (0, 1, 5, 10, 20, 40, 60, 80, 100, 120, 149):
        print("| {frames_before} | {sparse} | {labels} | {seconds_descriptor:.3f} | {seconds_new_columns:.3f} | {seconds_new_rows:.3f} "
              "| {seconds_solve:.3f} | {seconds_map:.3f} | {factor_mb:.0f} |".format(**j))
PY

row() {  # frames sparse
  "$bench" scratch --frames "$1" --sparse "$2" | tee -a /dev/stderr | /usr/bin/python3 "$work/format.py" scratch
}

echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg) at start; $(date -I); \`bench/sparse_gp_scaling.sh build\`"
echo
echo "| frames × atoms | labels N | sparse M | sparse set (s) | label rows + factors (s) | per frame (s) | likelihood + gradient (s) | factors (MB) | peak memory (MB) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for frames in 25 50 100 200; do row "$frames" 500; done
for sparse in 250 1000 2000; do row 50 "$sparse"; done
# 2030 drawn: about 30 of the perovskite's near-identical sites are skipped, leaving M ≈ 2000.
row 200 2030

echo
echo "On-the-fly updates (Si, 64-atom frames, 8 new sparse environments per frame):"
echo
echo "| frames already in the model | M after | labels after | descriptors (s) | new columns (s) | new rows (s) | solve α (s) | mapped β, R_s (s) | factors (MB) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
"$bench" incremental --frames 150 --per-frame 8 | tee -a /dev/stderr | /usr/bin/python3 "$work/format.py" incremental
