#!/usr/bin/env bash
# One GP for Ba-Rh-O learnt on the fly over a campaign (BaO, RhO2, BaRhO3,
# Ba2RhO4 at 0 and 10 GPa, 1000 K) with the Buckingham + DSF Coulomb oracle,
# then the hull of the relaxed compounds with the GP and with the oracle.
#
#   examples/otf-barho-reference/run.sh [BUILD_DIR]     (from anywhere)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
otfgp="$build/otfgp"
[[ -x "$otfgp" ]] || { echo "missing $otfgp: build first (scripts/build)" >&2; exit 2; }
cd "$here"
rm -rf out && mkdir -p out/held_out

echo "== 1. held-out frames: independent reference MD at every stage's conditions"
for name in BaO RhO2 BaRhO3 Ba2RhO4; do
  for pressure in 0 10; do
    sed -e "s/NAME/$name/g" -e "s/PRESSURE/$pressure/g" held_out.yaml.in > "out/held_out/${name}_${pressure}.yaml"
    "$otfgp" -q md "out/held_out/${name}_${pressure}.yaml" > /dev/null
    # every frame but the starting structure
  done
done
/usr/bin/python3 - <<'PY'
from ase.io import read, write
import glob
frames = []
for path in sorted(glob.glob("out/held_out/*GPa/trajectory.xyz")):
    frames += read(path, ":")[1:]          # the starting structure is not held out
write("out/held_out.xyz", frames)
print(f"{len(frames)} held-out frames")
PY

echo "== 2. on-the-fly learning over the campaign"
"$otfgp" otf otf.yaml

echo "== 3. hull of the relaxed compounds with the GP (re-checked by the oracle) and with the oracle"
for pressure in 0 10; do
  # GP relaxations; the entries within 50 meV/atom of the GP's hull get an
  # oracle single point at the GP geometry (in rounds, docs/hull.md)
  "$otfgp" hull ../hull-barho/structures/*.vasp --references BaO RhO2 \
    --relax-with gp:out/otf/model.h5 --relax-algorithm lbfgs --fmax 0.01 --max-steps 2000 \
    --pressure "$pressure" --recheck-within 0.05 --recheck-with buck:BaRhO.buck \
    --json "out/hull_gp_${pressure}GPa.json" > "out/hull_gp_${pressure}GPa.txt"
  "$otfgp" hull ../hull-barho/structures/*.vasp --references BaO RhO2 \
    --relax-with buck:BaRhO.buck --relax-algorithm lbfgs --fmax 0.01 --max-steps 2000 \
    --pressure "$pressure" --json "out/hull_oracle_${pressure}GPa.json" \
    > "out/hull_oracle_${pressure}GPa.txt"
done
echo "done: results in $here/out (otf/summary.json, otf/*.png, hull_*_*GPa.txt)"
