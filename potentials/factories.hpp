#pragma once
// One factory per potential file; registry.cpp lists them by name.

#include <memory>
#include <string>

#include "otfgp/potential.hpp"

namespace otfgp {

std::unique_ptr<Potential> make_lennard_jones(const std::string& arguments);
std::unique_ptr<Potential> make_stillinger_weber(const std::string& arguments);
std::unique_ptr<Potential> make_tersoff(const std::string& arguments);

}  // namespace otfgp
