#pragma once
// A hull study — the phases, their hulls over a pressure grid, the transitions
// and an optional re-check with a second energy model — and its outputs: JSON,
// CSV and a table for the terminal.

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "otfgp/analysis/hull_sweep.hpp"
#include "otfgp/potentials/evaluate.hpp"

namespace otfgp {

struct StudyPhase {
  SweepPhase phase;                 // id, composition, H and V per pressure, std
  std::string source;               // "phases.csv line 4", "BaRhO3.vasp"
  std::string origin;               // how its energies came about, e.g. "table: E and V fixed"
  Eigen::VectorXd energy_per_atom;  // eV/atom per pressure (NaN: unknown)
  std::vector<std::string> notes;   // e.g. "relaxation at 10 GPa did not converge"
  // Per pressure (empty, or one per grid pressure): why the phase is left out
  // of that pressure's hull ("collapsed: …" for a relaxed cell), else empty.
  std::vector<std::string> left_out;
  // Per pressure, of the structure relaxed there with a potential that has
  // an uncertainty (the GP): its largest per-atom std and novel atoms. Empty
  // for table rows, labelled frames and potentials without one.
  std::vector<std::optional<Extrapolation>> extrapolation;
};

// The extrapolation of phase `phase` at grid pressure k, when it has one.
const std::optional<Extrapolation>& extrapolation_at(const StudyPhase& phase, std::size_t k);

struct RecheckResult {
  std::string spec;     // the second model
  double within = 0.0;  // eV/atom: entries this close to the first hull were re-checked
  std::vector<std::vector<char>> rechecked;  // [pressure][phase]
  Eigen::MatrixXd energy_per_atom;    // phases × pressures, eV/atom (NaN where not re-checked)
  Eigen::MatrixXd enthalpy_per_atom;  // phases × pressures, eV/atom
  // phases × pressures, Å³/atom: the second model's (relaxed with it, or the
  // first model's structure as it is)
  Eigen::MatrixXd volume_per_atom;
  std::vector<Hull> hulls;  // per pressure, over the re-checked entries only
};

struct HullStudy {
  std::vector<StudyPhase> phases;
  Sweep sweep;
  std::optional<RecheckResult> recheck;
};

// Per pressure, per entry: id, formula, energies, formation enthalpy,
// e_above_hull, decomposition (ids and atom fractions), stable, probability;
// the transitions; the re-check hulls and the entries whose stability changed.
nlohmann::json study_to_json(const HullStudy& study);
void write_study_json(const HullStudy& study, std::ostream& out);
// One row per (model, pressure, entry).
void write_study_csv(const HullStudy& study, std::ostream& out);
// The readable summary: the hull table at one pressure (or the first and last
// of a sweep), stable ranges and transitions, and the two hulls side by side.
std::string study_text(const HullStudy& study);

// "0.6 BaRhO3 + 0.4 BaO" with ids.
std::string decomposition_text(const Hull& hull, const std::vector<StudyPhase>& phases,
                               std::size_t entry);

}  // namespace otfgp
