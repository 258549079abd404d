#include "otfgp/gp/sparse_selection.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "otfgp/core/error.hpp"

namespace otfgp {

SparseSelectionMethod parse_sparse_selection_method(const std::string& name) {
  if (name == "all") return SparseSelectionMethod::all;
  if (name == "random") return SparseSelectionMethod::random;
  if (name == "uncertain") return SparseSelectionMethod::uncertain;
  if (name == "threshold") return SparseSelectionMethod::threshold;
  throw Error("unknown sparse selection method '" + name +
              "' (choose all, random, uncertain or threshold)");
}

const char* sparse_selection_method_name(SparseSelectionMethod method) {
  switch (method) {
    case SparseSelectionMethod::all:
      return "all";
    case SparseSelectionMethod::random:
      return "random";
    case SparseSelectionMethod::uncertain:
      return "uncertain";
    case SparseSelectionMethod::threshold:
      return "threshold";
  }
  return "?";
}

bool needs_uncertainty(SparseSelectionMethod method) {
  return method == SparseSelectionMethod::uncertain || method == SparseSelectionMethod::threshold;
}

std::vector<int> select_sparse_atoms(const SparseSelection& selection, int natoms,
                                     const Eigen::VectorXd& uncertainty, std::mt19937_64& rng) {
  std::vector<int> atoms(natoms);
  std::iota(atoms.begin(), atoms.end(), 0);
  if (selection.method == SparseSelectionMethod::all) return atoms;
  // Shuffled first, so that ties (a model with no sparse set yet is equally
  // unsure of every atom) are broken at random rather than by atom order.
  std::shuffle(atoms.begin(), atoms.end(), rng);
  if (selection.method == SparseSelectionMethod::random) {
    atoms.resize(std::min(natoms, std::max(selection.count, 0)));
    return atoms;
  }
  if (uncertainty.size() != natoms)
    throw std::invalid_argument("select_sparse_atoms: one uncertainty per atom needed");
  std::stable_sort(atoms.begin(), atoms.end(),
                   [&](int a, int b) { return uncertainty[a] > uncertainty[b]; });
  if (selection.method == SparseSelectionMethod::threshold) {
    atoms.erase(std::find_if(atoms.begin(), atoms.end(),
                             [&](int a) { return !(uncertainty[a] > selection.threshold); }),
                atoms.end());
    if (selection.count > 0 && static_cast<int>(atoms.size()) > selection.count)
      atoms.resize(selection.count);
    return atoms;
  }
  atoms.resize(std::min(natoms, std::max(selection.count, 0)));
  return atoms;
}

}  // namespace otfgp
