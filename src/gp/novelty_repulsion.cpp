#include "otfgp/gp/novelty_repulsion.hpp"

#include <algorithm>

#include "otfgp/potentials/zbl.hpp"

namespace otfgp {

std::unique_ptr<Potential> novelty_repulsion(const std::vector<int>& species,
                                             const Eigen::MatrixXd& shortest, double margin,
                                             double cutoff) {
  if (shortest.size() == 0) return nullptr;
  // Below 0.1 Å no training frame is meaningful; keeps the switch well defined.
  constexpr double smallest_outer = 0.1;
  // Full ZBL from 0.8 × the switch-on distance inwards.
  constexpr double inner_fraction = 0.8;
  Eigen::MatrixXd outer = shortest;
  for (Eigen::Index k = 0; k < outer.size(); ++k)
    outer(k) = std::max(smallest_outer, std::min((1.0 - margin) * shortest(k), cutoff));
  return make_zbl_repulsion(species, outer, inner_fraction);
}

}  // namespace otfgp
