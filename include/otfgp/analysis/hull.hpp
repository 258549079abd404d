#pragma once
// Convex hull of formation enthalpy over composition, any number of
// components: which phases are stable, how far above the hull the rest lie
// (eV/atom), and what they decompose into.
//
// Points are (x₂…x_k, ΔH) with x the atomic fractions of the k references and
// ΔH the formation energy per atom relative to them; the lower hull comes from
// qhull (libqhull_r). References are the elements by default or any set of
// linearly independent compositions (e.g. BaO and RhO₂ for the BaO–RhO₂ join);
// each reference is normalised to one atom, so every quantity stays per real
// atom (as in pymatgen's CompoundPhaseDiagram with normalised terminals).
// Energies are whatever the caller passes: total energy per atom at 0 GPa or
// enthalpy per atom H/N = (E + PV)/N at pressure P.

#include <Eigen/Core>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "otfgp/core/formula.hpp"

namespace otfgp {

// One phase: what it is made of and its energy per atom.
struct HullEntry {
  std::string id;                      // points back at the structure or table row
  Composition composition;             // any normalisation
  double energy_per_atom = 0.0;        // eV/atom (enthalpy per atom at the hull's pressure)
  std::optional<double> std_per_atom;  // eV/atom, one standard deviation of energy_per_atom
};

struct HullOptions {
  // Reference compositions (end members). Empty: the elements of the entries.
  std::vector<Composition> references;
};

// Part of a decomposition: an entry index and its fraction of the atoms.
struct DecompositionPart {
  std::size_t entry = 0;
  double fraction = 0.0;
};

struct HullEntryResult {
  bool included = false;        // false: left out, see exclusion
  std::string exclusion;        // why it was left out (outside the references' space, NaN energy)
  Eigen::VectorXd coordinates;  // atomic fractions of the references (sum 1)
  double formation_energy_per_atom = 0.0;        // eV/atom relative to the references
  double e_above_hull = 0.0;                     // eV/atom, ≥ 0
  std::vector<DecompositionPart> decomposition;  // stable phases, atom fractions summing to 1
  bool stable = false;                           // a vertex of the lower hull
  std::optional<std::size_t>
      duplicate_of;  // a lower (or earlier equal) entry of the same composition
  std::optional<double> stability_probability;  // from sample_stability()
};

struct Hull {
  std::vector<Composition> references;
  std::vector<std::size_t> reference_entries;  // the entry used for each reference (lowest energy)
  std::vector<HullEntryResult> entries;        // one per input entry, same order
  std::vector<std::size_t> stable;             // indices of stable entries, ascending
  std::vector<std::vector<std::size_t>>
      facets;  // lower-hull simplices as entry indices (tie lines)
  std::size_t num_components() const { return references.size(); }
};

// Throws otfgp::Error for unusable input: a reference without an entry (the
// message suggests terminal compounds that span the entries), references that
// are not independent, a negative or non-finite standard deviation, no entries.
// Entries outside the references' space or with a non-finite energy are kept in
// the result with included = false and the reason.
Hull compute_hull(const std::vector<HullEntry>& entries, const HullOptions& options = {});

struct SamplingOptions {
  int samples = 1000;
  std::uint64_t seed = 20240501;
};

// Probability that each included entry is on the hull when every energy is
// drawn independently from N(energy_per_atom, std_per_atom²) (entries without
// a standard deviation stay fixed). Entries more than 12 σ_max above the hull
// (σ_max the largest standard deviation) cannot reach it in any realistic draw
// and are given probability 0 without being sampled. Deterministic for a seed.
void sample_stability(Hull& hull, const std::vector<HullEntry>& entries,
                      const SamplingOptions& options = {});

// "BaO–RhO2" style label of the references, for messages and plots.
std::string references_label(const std::vector<Composition>& references);

}  // namespace otfgp
