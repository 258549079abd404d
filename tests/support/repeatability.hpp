#pragma once
// How exactly two runs of the same input repeat on the backend the tests were
// built for. Kokkos Serial adds every sum in a fixed order, so runs (and a run
// stopped and resumed from a restart file) repeat bit for bit, and the tests
// demand exactly that. On OpenMP and CUDA the neighbour list's cell binning
// places atoms with atomics and forces are scattered with per-thread copies
// or atomics, so the order of the floating-point sums depends on the thread
// schedule: the runs agree to rounding at first, and the dynamics (chaotic)
// amplifies that over hundreds of steps. There the tests accept a relative
// difference of `repeat_tolerance()`.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "otfgp/core/types.hpp"
#include "otfgp/gp/gp_batched_force.hpp"

namespace otfgp::testing {

inline constexpr bool deterministic_backend() {
  return std::is_same<ExecSpace, Kokkos::Serial>::value;
}

// The largest team of threads a team kernel may take on this backend, at most
// `cap`: 1 on Serial, the threads on OpenMP. The team tests run a kernel's
// GPU-team form with it, capped at 32: a warp, the team a GPU's batched GP
// kernels run (scripts/gpu-check runs these tests on a GPU).
inline int largest_team_size(int cap) {
  return std::min(cap, gp_batched::largest_team_size());
}

// 0 on Serial (bitwise); on threaded backends, relative to max(1, |value|).
inline double repeat_tolerance() {
  return deterministic_backend() ? 0.0 : 1e-6;
}

inline bool repeats(double a, double b) {
  if (deterministic_backend()) return a == b;
  return std::abs(a - b) <= repeat_tolerance() * std::max({1.0, std::abs(a), std::abs(b)});
}

template <class A, class B>
bool repeats(const Eigen::MatrixBase<A>& a, const Eigen::MatrixBase<B>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Eigen::Index i = 0; i < a.rows(); ++i)
    for (Eigen::Index j = 0; j < a.cols(); ++j)
      if (!repeats(double(a(i, j)), double(b(i, j)))) return false;
  return true;
}

inline bool repeats(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k)
    if (!repeats(a[k], b[k])) return false;
  return true;
}

// Two texts (output files): equal on Serial; elsewhere the same words, where
// words that read as numbers may differ by the tolerance.
inline bool text_repeats(const std::string& a, const std::string& b) {
  if (deterministic_backend()) return a == b;
  auto split = [](const std::string& text) {
    std::string spaced = text;
    for (char& c : spaced)
      if (c == '"' || c == '=') c = ' ';
    std::istringstream in(spaced);
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    return words;
  };
  const std::vector<std::string> wa = split(a), wb = split(b);
  if (wa.size() != wb.size()) return false;
  for (std::size_t k = 0; k < wa.size(); ++k) {
    if (wa[k] == wb[k]) continue;
    char* end_a = nullptr;
    char* end_b = nullptr;
    const double x = std::strtod(wa[k].c_str(), &end_a), y = std::strtod(wb[k].c_str(), &end_b);
    if (*end_a != '\0' || *end_b != '\0' || !repeats(x, y)) return false;
  }
  return true;
}

}  // namespace otfgp::testing
