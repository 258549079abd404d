#!/usr/bin/env bash
# The device-lambda check (scripts/check-device-lambdas.py) must fail on a
# KOKKOS_LAMBDA in a private or protected member function — defined in the
# class or out of line — and name each one, and must not flag the same kernels
# in public members, free functions or functors.
#   planted.sh SOURCE_DIR PYTHON3
set -euo pipefail
src=$1
python=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/include/otfgp/core" "$work/src/core"
cat > "$work/include/otfgp/core/planted.hpp" <<'HPP'
#pragma once
namespace otfgp {
class Planted {
  void hidden_by_default();  // class: private until an access label
 public:
  void fine();
  void inline_fine() { Kokkos::parallel_for(1, KOKKOS_LAMBDA(int) {}); }
 protected:
  void guarded(int n) const;
 private:
  // "public:" in a comment changes nothing
  void inline_hidden() {
    Kokkos::parallel_for(1, KOKKOS_LAMBDA(int) {});
  }
  struct Nested { int a; };
  double helper(double x) const;
};
struct Open {
  void open_fine();
 private:
  void open_hidden();
};
}  // namespace otfgp
HPP
cat > "$work/src/core/planted.cpp" <<'CPP'
#include "otfgp/core/planted.hpp"
namespace otfgp {
void Planted::hidden_by_default() { Kokkos::parallel_for(1, KOKKOS_LAMBDA(int) {}); }
void Planted::fine() { Kokkos::parallel_for(1, KOKKOS_LAMBDA(int) {}); }
void Planted::guarded(int n) const {
  const char* text = "KOKKOS_LAMBDA in a string is not code";
  (void)text;
  Kokkos::parallel_for(
      n, KOKKOS_LAMBDA(int) {});
}
double Planted::helper(double x) const { return x; }  // private, no kernel: fine
void Open::open_fine() { Kokkos::parallel_for(1, KOKKOS_LAMBDA(int) {}); }
void Open::open_hidden() { Kokkos::parallel_for(1, KOKKOS_CLASS_LAMBDA(int) {}); }
void free_kernel() { Kokkos::parallel_for(1, KOKKOS_LAMBDA(int) {}); }
}  // namespace otfgp
CPP
set +e
"$python" "$src/scripts/check-device-lambdas.py" "$work" > "$work/out.txt" 2>&1
rc=$?
set -e
cat "$work/out.txt"
[ "$rc" = 1 ] || { echo "FAIL: expected exit 1 on the planted tree, got $rc"; exit 1; }
expected="include/otfgp/core/planted.hpp:13: KOKKOS_LAMBDA in private member function Planted::inline_hidden
src/core/planted.cpp:3: KOKKOS_LAMBDA in private member function Planted::hidden_by_default
src/core/planted.cpp:9: KOKKOS_LAMBDA in protected member function Planted::guarded
src/core/planted.cpp:13: KOKKOS_LAMBDA in private member function Open::open_hidden"
got=$(grep ': KOKKOS_LAMBDA in' "$work/out.txt" | sed 's/ (nvcc.*//')
if [ "$got" != "$expected" ]; then
  echo "FAIL: expected exactly these findings:"
  echo "$expected"
  exit 1
fi
# The real tree is clean.
"$python" "$src/scripts/check-device-lambdas.py" "$src"
echo "planted device-lambda check: OK"
