#pragma once
// The GP potentials' short-range repulsion: ZBL (potentials/zbl.hpp) that
// acts only where the model has no data. Per species pair it is switched on
// below (1 − novelty_margin) × the shortest distance of that pair in the
// training frames — the distance below which an atom is flagged novel — and
// reaches the full ZBL repulsion at 0.8 × that distance. Every training
// distance lies beyond the switch, so the repulsion leaves the fit and every
// prediction inside the data unchanged; it keeps relaxations and MD from
// collapsing into the region where the GP extrapolates (docs/gp.md,
// "Short-range repulsion").

#include <memory>
#include <vector>

#include <Eigen/Dense>

#include "otfgp/potentials/potential.hpp"

namespace otfgp {

// species: atomic numbers in the order of shortest's indices; a pair never
// seen (+∞) is switched on at `cutoff`. nullptr for an empty `shortest`.
std::unique_ptr<Potential> novelty_repulsion(const std::vector<int>& species,
                                             const Eigen::MatrixXd& shortest, double margin,
                                             double cutoff);

}  // namespace otfgp
