// The name → factory table behind make_potential() (otfgp/potentials/potential.hpp).

#include "factories.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/spec_arguments.hpp"

namespace otfgp {

namespace {

struct Registration {
  const char* name;
  std::unique_ptr<Potential> (*make)(const std::string& arguments);
};

// Adding a potential: one line here and its factory in factories.hpp.
// One registration per line, whatever clang-format would pack together.
// clang-format off
constexpr Registration registry[] = {
    {"lj", make_lennard_jones},
    {"sw", make_stillinger_weber},
    {"tersoff", make_tersoff},
    {"eam", make_eam},
    {"eam/alloy", make_eam_alloy},
    {"eam/fs", make_eam_fs},
    {"buck", make_buckingham_coulomb},
    {"gp", make_gp_model},
};
// clang-format on

}  // namespace

std::vector<std::string> potential_names() {
  std::vector<std::string> names;
  for (const auto& entry : registry) names.emplace_back(entry.name);
  return names;
}

std::unique_ptr<Potential> make_potential(const std::string& spec) {
  const auto [name, arguments] = split_spec(spec);
  for (const auto& entry : registry)
    if (name == entry.name) return entry.make(arguments);
  std::string known;
  for (const auto& entry : registry) known += (known.empty() ? "" : ", ") + std::string(entry.name);
  throw Error("unknown potential '" + name + "' in spec '" + spec + "' (known: " + known + ")");
}

}  // namespace otfgp
