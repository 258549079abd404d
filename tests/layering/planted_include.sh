#!/usr/bin/env bash
# Plants wrong-way includes in a temporary copy of the layer folders and checks
# that scripts/check-layers.py fails naming each file and line, and that the
# untouched copy passes. With BUILD_DIR, also checks the archive mode: the md
# library standing in for core needs make_potential, which only gp defines.
# Usage: planted_include.sh SOURCE_DIR [PYTHON] [BUILD_DIR]
set -euo pipefail
source_dir=${1:?usage: planted_include.sh SOURCE_DIR [PYTHON] [BUILD_DIR]}
python=${2:-python3}
build_dir=${3:-}
check=$source_dir/scripts/check-layers.py
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
for folder in include src md potentials; do cp -r "$source_dir/$folder" "$copy/"; done

fail() { echo "FAILED: $*" >&2; exit 1; }

"$python" "$check" "$copy" > "$copy/clean.txt" || fail "the unchanged tree does not pass: $(cat "$copy/clean.txt")"

# core reaching md, two lines below the end of a core source.
lines=$(wc -l < "$copy/src/core/box.cpp")
printf '\n#include "otfgp/md/engine.hpp"\n' >> "$copy/src/core/box.cpp"
planted_line=$((lines + 2))
# A potentials header reaching the gp layer.
printf '#include <vector>\n#include "otfgp/gp/sparse_gp.hpp"\n' >> "$copy/include/otfgp/potentials/evaluate.hpp"
header_line=$(($(wc -l < "$copy/include/otfgp/potentials/evaluate.hpp")))
# A header outside every layer folder.
echo '#pragma once' > "$copy/include/otfgp/stray.hpp"

if "$python" "$check" "$copy" > "$copy/report.txt" 2>&1; then
  fail "check-layers.py passed a tree with wrong-way includes"
fi
cat "$copy/report.txt"
grep -q "^src/core/box.cpp:$planted_line: core includes otfgp/md/engine.hpp from md" "$copy/report.txt" ||
  fail "the report does not name src/core/box.cpp:$planted_line"
grep -q "^include/otfgp/potentials/evaluate.hpp:$header_line: potentials includes otfgp/gp/sparse_gp.hpp from gp" \
  "$copy/report.txt" || fail "the report does not name include/otfgp/potentials/evaluate.hpp:$header_line"
grep -q "^include/otfgp/stray.hpp:1: not in a layer folder" "$copy/report.txt" ||
  fail "the report does not name include/otfgp/stray.hpp"
[[ $(grep -c '^[a-z].*:[0-9]*: ' "$copy/report.txt") -eq 3 ]] || fail "expected exactly three problems"
echo "planted_include: all three planted problems reported"

[[ -n $build_dir ]] || exit 0
mkdir "$copy/archives"
cp "$build_dir/libotfgp_md.a" "$copy/archives/libotfgp_core.a"
cp "$build_dir/libotfgp_gp.a" "$copy/archives/libotfgp_gp.a"
if "$python" "$check" --archives "$copy/archives" "$source_dir" > "$copy/symbols.txt" 2>&1; then
  fail "check-layers.py --archives passed a core library that needs the gp layer"
fi
cat "$copy/symbols.txt"
# The object is md/run.cpp's, or the unity batch that holds it (OTFGP_UNITY_BUILD).
grep -Eq "^libotfgp_core.a\((run.cpp|unity_[0-9]+_cxx.cxx).o\): core uses otfgp::make_potential\(.*defined only in gp" \
  "$copy/symbols.txt" || fail "the archive report does not name make_potential in md/run.cpp's object"
echo "planted_include: the upward symbol is reported"
