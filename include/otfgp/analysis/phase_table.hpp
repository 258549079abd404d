#pragma once
// Phases for a hull as they come in: a table row, a labelled frame or a
// relaxed structure, each with its energy per atom and, where known, its
// volume per atom (for H = E + PV) and standard deviation (for stability
// probabilities).
//
// Table files (CSV with a header line, or JSON: a list of objects or
// {"entries": [...]}) have the columns/keys
//   id                 optional, default "<formula>@<line>"; must be unique
//   formula            required, e.g. Ba2RhO4, (BaO)2; counts are those of the cell
//   energy             eV, total for the formula as written        } exactly one
//   energy_per_atom    eV/atom                                     }
//   volume             Å³, total for the formula as written        } optional, at
//   volume_per_atom    Å³/atom                                     } most one
//   std                eV/atom, one standard deviation of the energy (optional)
// Blank lines and lines starting with '#' are skipped in CSV. Empty cells,
// "nan" or JSON null leave a value out; a missing energy is NaN (the hull
// reports the entry and leaves it out).

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "otfgp/analysis/hull.hpp"
#include "otfgp/core/formula.hpp"
#include "otfgp/core/structure.hpp"

namespace otfgp {

struct PhaseRecord {
  std::string id;
  Composition composition;
  double energy_per_atom = 0.0;           // eV/atom (NaN: not available)
  std::optional<double> volume_per_atom;  // Å³/atom
  std::optional<double> std_per_atom;     // eV/atom
  std::string source;                     // "phases.csv line 4", "frames.xyz frame 2"
  std::optional<Structure> structure;     // for relaxation and re-checks
};

// Reads a CSV (.csv) or JSON (.json) table; throws otfgp::Error naming the file,
// line or entry and the column for any malformed content (unknown column, bad
// number, unparseable formula, duplicate id, both energy and energy_per_atom).
std::vector<PhaseRecord> read_phase_table(const std::filesystem::path& path);

// Enthalpy per atom H/N = E/N + P·V/N (eV/atom) at pressure_gpa. Throws
// otfgp::Error when the record has no volume and the pressure is not zero.
double enthalpy_per_atom(const PhaseRecord& record, double pressure_gpa);

// Hull entries at a pressure, one per record, same order.
std::vector<HullEntry> hull_entries_at(const std::vector<PhaseRecord>& records,
                                       double pressure_gpa);

// Throws otfgp::Error when two records share an id.
void check_unique_ids(const std::vector<PhaseRecord>& records);

}  // namespace otfgp
