#!/usr/bin/env bash
# Degenerate polymorphs in a hull pressure sweep: Tersoff (SiC.tersoff) gives
# zincblende and wurtzite SiC the same enthalpy (no third-neighbour terms),
# so their relaxed enthalpies differ by relaxation noise only. The sweep
# 0–20 GPa with --degenerate-within 0 (every entry its own phase, as before
# 2026-12-02) and with the default (one phase), transitions counted.
# Structures: ase.build.bulk, rattled 0.01 Å (seed 1), /usr/bin/python3.
#
#   bench/hull_degenerate_polymorphs.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail

build=$(realpath "${1:-build}")
work=${2:-$(mktemp -d)}
mkdir -p "$work"
cd "$work"
/usr/bin/python3 - <<'PY'
from ase.build import bulk
from ase.io import write
for name, atoms in [("Si_d", bulk("Si", "diamond", 5.43)), ("Si_bcc", bulk("Si", "bcc", 3.1)),
                    ("SiC_zb", bulk("SiC", "zincblende", 4.36)),
                    ("SiC_w", bulk("SiC", "wurtzite", a=3.08, c=5.04)),
                    ("C_d", bulk("C", "diamond", 3.57))]:
    atoms.rattle(0.01, seed=1)
    write(name + ".vasp", atoms, format="vasp", direct=True)
PY
inputs="Si_d.vasp Si_bcc.vasp SiC_zb.vasp SiC_w.vasp C_d.vasp"
for within in 0 1e-5; do
  # shellcheck disable=SC2086
  "$build/otfgp" -q hull $inputs --relax-with tersoff:SiC.tersoff --relax-algorithm lbfgs \
    -P 0:20:1 --degenerate-within "$within" --json "sweep_$within.json" > "sweep_$within.txt"
  /usr/bin/python3 - "$within" <<'PY'
import json, sys
within = sys.argv[1]
d = json.load(open(f"sweep_{within}.json"))
sic = [t for t in d["transitions"] if t["formula"] == "SiC"]
hulls = d["hulls"]
def enthalpy(hull, name):
    return next(e["enthalpy_per_atom"] for e in hull["entries"] if e["id"] == name)
zb = [enthalpy(h, "SiC_zb") - enthalpy(h, "SiC_w") for h in hulls]
print(f"--degenerate-within {within}: {len(d['transitions'])} transitions "
      f"({len(sic)} between SiC polymorphs), degenerate: "
      f"{[(x['id'], x['same_as']) for x in d['degenerate']]}, "
      f"max |H_zb - H_w| {max(abs(x) for x in zb):.2g} eV/atom")
PY
done
echo "outputs in $work"
