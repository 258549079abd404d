#pragma once
// Which atoms of a frame become sparse environments of the GP:
//   all        every atom (near-duplicates are still skipped by SparseGp);
//   random     `count` atoms drawn at random (or `total` over the whole set when training offline);
//   uncertain  the `count` atoms with the largest predicted uncertainty;
//   threshold  every atom whose normalised standard deviation exceeds `threshold`
//              (at most `count` of them, the most uncertain first, when count > 0).

#include <Eigen/Core>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace otfgp {

enum class SparseSelectionMethod { all, random, uncertain, threshold };

struct SparseSelection {
  SparseSelectionMethod method = SparseSelectionMethod::random;
  int count = 10;          // atoms per frame (random, uncertain; cap for threshold when > 0)
  int total = 0;           // random only, offline: atoms over all frames instead of per frame
  double threshold = 0.1;  // normalised standard deviation (dimensionless)
  std::uint64_t seed = 1;
};

// "all", "random", "uncertain", "threshold"; throws otfgp::Error naming the choices otherwise.
SparseSelectionMethod parse_sparse_selection_method(const std::string& name);
const char* sparse_selection_method_name(SparseSelectionMethod method);
bool needs_uncertainty(SparseSelectionMethod method);

// Atoms of one frame of `natoms` atoms, in the order they should be added.
// `uncertainty` (per-atom normalised std) is required for uncertain and threshold.
std::vector<int> select_sparse_atoms(const SparseSelection& selection, int natoms,
                                     const Eigen::VectorXd& uncertainty, std::mt19937_64& rng);

}  // namespace otfgp
