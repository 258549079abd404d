#pragma once
// Per-species reference energies e_s, subtracted from total energies before the
// GP fits the rest, so that frames of different compositions share one GP and
// energies stay comparable across compositions (hulls). Fitted by least squares
// E_f ≈ Σ_s n_fs e_s over the frames with an energy; when the compositions do
// not span every species direction (e.g. BaO, RhO₂, BaRhO₃ and Ba₂RhO₄ all lie
// in the plane of BaO and RhO₂) the minimum-norm solution is taken, which
// leaves energies of every composition in that span unchanged.

#include <Eigen/Core>
#include <vector>

#include "otfgp/core/structure.hpp"

namespace otfgp {

// One value per entry of `species` (atomic numbers). Frames without an energy
// are ignored; with none at all the result is zero.
Eigen::VectorXd fit_reference_energies(const std::vector<Structure>& frames,
                                       const std::vector<int>& species);

}  // namespace otfgp
