#!/usr/bin/env bash
# CTest "example_lammps_gp": examples/lammps-gp/run.sh in a temporary copy
# (it runs the quickstart first, for its model), then checks LAMMPS's log:
# both runs (200 NVT, 400 NPT steps) reach step 600, the halt guard on the
# GP's uncertainty never fires (largest std below 0.5 on every thermo line),
# and the GP's virial moves the NPT volume. About 3 minutes on two cores.
#   example_lammps_gp.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src/examples/quickstart" "$src/examples/lammps-gp" "$work/"
rm -rf "$work/quickstart/out" "$work/lammps-gp/out"
if ! "$work/lammps-gp/run.sh" "$build" > "$work/log" 2>&1; then
  tail -n 40 "$work/log"
  exit 1
fi
/usr/bin/python3 - "$work/lammps-gp/out/log.lammps" <<'PY'
import sys
rows = []
for line in open(sys.argv[1]):
    words = line.split()
    if len(words) != 8 or not words[0].isdigit():
        continue
    try:
        rows.append([float(w) for w in words])
    except ValueError:  # "1 by 1 by 2 MPI processor grid" and the like
        pass
steps = [int(r[0]) for r in rows]
std_max = max(r[6] for r in rows)
volumes = [r[5] for r in rows if r[0] > 200]
print(f"thermo lines {len(rows)}, last step {steps[-1]}, largest std {std_max:.4g}, "
      f"NPT volume {min(volumes):.1f} to {max(volumes):.1f} A^3")
assert steps[-1] == 600, "the runs did not reach step 600 (the halt guard fired?)"
assert std_max < 0.5, "the GP's uncertainty passed the guard"
assert max(volumes) - min(volumes) > 1.0, "the NPT volume did not move"
PY
grep -q "dump" "$work/lammps-gp/in.lmp" && test -s "$work/lammps-gp/out/dump.lammpstrj"
