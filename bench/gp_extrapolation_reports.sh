#!/usr/bin/env bash
# What relax/hull/search report where a GP extrapolates (docs/search.md,
# "Minima the model extrapolates to"; docs/hull.md), with the quickstart's
# model (examples/quickstart/run.sh: 64-atom diamond Si at 1000 K):
#  1. a LAQA search of Si8, 12 candidates (seed 1): every minimum novel;
#  2. the same with 40 candidates (seed 7): minima without novel atoms but
#     far below diamond, which the warning does not count;
#  3. an active-learning search (SW oracle, max_calls 6): the last model's
#     minima against SW's energies of them;
#  4. a hull of diamond Si8 and the best minimum of 1 relaxed with the GP at
#     0, 10 and 20 GPa: notes, the energy std novel atoms add, and the
#     text tables' novel marks;
#  5. Tersoff SiC learnt on the fly, its relaxed zincblende, wurtzite and
#     rocksalt against Tersoff's (a poorly fitting model flags little).
#
#   bench/gp_extrapolation_reports.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
# One BLAS thread: the active-learning search's model updates sum in an order
# that follows the threads, and its relaxations follow them (with OpenBLAS on
# 2 threads a fifth minimum, P222 at -5.24 eV/atom, ranks in search 3).
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

repo=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:-$repo/build}")
work=${2:-$(mktemp -d)}
model=$repo/examples/quickstart/out/otf/model.h5
[ -f "$model" ] || { echo "no $model: run examples/quickstart/run.sh first" >&2; exit 2; }
mkdir -p "$work" && cd "$work"
otfgp() { "$build/otfgp" "$@"; }
sw=sw:/usr/share/lammps/potentials/Si.sw

search_config() {  # FOLDER SEED CANDIDATES MAX_STEPS [EXTRA]
  printf '%s\n' "composition: Si" "formula_units: 8" "pressure: 0" "seed: $2" "candidates: $3" \
    "algorithm: laqa" "relax: {algorithm: fire, max_steps: $4}" \
    "laqa: {initial_steps: 10, n_select: 4, n_steps: 10}" \
    "output: {folder: $1, top: 3, plots: false}" "${5:-potential: gp:$model}"
}

# ranking FOLDER [ROWS]: rank, E/N, std/σ, novel atoms and force std ÷ σ_f of
# the ranked minima; with ROWS, also every later minimum below 2 σ_f.
ranking() {
  /usr/bin/python3 - "$1/ranking.csv" "${2:-0}" << 'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
shown = int(sys.argv[2]) or len(rows)
def ratio(row):
    return float(row['max_force_std']) / float(row['force_noise'])
for n, row in enumerate(rows):
    if n < shown or (int(row['novel_atoms']) == 0 and ratio(row) <= 2):
        print(f"  rank {row['rank']:>2}: E {float(row['energy_per_atom']):8.3f} eV/atom, "
              f"{row['space_group']:>10}, std/σ {float(row['max_uncertainty_normalised']):.3f}, "
              f"novel {row['novel_atoms']}, force std {ratio(row):.3g} σ_f "
              f"(σ_f {float(row['force_noise']):.3g} eV/Å)")
PY
}

echo "== 1. LAQA search, 12 candidates, seed 1"
search_config s12 1 12 200 > s12.yaml
otfgp -q search s12.yaml 2> s12.log > /dev/null
ranking s12
grep -o 'Si: [0-9]* of the [0-9]* ranked minima[^(]*' s12.log || echo "  (no warning)"

echo "== 2. LAQA search, 40 candidates, seed 7 (minima without novel atoms)"
search_config s40 7 40 400 > s40.yaml
otfgp -q search s40.yaml 2> s40.log > /dev/null
ranking s40 5
grep -o 'Si: [0-9]* of the [0-9]* ranked minima[^(]*' s40.log || echo "  (no warning)"
otfgp eval -p "gp:$model" "$repo/examples/quickstart/out/held_out/trajectory.xyz" -o held.xyz \
  2> held.log
/usr/bin/python3 -c "
from ase.io import read
frames = read('held.xyz', ':')
print('  largest std/σ on the held-out frames:', f\"{max(a.arrays['uncertainty_normalised'].max() for a in frames):.4f}\")
print('  largest force std on them:', f\"{max(a.arrays['force_std'].max() for a in frames):.3g} eV/Å\")"
grep -o 'force MAE vs input labels: [0-9.]* eV/Å' held.log | sed 's/^/  /'

echo "== 3. active-learning search (SW oracle, max_calls 6); SW's energies of its minima"
cp "$model" al-start.h5
search_config al 1 8 200 "$(printf '%s\n' "active_learning:" "  model: gp:al-start.h5" \
  "  oracle: {kind: potential, potential: $sw}" "  max_calls: 6" "  check_interval: 10")" > al.yaml
otfgp -q search al.yaml 2> al.log > /dev/null
ranking al
grep -o 'Si: [0-9]* of the [0-9]* ranked minima[^(]*' al.log || echo "  (no warning)"
otfgp -q eval -p "$sw" al/minima.xyz -o al-sw.xyz
/usr/bin/python3 -c "
from ase.io import read
print('  SW E/N of the ranked minima:', ', '.join(f'{a.get_potential_energy() / len(a):.2f}' for a in read('al-sw.xyz', ':')))"

echo "== 4. hull of diamond Si8 and search 1's best minimum, relaxed with the GP at 0, 10, 20 GPa"
/usr/bin/python3 - << 'PY'
from ase.build import bulk
from ase.io import read, write
write("diamond.xyz", bulk("Si", "diamond", 5.431, cubic=True), format="extxyz")
best = read("s12/minima.xyz", 0)
best.info = {}
write("best.xyz", best, format="extxyz")
PY
otfgp -q hull diamond.xyz best.xyz --relax-with "gp:$model" -P 0:20:10 --json hull.json 2> hull.log \
  > hull.txt
/usr/bin/python3 - << 'PY'
import json
h = json.load(open("hull.json"))
for phase in h["phases"]:
    print(f"  {phase['id']}: std per atom by pressure {phase.get('std_per_atom_by_pressure')}")
    for note in phase.get("notes", []):
        print(f"    note: {note}")
for hull in h["hulls"]:
    enthalpy = {e["id"]: e["enthalpy_per_atom"] for e in hull["entries"]}
    print(f"  {hull['pressure_gpa']:g} GPa: H(best) - H(diamond) = "
          f"{enthalpy['best'] - enthalpy['diamond']:+.2f} eV/atom, stable {hull['stable']}")
PY
echo "  the text's hull at 20 GPa and its list of stable ranges:"
sed -n '/^Hull at 20 GPa/,/^No phase\|^Transitions/p' hull.txt | sed 's/^/  /'

echo "== 5. a model that fits poorly flags little: Tersoff SiC learnt on the fly (1000 K, 3000 steps),"
echo "      zincblende (learnt), wurtzite and rocksalt relaxed at fixed cell with it and with Tersoff"
/usr/bin/python3 - << 'PY'
from ase.build import bulk
from ase.io import write
write("sic64.xyz", bulk("SiC", "zincblende", 4.36, cubic=True).repeat((2, 2, 2)), format="extxyz")
phases = [bulk("SiC", "zincblende", 4.36, cubic=True), bulk("SiC", "wurtzite", a=3.08, c=5.04),
          bulk("SiC", "rocksalt", 4.03, cubic=True)]
write("sic_phases.xyz", phases, format="extxyz")
PY
printf '%s\n' "structure: sic64.xyz" \
  "md: {ensemble: nvt, temperature: 1000, seed: 3, timestep: 1.0, steps: 3000, thermostat: {type: langevin, damping: 100}}" \
  "model: {descriptor: {n_max: 8, l_max: 3, cutoff: 4.5}, hyperparameters: {max_evaluations: 40}}" \
  "oracle: {kind: potential, potential: tersoff:SiC.tersoff}" \
  "otf: {check_interval: 10, min_steps_between_calls: 20, max_sparse_per_frame: 16}" \
  "output: sic-otf" > sic-otf.yaml
otfgp -q otf sic-otf.yaml > /dev/null 2>&1
otfgp relax sic_phases.xyz -p gp:sic-otf/model.h5 -o sic-gp.xyz 2>&1 | grep '^frame' | sed 's/^/  GP /'
otfgp relax sic_phases.xyz -p tersoff:SiC.tersoff -o sic-tersoff.xyz 2>&1 | grep '^frame' |
  sed 's/, max force.*//; s/^/  Tersoff /'
/usr/bin/python3 -c "
import json; print('  the model\'s force noise sigma_f:', json.load(open('sic-otf/summary.json'))['hyperparameters']['force_noise'], 'eV/A')"
