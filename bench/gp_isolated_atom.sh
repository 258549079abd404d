#!/usr/bin/env bash
# The figure of docs/gp.md "Novelty", isolated atoms: a GP trained on bulk Si
# frames plus one isolated Si atom (Stillinger-Weber labels, so the isolated
# atom's energy is 0 eV) gives that atom its species' reference energy
# whatever its label: with reference energies fitted by least squares, and with
# them given as the isolated atom's energy (0 eV). Prints the isolated atom's
# energy and novelty under each model, and under a model trained on the bulk
# frames alone.
#
#   bench/gp_isolated_atom.sh [BUILD_DIR]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
otfgp="$build/otfgp"
[[ -x "$otfgp" ]] || { echo "missing $otfgp: scripts/build otfgp" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# Six bulk frames: SW MD of 64-atom Si at 1000 K, one frame every 100 steps.
cat > md.yaml <<'YAML'
structure: {lattice: diamond, elements: [Si], a: 5.431, repeat: [2, 2, 2]}
potential: sw:Si.sw
ensemble: nvt
temperature: 1000
seed: 7
steps: 600
thermostat: {type: langevin, damping: 100}
output: {directory: md, thermo_interval: 0, trajectory_interval: 100}
YAML
"$otfgp" -q md md.yaml
tail -n +67 md/trajectory.xyz > bulk.xyz  # the six frames after the perfect crystal

# One Si atom in a 20 Å box, labelled by the same potential.
printf '1\nLattice="20 0 0 0 20 0 0 0 20" Properties=species:S:1:pos:R:3 pbc="T T T"\nSi 0 0 0\n' \
  > alone.xyz
printf 'oracle: {kind: potential, potential: "sw:Si.sw"}\n' > sw.yaml
"$otfgp" -q label sw.yaml alone.xyz -o alone_sw.xyz
cat bulk.xyz alone_sw.xyz > train.xyz

row() {  # label, model: the isolated atom's energy and novel flag under the model
  "$otfgp" -q eval -p "gp:$2" alone_sw.xyz -o "eval_$1.xyz" 2> /dev/null
  /usr/bin/python3 - "$1" "eval_$1.xyz" << 'PY'
import sys
from ase.io import read
atoms = read(sys.argv[2])
print(f"{sys.argv[1]:<44} E = {atoms.get_potential_energy():+.4f} eV   novel = "
      f"{int(atoms.arrays['novel'][0])}   uncertainty = {atoms.arrays['uncertainty'][0]:.4f} eV")
PY
}
printf 'reference_energies: {Si: 0.0}\n' > given.yaml
"$otfgp" -q train --data bulk.xyz -o bulk.h5
"$otfgp" -q train --data train.xyz -o fitted.h5 2> fitted.log
"$otfgp" -q train --data train.xyz --config given.yaml -o given.h5
echo "isolated Si atom, SW label 0 eV:"
row "bulk frames only (fitted reference)" bulk.h5
row "bulk + isolated atom, reference fitted" fitted.h5
row "bulk + isolated atom, reference given 0 eV" given.h5
grep -o "warning: the frames hold.*" fitted.log || true
