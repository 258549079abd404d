#pragma once
// Hull phases from structures: labelled frames taken as they are, structures
// relaxed at every pressure of a grid, the re-check of the entries near the
// hull with a second energy model, and the sweep of a study over the grid.
// `otfgp hull`, the on-the-fly loop and structure search build their studies
// from these.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "otfgp/analysis/hull_report.hpp"
#include "otfgp/analysis/phase_table.hpp"
#include "otfgp/analysis/relax.hpp"
#include "otfgp/core/structure.hpp"
#include "otfgp/potentials/potential.hpp"

namespace otfgp {

// A structure input: its id, where it came from, and the structure itself.
struct StructureInput {
  std::string id;      // info "id" or "name", else the file stem (+ "_frame")
  std::string source;  // "BaRhO3.vasp", "si.xyz frame 2"
  Structure structure;
};

// Every frame of a structure file; throws otfgp::Error when it has none.
std::vector<StructureInput> read_structure_inputs(const std::filesystem::path& path);

// The standard deviation of a structure's energy per atom from its info key
// "std" (eV/atom), when present; throws otfgp::Error naming the source when
// it is not a non-negative number.
std::optional<double> std_per_atom(const StructureInput& input);

// A labelled frame (or a table row) with its E and V fixed at every pressure:
// H = E + PV. Throws otfgp::Error (naming the source) for a frame without an
// energy or, at a pressure other than zero, without a periodic cell.
StudyPhase phase_from_frame(const StructureInput& input, const std::vector<double>& pressures);
StudyPhase phase_from_record(const PhaseRecord& record, const std::vector<double>& pressures);

// Relaxation at each pressure of a grid. relax.pressure_gpa is overwritten by
// each grid pressure.
struct PressureRelaxation {
  RelaxOptions relax;
  std::filesystem::path relaxed_dir;  // when set, each relaxed structure goes here as
                                      // ID_<P>GPa.xyz (extended XYZ)
  bool recheck_follows = false;  // a re-check with a second model follows (the warnings' advice)
};

// Relaxes one structure at every grid pressure in turn, each from the previous
// result; appends the relaxed structures (one per pressure) to `relaxed`.
StudyPhase relaxed_phase(const StructureInput& input, Potential& potential,
                         const PressureRelaxation& options, const std::vector<double>& pressures,
                         std::vector<Structure>& relaxed);

struct RecheckOptions {
  double within = 0.0;         // eV/atom: re-check entries this close to the first hull
  bool relax = false;          // relax with the second model before evaluating
  RelaxOptions relax_options;  // when relaxing; pressure_gpa is each grid pressure
};

// Re-evaluates the entries within options.within of each pressure's hull with
// `potential` and builds the hulls over those entries. structures[i] holds the
// structures of phase i (one, or one per pressure), or nothing for a table row;
// every reference needs structures (otfgp::Error otherwise).
RecheckResult recheck_study(Potential& potential, const HullStudy& study,
                            const std::vector<std::optional<std::vector<Structure>>>& structures,
                            const HullOptions& hull_options, const RecheckOptions& options);

// Sweeps the study's phases over the pressure grid into study.sweep, with a
// warning for each entry left out of the first hull, and, when any phase has
// a standard deviation, samples the stability probabilities at each pressure.
void sweep_study(HullStudy& study, const std::vector<double>& pressures,
                 const SweepOptions& options, const SamplingOptions& sampling);

// "5GPa", "0.5GPa": the pressure tags of file names, one per pressure, with
// the fewest significant digits (at least 6) that keep them apart.
std::vector<std::string> pressure_tags(const std::vector<double>& pressures);

}  // namespace otfgp
