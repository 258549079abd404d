#!/usr/bin/env bash
# Whole MD engine against LAMMPS: `otfgp md` and `lmp` run the same NVE
# trajectory set-up (Stillinger-Weber Si, diamond, 8×8×8 cells = 4096 atoms,
# 2000 K Maxwell–Boltzmann start, dt = 1 fs, 1000 steps, Verlet skin 1.0 Å,
# neighbour check every step, thermo every 100 steps, no trajectory), both
# serial and pinned to the same core, one after the other, RUNS times.
#
#   bench/md_vs_lammps.sh [BUILD_DIR]
#
# Environment: CELLS (8), STEPS (1000), RUNS (3), CORE (0), WRITE_DOCS (1: put
# the result into docs/BENCHMARKS.md).
# Rates are atom-steps per second of the time-step loop (set-up excluded on
# both sides): wall time, and per processor second (wall rate divided by the
# share of the core the process got), which is the fairer figure on a machine
# that others use at the same time. Peak memory is the maximum resident set
# size from /usr/bin/time -v, and its growth per atom from the benchmark size
# to 1.5 times the cells per direction (the fixed footprint left out).
set -euo pipefail

build=${1:-build}
cells=${CELLS:-8}
steps=${STEPS:-1000}
runs=${RUNS:-3}
core=${CORE:-0}
otfgp="$build/otfgp"
potential=/usr/share/lammps/potentials/Si.sw
[[ -x "$otfgp" ]] || { echo "missing $otfgp: cmake --build $build --target otfgp" >&2; exit 2; }
command -v lmp > /dev/null || { echo "lmp (Debian package lammps) not found" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time (Debian package time) not found" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
otfgp=$(cd "$(dirname "$otfgp")" && pwd)/$(basename "$otfgp")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1

write_inputs() {  # $1: cells per direction, $2: steps (default STEPS)
cat > "$work/md.yaml" << EOF
structure: {lattice: diamond, elements: [Si], a: 5.431, repeat: $1}
potential: sw:$potential
ensemble: nve
temperature: 2000
timestep: 1.0
steps: ${2:-$steps}
seed: 4928459
neighbor: {skin: 1.0}
output: {directory: out, thermo_interval: 100, trajectory_interval: 0}
EOF

cat > "$work/in.lmp" << EOF
units metal
atom_style atomic
boundary p p p
lattice diamond 5.431
region box block 0 $1 0 $1 0 $1
create_box 1 box
create_atoms 1 box
mass 1 28.085  # the mass otfgp md uses for Si (src/core/elements.cpp)
pair_style sw
pair_coeff * * $potential Si
neighbor 1.0 bin
neigh_modify every 1 delay 0 check yes
velocity all create 2000 4928459 mom yes rot no dist gaussian
fix nve all nve
timestep 0.001
thermo 100
run ${2:-$steps}
EOF
}

# Prints "wall_rate cpu_rate peak_kib atoms" for one run of each program.
run_otfgp() {
  (cd "$work" && rm -rf out && /usr/bin/time -v -o time.otfgp taskset -c "$core" "$otfgp" -q md md.yaml > /dev/null)
  /usr/bin/python3 - "$work/out/summary.json" "$work/time.otfgp" << 'PY'
import json, re, sys
summary = json.load(open(sys.argv[1]))
time = open(sys.argv[2]).read()
peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", time).group(1))
atom_steps = summary["steps_this_run"] * summary["atoms"]
wall = summary["timings_s"]["total"]
cpu = summary["loop_cpu_seconds"]
print(atom_steps / wall, atom_steps / cpu, peak, summary["atoms"])
PY
}

run_lammps() {
  (cd "$work" && /usr/bin/time -v -o time.lmp taskset -c "$core" lmp -in in.lmp -log log.lammps -screen none)
  /usr/bin/python3 - "$work/log.lammps" "$work/time.lmp" << 'PY'
import re, sys
log = open(sys.argv[1]).read()
time = open(sys.argv[2]).read()
loop = re.search(r"Loop time of ([0-9.e+-]+) on \d+ procs for (\d+) steps with (\d+) atoms", log)
seconds, steps, atoms = float(loop.group(1)), int(loop.group(2)), int(loop.group(3))
cpu = float(re.search(r"([0-9.]+)% CPU use with", log).group(1)) / 100
peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", time).group(1))
print(atoms * steps / seconds, atoms * steps / (seconds * cpu), peak, atoms)
PY
}

# Memory per atom without the programs' fixed footprint: the growth of the
# peak from the benchmark crystal to one with 1.5 times the cells per
# direction (3.4 times the atoms; 200 steps are enough for the peak).
large_cells=$((cells * 3 / 2))
write_inputs "$large_cells" 200
large_otfgp=$(run_otfgp)
large_lammps=$(run_lammps)

write_inputs "$cells"
: > "$work/results"
for ((r = 1; r <= runs; ++r)); do
  echo "otfgp $(run_otfgp)" >> "$work/results"
  echo "lammps $(run_lammps)" >> "$work/results"
done
cat "$work/results"

lammps_version=$(head -1 "$work/log.lammps")
machine=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
date=$(date -u +%Y-%m-%d)
row=$(/usr/bin/python3 - "$work/results" "$lammps_version" "$machine" "$date" "$cells" "$steps" "$runs" "$large_otfgp" "$large_lammps" << 'PY'
import os, statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
def column(program, k):
    return [float(r[k]) for r in rows if r[0] == program]
ours_wall, ours_cpu, ours_peak = column("otfgp", 1), column("otfgp", 2), column("otfgp", 3)
lmp_wall, lmp_cpu, lmp_peak = column("lammps", 1), column("lammps", 2), column("lammps", 3)
atoms = int(float(rows[0][4]))
median = statistics.median
ratio_wall = median(o / l for o, l in zip(ours_wall, lmp_wall))
ratio_cpu = median(o / l for o, l in zip(ours_cpu, lmp_cpu))
version, machine, date, cells, steps, runs = sys.argv[2:8]
large_ours, large_lmp = sys.argv[8].split(), sys.argv[9].split()
def marginal(peaks, large):  # bytes per atom added between the two sizes
    return (float(large[2]) - max(peaks)) * 1024 / (float(large[3]) - atoms)
ours_marginal, lmp_marginal = marginal(ours_peak, large_ours), marginal(lmp_peak, large_lmp)
print(f"otfgp  median {median(ours_wall):.4g} atom-steps/s wall, {median(ours_cpu):.4g} per processor second, peak {max(ours_peak) / 1024:.1f} MiB ({max(ours_peak) * 1024 / atoms:.0f} B/atom)", file=sys.stderr)
print(f"LAMMPS median {median(lmp_wall):.4g} atom-steps/s wall, {median(lmp_cpu):.4g} per processor second, peak {max(lmp_peak) / 1024:.1f} MiB ({max(lmp_peak) * 1024 / atoms:.0f} B/atom)", file=sys.stderr)
print(f"ratio otfgp/LAMMPS: {ratio_wall:.3f} (wall), {ratio_cpu:.3f} (per processor second)", file=sys.stderr)
print(f"memory per atom beyond the fixed footprint: otfgp {ours_marginal:.0f} B, LAMMPS {lmp_marginal:.0f} B", file=sys.stderr)
load = open("/proc/loadavg").read().split()[0]
print(f"| SW Si NVE, {atoms} atoms, {steps} steps, whole time-step loop, one core "
      f"| otfgp md: {median(ours_wall):.3g} atom-steps/s ({median(ours_cpu):.3g} per processor s); "
      f"peak RSS {max(ours_peak) / 1024:.1f} MiB, {ours_marginal:.0f} B per added atom "
      f"| LAMMPS {version[version.find('(') + 1:version.rfind(')')]}: {median(lmp_wall):.3g} atom-steps/s ({median(lmp_cpu):.3g} per processor s); "
      f"peak RSS {max(lmp_peak) / 1024:.1f} MiB, {lmp_marginal:.0f} B per added atom "
      f"| otfgp/LAMMPS **{ratio_wall:.2f}** ({ratio_cpu:.2f} per processor s) "
      f"| {os.cpu_count()}-core {machine} (shared, load ≈ {float(load):.0f}), {date}, median of {runs} alternating runs "
      f"| `CELLS={cells} STEPS={steps} RUNS={runs} bench/md_vs_lammps.sh build` |")
PY
)
echo "$row"

if [[ "${WRITE_DOCS:-1}" == 1 ]]; then
  /usr/bin/python3 - "$repo/docs/BENCHMARKS.md" "$row" << 'PY'
import os, sys
path, row = sys.argv[1:3]
begin, end = "<!-- md_vs_lammps begin -->", "<!-- md_vs_lammps end -->"
header = (
    "## MD engine against LAMMPS\n\n"
    "`bench/md_vs_lammps.sh`: `otfgp md` and `lmp` (Debian LAMMPS, serial) on the same NVE "
    "set-up, one after the other, pinned to the same core: Stillinger–Weber Si (`Si.sw`), "
    "diamond 8×8×8 cells = 4096 atoms, Maxwell–Boltzmann start at 2000 K, dt = 1 fs, 1000 steps, "
    "Verlet skin 1.0 Å checked every step, thermo every 100 steps, no trajectory. Rates are "
    "atom-steps per second of the time-step loop (set-up excluded on both sides), per wall second "
    "and per processor second (divided by the share of the core the process got). Memory: peak "
    "resident set size (/usr/bin/time -v), and its growth per atom from 4096 to 13824 atoms, "
    "which leaves out the fixed footprint of code and libraries. Target: otfgp ≥ 1.0× LAMMPS.\n\n"
    "| what | otfgp | peer | ratio | machine, date | command |\n"
    "| --- | --- | --- | --- | --- | --- |\n")
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\nMeasured ratios against peers; each section names the script that made it.\n"
if begin in text:
    head, rest = text.split(begin, 1)
    old, tail = rest.split(end, 1)
    rows = [line for line in old.splitlines() if line.startswith("| SW Si")]
    text = head + begin + "\n" + header + "\n".join(rows + [row]) + "\n" + end + tail
else:
    text = text.rstrip("\n") + "\n\n" + begin + "\n" + header + row + "\n" + end + "\n"
open(path, "w").write(text)
print(f"wrote {path}")
PY
fi
