#pragma once
// The name → factory table of every potential, analytic and GP alike. It sits
// at the top of the gp layer because it must build "gp:" potentials; the
// potentials layer below knows nothing of it (docs/architecture.md).

#include <memory>
#include <string>
#include <vector>

#include "otfgp/potentials/potential.hpp"

namespace otfgp {

// Creates a potential from "name:arguments" (see docs/potentials.md), e.g.
// "lj:eps=0.0104,sigma=3.4,rc=8.5", "sw:/usr/share/lammps/potentials/Si.sw".
std::unique_ptr<Potential> make_potential(const std::string& spec);
// Names known to make_potential, for help texts and error messages.
std::vector<std::string> potential_names();

}  // namespace otfgp
