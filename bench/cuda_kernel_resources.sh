#!/usr/bin/env bash
# Registers, stack frame and spills of each CUDA kernel in one source file, as
# ptxas reports them (no GPU needed): what docs/gpu.md quotes for the GP's
# kernels.
#
#   bench/cuda_kernel_resources.sh BUILD_DIR SOURCE [PATTERN]
#
# BUILD_DIR: a CUDA build of otfgp (nvcc_wrapper, Makefiles; docs/gpu.md),
# SOURCE: a file of the repository (src/gp/gp_batched_force.cpp), PATTERN: an
# extended regular expression the kernel's mangled name must match (default:
# every kernel whose name mentions otfgp). Compiles SOURCE once more with that
# build's flags and -Xptxas -v into a temporary object.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 BUILD_DIR SOURCE [PATTERN]" >&2; exit 2; }
build=$(cd "$1" && pwd)
source=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
pattern=${3:-otfgp}
flags=$(grep -l "$(basename "$source")" "$build"/CMakeFiles/*/build.make 2>/dev/null | head -n 1)
[ -n "$flags" ] || { echo "$0: no target in $build compiles $source" >&2; exit 2; }
flags=$(dirname "$flags")/flags.make
compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
field() { sed -n "s/^$1 = //p" "$flags"; }
object=$(mktemp --suffix=.o)
log=$(mktemp)
trap 'rm -f "$object" "$log"' EXIT
# shellcheck disable=SC2046
if ! (cd "$build" && "$compiler" $(field CXX_DEFINES) $(field CXX_INCLUDES) $(field CXX_FLAGS) \
  -Xptxas -v -c "$source" -o "$object") > "$log" 2>&1; then
  cat "$log" >&2
  echo "$0: the compile failed (is $build a build of this tree?)" >&2
  exit 1
fi
awk -v pattern="$pattern" '
  /Compiling entry function/ { name = $0; sub(/.*function ./, "", name); sub(/. for .*/, "", name); keep = name ~ pattern }
  keep && /stack frame/ { frame = $1; spills = $5 + $9 }
  keep && /Used [0-9]+ registers/ {
    registers = $0; sub(/.*Used /, "", registers); sub(/ registers.*/, "", registers)
    print registers, frame, spills, name
    keep = 0
  }' "$log" | while read -r registers frame spills name; do
  # The kernel's own function, from the demangled name of its launch wrapper.
  label=$(echo "$name" | c++filt | grep -oE 'otfgp::([A-Za-z_][A-Za-z0-9_]*::|\(anonymous namespace\)::)*[A-Za-z_][A-Za-z0-9_]*' | grep -vE '::(View|B2Basis)$' | head -n 1)
  printf '%4d registers  %6d B stack  %4d B spilled  %s\n' "$registers" "$frame" "$spills" "${label:-$name}"
done
