#pragma once
// The settings of an `oracle:` section that decide its labels, for a resumed
// run (otf, label) to refuse mixing labels of other settings into one model or
// file: "oracle.KEY: VALUE" lines sorted by key, nested maps as KEY.SUB,
// numbers normalised (16 and 16.0 are one value). Left out is what only runs
// the program or steers its SCF to the same answer, so that a run stopped by a
// broken set-up can be fixed and resumed: `command` (except for the `command`
// kind, where it is the calculation), `timeout`, `environment`, `pseudo_dir`,
// `data_dir`, SCF mixing, iteration limits and convergence thresholds, and
// QE's `input.electrons` namelist.

#include <string>

#include "otfgp/core/config.hpp"
#include "otfgp/oracle/oracle.hpp"

namespace otfgp::oracle {

// `made`: the oracle made from `section`; the keys of its label_files() get the
// FNV-1a fingerprint of the file's content instead of the path text (a moved
// file resumes; another file under the same name, or in another pseudo_dir,
// does not).
std::string label_settings(const ConfigSection& section, const Oracle& made);

// "KIND-fnv1a64-HEX" of label_settings: what a labelled frame records (one word,
// an extended-XYZ info value that needs no quotes).
std::string label_fingerprint(const ConfigSection& section, const Oracle& made);

}  // namespace otfgp::oracle
