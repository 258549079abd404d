#pragma once
// The overlap check every structure passes before it is evaluated or moved
// (eval, relax, md, the on-the-fly loop).

#include <optional>
#include <string>

#include "otfgp/core/atom_state.hpp"

namespace otfgp {

// The closest pair of atoms (any periodic images) when it is closer than
// `min_distance` (Å), or, when that is not given, closer than half the sum of
// their covalent radii: "atoms 3 (B) and 17 (B) are 0.525 Å apart, closer than
// the minimum of 0.840 Å (half the sum of their covalent radii)". Nothing when
// no pair is.
struct CloseContact {
  std::string description;
  bool own_image = false;  // an atom and its own periodic image: the cell is too thin
};
std::optional<CloseContact> closest_contact(const AtomState& state,
                                            std::optional<double> min_distance);

// How many atoms have no other atom (or periodic image) within `cutoff` (Å): in
// a cell torn apart a potential sees nothing and reports zero force and stress.
int atoms_without_neighbour(const AtomState& state, double cutoff);

// Throws otfgp::Error with closest_contact's description (a broken structure).
void check_atom_distances(const AtomState& state, std::optional<double> min_distance);

}  // namespace otfgp
