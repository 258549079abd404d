#!/usr/bin/env bash
# Build-time figures of docs/BENCHMARKS.md, "Build time". Two modes:
#   bench/build_time.sh headers [KOKKOS_OPENMP_PREFIX] [KOKKOS_CUDA_PREFIX]
#     seconds to compile a file that only includes Kokkos and Eigen, and one
#     that only includes Catch2: the fixed cost every file pays; with g++
#     against Debian's Kokkos, against a Kokkos 4 OpenMP install, and with its
#     nvcc_wrapper against a Kokkos CUDA install (nvcc from PATH or
#     /usr/local/cuda/bin).
#   bench/build_time.sh library [CMAKE OPTIONS…]
#     a cold build (no ccache) of the libraries and the CLI (target otfgp) in a
#     scratch directory, configured with the given options, e.g.
#       bench/build_time.sh library -G Ninja -DOTFGP_UNITY_BUILD=OFF -DOTFGP_PRECOMPILED_HEADERS=OFF
#     prints the wall and CPU seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

seconds() {  # wall seconds of a command, its output discarded
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || { echo "build_time: failed: $*" >&2; exit 1; }
  end=$(date +%s.%N)
  printf '%.1f' "$(echo "$end - $start" | bc)"
}

case "${1:-}" in
  headers)
    printf '#include <Kokkos_Core.hpp>\n#include <Eigen/Dense>\nint f(int x) { return x + 1; }\n' \
      > "$scratch/kokkos_eigen.cpp"
    printf '#include <catch2/catch.hpp>\nint f(int x) { return x + 1; }\n' > "$scratch/catch.cpp"
    common=(-std=c++17 -O3 -I/usr/include/eigen3 -c -o "$scratch/out.o")
    echo "g++, Debian Kokkos + Eigen: $(seconds g++ "${common[@]}" -I/usr/include/trilinos \
      "$scratch/kokkos_eigen.cpp") s"
    echo "g++, Catch2: $(seconds g++ "${common[@]}" "$scratch/catch.cpp") s"
    if [ -n "${2:-}" ]; then
      echo "g++, Kokkos OpenMP ($2) + Eigen: $(seconds g++ "${common[@]}" -fopenmp -I"$2/include" \
        "$scratch/kokkos_eigen.cpp") s"
    fi
    if [ -n "${3:-}" ]; then
      PATH=$PATH:/usr/local/cuda/bin
      echo "nvcc_wrapper, Kokkos CUDA ($3) + Eigen: $(seconds "$3/bin/nvcc_wrapper" "${common[@]}" \
        --expt-extended-lambda -I"$3/include" "$scratch/kokkos_eigen.cpp") s"
    fi
    ;;
  library)
    shift
    cmake -S . -B "$scratch/build" -DCMAKE_BUILD_TYPE=Release -DOTFGP_ENABLE_TESTS=OFF \
      -DOTFGP_ENABLE_BENCH=OFF "$@" >/dev/null
    start=$(date +%s.%N)
    cpu_before=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
    CCACHE_DISABLE=1 cmake --build "$scratch/build" -j"$(nproc)" --target otfgp >/dev/null
    end=$(date +%s.%N)
    # Children's user + system time (clock ticks) of this shell, waited for.
    cpu_after=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
    echo "libraries + CLI ($*): wall $(printf '%.0f' "$(echo "$end - $start" | bc)") s," \
      "CPU $(( (cpu_after - cpu_before) / $(getconf CLK_TCK) )) s"
    ;;
  *)
    echo "usage: bench/build_time.sh headers [KOKKOS_OPENMP_PREFIX] [KOKKOS_CUDA_PREFIX]" >&2
    echo "       bench/build_time.sh library [CMAKE OPTIONS…]" >&2
    exit 2
    ;;
esac
