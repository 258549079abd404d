#!/usr/bin/env bash
# CTest "ternary reference campaign" (issue #10's acceptance): runs
# examples/otf-barho-reference/run.sh (held-out MD, the otf campaign with its
# relax stages, the hulls with the GP and with the oracle at 0 and 10 GPa)
# in a temporary copy and checks its outputs with check_barho_campaign.py.
# About 6 minutes on two cores.
#   barho_campaign.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src/examples/otf-barho-reference" "$src/examples/hull-barho" "$work/"
rm -rf "$work/otf-barho-reference/out"
if ! /usr/bin/time -v "$work/otf-barho-reference/run.sh" "$build" > "$work/log" 2>&1; then
  tail -n 60 "$work/log"
  exit 1
fi
grep -E "Elapsed|Maximum resident" "$work/log"
/usr/bin/python3 "$src/tests/campaign/check_barho_campaign.py" "$work/otf-barho-reference/out"
