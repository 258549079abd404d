#pragma once
// The overlap check every structure passes before it is evaluated or moved
// (eval, relax, md, the on-the-fly loop).

#include <optional>

#include "otfgp/core/atom_state.hpp"

namespace otfgp {

// Throws otfgp::Error naming the closest pair when two atoms (any periodic
// images) are closer than `min_distance` (Å), or, when that is not given,
// closer than half the sum of their covalent radii.
void check_atom_distances(AtomState& state, std::optional<double> min_distance);

}  // namespace otfgp
