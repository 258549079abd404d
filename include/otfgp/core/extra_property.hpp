#pragma once
// Per-atom columns beyond species, positions and forces (extended XYZ's extra
// Properties entries such as "tags:I:1", "initial_magmoms:R:1", "move_mask:L:3").
// Readers keep them verbatim in Structure::extra_properties; these functions let
// otfgp add its own real-valued columns (a per-atom "uncertainty" from `eval`)
// and read numeric ones back.

#include <Eigen/Core>
#include <string>
#include <string_view>
#include <vector>

#include "otfgp/core/structure.hpp"

namespace otfgp {

// The column called `name`, or nullptr.
const ExtraProperty* find_extra_property(const Structure& structure, std::string_view name);

// Adds the column, or replaces one of the same name, with one row per atom and
// one column per entry (atoms × columns), type R; values are written so that
// they read back exactly. Throws otfgp::Error when the row count is not the atom
// count or the name is not usable (see check_extra_property_name).
void set_real_property(Structure& structure, const std::string& name,
                       const Eigen::MatrixXd& values);
// One value per atom (a single column, e.g. "uncertainty:R:1").
void set_real_property(Structure& structure, const std::string& name,
                       const std::vector<double>& values);

// The values of a column of type R or I as an atoms × columns matrix; throws
// otfgp::Error naming the column when it is missing or not numeric.
Eigen::MatrixXd real_property(const Structure& structure, std::string_view name);

// Removes the column; false when there was none.
bool remove_extra_property(Structure& structure, std::string_view name);

// Throws otfgp::Error unless `name` can stand in an extended XYZ Properties
// string: not empty, no ':', whitespace, quotes or '=', and not one of the names
// the readers interpret themselves (species, pos, Z, forces and ASE's aliases
// symbols, positions, numbers).
void check_extra_property_name(std::string_view name);

}  // namespace otfgp
