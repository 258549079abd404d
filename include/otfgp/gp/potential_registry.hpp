#pragma once
// The name → factory table of every potential, analytic and GP alike. It sits
// at the top of the gp layer because it must build "gp:" potentials; the
// potentials layer below knows nothing of it (docs/architecture.md).

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "otfgp/potentials/potential.hpp"

namespace otfgp {

// Creates a potential from "name:arguments" (see docs/potentials.md), e.g.
// "lj:eps=0.0104,sigma=3.4,rc=8.5", "sw:/usr/share/lammps/potentials/Si.sw".
std::unique_ptr<Potential> make_potential(const std::string& spec);
// The same for a spec read from a config file: every relative file the spec
// names ("eam:myCu.eam,Ni=myNi.eam", "buck:./my.buck,alpha=0.2",
// "gp:model.h5") is taken from `config_dir`, the config's folder, when it is
// there; a name with a folder part always is (file_beside_config,
// core/spec_arguments.hpp). A bare name that is not there is looked up as
// make_potential does (the working directory, then the parameter folders),
// and the error then says the config's folder was searched too. An empty
// config_dir: make_potential(spec).
std::unique_ptr<Potential> make_potential(const std::string& spec,
                                          const std::filesystem::path& config_dir);
// Names known to make_potential, for help texts and error messages.
std::vector<std::string> potential_names();

}  // namespace otfgp
