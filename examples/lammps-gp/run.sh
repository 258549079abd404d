#!/usr/bin/env bash
# Runs a GP trained by examples/quickstart inside LAMMPS on two MPI ranks.
#   examples/lammps-gp/run.sh [BUILD_DIR]       (after scripts/build otfgp otfgp-lammps)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
model="$here/../quickstart/out/otf/model.h5"
[[ -f "$model" ]] || "$here/../quickstart/run.sh" "$build"
mkdir -p "$here/out"
cd "$here/out"   # log.lammps and dump.lammpstrj land here
mpirun --oversubscribe $([[ $(id -u) == 0 ]] && echo --allow-run-as-root) -np 2 \
  "$build/src/lammps/otfgp-lammps" -in ../in.lmp --potential "gp:$model" --fix gp --types Si \
  --std-every 10
