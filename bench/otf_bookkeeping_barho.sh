#!/usr/bin/env bash
# The on-the-fly loop's own cost (update, checkpoint, held-out evaluation)
# against MD and the oracle, on a short version of the Ba-Rh-O reference
# campaign (docs/BENCHMARKS.md "OTF loop bookkeeping cost"): the first eight
# stages of examples/otf-barho-reference/otf.yaml (BaO, RhO2, BaRhO3, Ba2RhO4
# at 0 and 10 GPa) with md.steps 150, and 16 held-out frames (every 100th
# frame but the first of a 400-step reference run of each 0-GPa structure).
#   bench/otf_bookkeeping_barho.sh [BUILD_DIR] [WORK_DIR]
# OTFGP_BENCH_OTF_EXTRA="key: value" adds a line to the otf: section (e.g.
# "bitwise_resume: false").
# Prints summary.json's timings_seconds, calls, sparse size and peak memory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
otfgp=$(cd "${1:-$root/build}" && pwd)/otfgp
work=${2:-$(mktemp -d)}
example=$root/examples/otf-barho-reference
mkdir -p "$work/held_out" && cd "$work"
for name in BaO RhO2 BaRhO3 Ba2RhO4; do
  sed -e "s|structures/NAME_PRESSUREGPa|$example/structures/${name}_0GPa|" -e "s/NAME/$name/g" \
    -e "s/PRESSURE/0/g" -e "s/steps: 1000/steps: 400/" -e "s/trajectory_interval: 200/trajectory_interval: 100/" \
    -e "s|directory: out/held_out|directory: held_out|" "$example/held_out.yaml.in" > "held_out/$name.yaml"
  "$otfgp" -q md "held_out/$name.yaml" > /dev/null
done
/usr/bin/python3 - <<'PY'
from ase.io import read, write
import glob
frames = []
for path in sorted(glob.glob("held_out/*GPa/trajectory.xyz")):
    frames += read(path, ":")[1:]
write("held_out.xyz", frames)
PY
/usr/bin/python3 - "$example" <<'PY'
import os, re, sys
example = sys.argv[1]
lines, stages = [], 0
for line in open(f"{example}/otf.yaml"):
    if line.lstrip().startswith("- {structure:"):
        stages += 1
        if stages > 8:
            continue
        line = line.replace("structures/", f"{example}/structures/")
    line = re.sub(r"^(  steps:) \d+", r"\1 150", line)
    line = re.sub(r"^held_out:.*", "held_out: held_out.xyz", line)
    line = re.sub(r"^output:.*", "output: out", line)
    lines.append(line)
    extra = os.environ.get("OTFGP_BENCH_OTF_EXTRA")
    if extra and line.startswith("otf:"):
        lines.append(f"  {extra}\n")
open("short.yaml", "w").write("".join(lines))
PY
/usr/bin/time -v "$otfgp" -q otf short.yaml > otf.log 2> time.log || { tail -20 time.log; exit 1; }
/usr/bin/python3 - <<'PY'
import json, re
s = json.load(open("out/summary.json"))
print("calls", s["oracle_calls"], "frames", s["frames"], "sparse", s["sparse_size"])
print("timings_seconds", {k: round(v, 1) for k, v in s["timings_seconds"].items()})
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open("time.log").read())
wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", open("time.log").read())
print("wall", wall.group(1), "peak memory MB", int(rss.group(1)) // 1024)
PY
echo "work: $work"
