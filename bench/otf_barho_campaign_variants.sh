#!/usr/bin/env bash
# The Ba-Rh-O reference campaign (examples/otf-barho-reference) in the variants
# its README compares, each in its own copy under WORK, then the issue-#10
# check of tests/campaign/check_barho_campaign.py (held-out MAE per
# composition, stable sets, formation enthalpies GP - oracle):
#   relax     the example as it is (MD stages, then relax stages of the four
#             hull candidates at 0 and 10 GPa)
#   no-relax  without the relax stages (the MD stages alone)
#   cold      the relax stages replaced by MD stages of the same candidates at
#             100 K, 1000 steps
# and, for each, the 2H polytype at 10 GPa: `otfgp relax` with the learnt model
# and with the oracle, then `otfgp eval` of each minimum with the other (the
# model's energy error per atom at the oracle's minimum and at its own).
# 6-13 minutes per variant on two cores.
#   bench/otf_barho_campaign_variants.sh WORK [VARIANT ...] [--build DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$1
shift
build=$root/build
variants=()
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    *) variants+=("$1"); shift ;;
  esac
done
[ ${#variants[@]} -gt 0 ] || variants=(relax no-relax cold)
otfgp=$build/otfgp
mkdir -p "$work"
for variant in "${variants[@]}"; do
  dir=$work/$variant
  rm -rf "$dir" && mkdir -p "$dir"
  cp -r "$root/examples/otf-barho-reference" "$root/examples/hull-barho" "$dir/"
  rm -rf "$dir/otf-barho-reference/out"
  config=$dir/otf-barho-reference/otf.yaml
  case $variant in
    relax) ;;
    no-relax) sed -i '/relax: true/d' "$config" ;;
    cold) sed -i -e '/relax: true/s/, relax: true}/, temperature: 100, steps: 1000}/' "$config" ;;
    *) echo "unknown variant $variant (relax, no-relax, cold)" >&2; exit 2 ;;
  esac
  echo "== $variant: $(grep -c '^  - {' "$config") stages"
  /usr/bin/time -f "%e s wall, %M kB peak" "$dir/otf-barho-reference/run.sh" "$build" \
    > "$dir/log" 2> "$dir/time" || { tail -n 40 "$dir/log"; exit 1; }
  tail -n 1 "$dir/time"
  out=$dir/otf-barho-reference/out
  /usr/bin/python3 "$root/tests/campaign/check_barho_campaign.py" "$out" || true
  cd "$dir/otf-barho-reference"
  model=gp:$out/otf/model.h5
  oracle=buck:BaRhO.buck
  structure=../hull-barho/structures/BaRhO3-2H.vasp
  "$otfgp" -q relax "$structure" -p "$oracle" -a lbfgs -P 10 -o "$dir/2H_oracle.xyz" > /dev/null
  "$otfgp" -q relax "$structure" -p "$model" -a lbfgs -P 10 -o "$dir/2H_gp.xyz" > /dev/null
  "$otfgp" -q eval "$dir/2H_oracle.xyz" -p "$model" -o "$dir/2H_gp_at_oracle.xyz"
  "$otfgp" -q eval "$dir/2H_gp.xyz" -p "$oracle" -o "$dir/2H_oracle_at_gp.xyz"
  cd - > /dev/null
  /usr/bin/python3 - "$dir" <<'PY'
import sys
from ase.io import read
d = sys.argv[1]
oracle, gp_at_oracle = read(f"{d}/2H_oracle.xyz"), read(f"{d}/2H_gp_at_oracle.xyz")
gp, oracle_at_gp = read(f"{d}/2H_gp.xyz"), read(f"{d}/2H_oracle_at_gp.xyz")
n = len(oracle)
print(f"2H at 10 GPa: GP - oracle energy {1000 * (gp_at_oracle.get_potential_energy() - oracle.get_potential_energy()) / n:+.1f} "
      f"meV/atom at the oracle's minimum (largest force std there {gp_at_oracle.arrays['force_std'].max():.2f} eV/Å), "
      f"{1000 * (gp.get_potential_energy() - oracle_at_gp.get_potential_energy()) / n:+.1f} at the GP's")
PY
done
