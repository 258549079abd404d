#pragma once
// The check of every target pressure a user gives (GPa): relax and hull -P,
// search's pressure, md's barostat.pressure, otf stage pressures. A number of
// bar, kbar or pascals typed as GPa is the likely mistake, so one limit and
// one wording for all of them.

#include <optional>
#include <string>

namespace otfgp {

class ConfigSection;

// Throws otfgp::Error "<source>: the target pressure …" unless `pressure`
// (GPa) is finite and below ±1e4 GPa: beyond, a cell collapses or blows up
// within a few steps, and enthalpies swamp every energy.
void check_target_pressure(double pressure, const std::string& source);

// check_target_pressure, and a warning "<source>: …" above 1000 GPa (a value
// in kbar or bar is likelier than a few TPa): for what a user gives, once per
// value. `source` names it: "-P/--pressure", a config key.
void check_given_pressure(double pressure, const std::string& source);

// The number at `key` (GPa; `fallback` when absent), checked by
// check_given_pressure naming the file, line and key.
double read_target_pressure(const ConfigSection& section, const std::string& key,
                            std::optional<double> fallback = std::nullopt);

}  // namespace otfgp
