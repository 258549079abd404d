#pragma once
// One factory per potential file; registry.cpp lists them by name.

#include <memory>
#include <string>

#include "otfgp/potentials/potential.hpp"

namespace otfgp {

std::unique_ptr<Potential> make_lennard_jones(const std::string& arguments);
std::unique_ptr<Potential> make_stillinger_weber(const std::string& arguments);
std::unique_ptr<Potential> make_tersoff(const std::string& arguments);
std::unique_ptr<Potential> make_eam(const std::string& arguments);
std::unique_ptr<Potential> make_eam_alloy(const std::string& arguments);
std::unique_ptr<Potential> make_eam_fs(const std::string& arguments);
std::unique_ptr<Potential> make_buckingham_coulomb(const std::string& arguments);
std::unique_ptr<Potential> make_gp_model(const std::string& arguments);

}  // namespace otfgp
