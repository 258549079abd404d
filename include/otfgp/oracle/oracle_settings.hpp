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

namespace otfgp::oracle {

std::string label_settings(const ConfigSection& oracle);

// "KIND-fnv1a64-HEX" of label_settings: what a labelled frame records (one word,
// an extended-XYZ info value that needs no quotes).
std::string label_fingerprint(const ConfigSection& oracle);

}  // namespace otfgp::oracle
