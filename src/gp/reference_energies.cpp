#include "otfgp/gp/reference_energies.hpp"

#include <Eigen/Dense>
#include <algorithm>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"

namespace otfgp {

Eigen::VectorXd fit_reference_energies(const std::vector<Structure>& frames,
                                       const std::vector<int>& species) {
  const int n = static_cast<int>(species.size());
  std::vector<const Structure*> labelled;
  for (const auto& f : frames)
    if (f.energy) labelled.push_back(&f);
  if (labelled.empty()) return Eigen::VectorXd::Zero(n);
  Eigen::MatrixXd counts = Eigen::MatrixXd::Zero(labelled.size(), n);
  Eigen::VectorXd energies(labelled.size());
  for (std::size_t f = 0; f < labelled.size(); ++f) {
    for (int z : labelled[f]->numbers) {
      const auto it = std::find(species.begin(), species.end(), z);
      if (it == species.end())
        throw Error(std::string("reference energies: a training frame contains ") +
                    element(z).symbol + ", which is not among the model's species");
      counts(f, it - species.begin()) += 1.0;
    }
    energies[f] = *labelled[f]->energy;
  }
  // Minimum-norm least squares, well defined for rank-deficient composition sets.
  return counts.completeOrthogonalDecomposition().solve(energies);
}

}  // namespace otfgp
