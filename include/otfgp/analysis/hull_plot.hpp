#pragma once
// PNG plots of a hull study, drawn by gnuplot (pngcairo): the data and the
// script go to a temporary folder, gnuplot runs there, and the finished image
// is moved into place. A plot that cannot be made is a logged warning and a
// false return, never lost data (the JSON and CSV hold everything).
//   binary:  formation enthalpy vs composition, the hull through the stable
//            phases, entries above it coloured by e_above_hull
//   ternary: Gibbs triangle with stable phases, tie lines (hull facets) and
//            the other entries coloured by e_above_hull
//   sweep:   e_above_hull of every phase vs pressure, and the pressure ranges
//            in which each phase is stable with the transition pressures

#include <filesystem>
#include <string>

#include "otfgp/analysis/hull_report.hpp"

namespace otfgp {

// The hull at grid pressure k. Only two- and three-component hulls have a
// plot; others return false with a note in the log.
bool plot_hull(const HullStudy& study, std::size_t k, const std::filesystem::path& png);
// The first hull and the re-checked one side by side at grid pressure k.
bool plot_recheck(const HullStudy& study, std::size_t k, const std::filesystem::path& png);
// Stable phases vs pressure (needs at least two pressures).
bool plot_sweep(const HullStudy& study, const std::filesystem::path& png);

}  // namespace otfgp
