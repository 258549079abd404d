// The name → factory table behind make_potential() (otfgp/gp/potential_registry.hpp).

#include "otfgp/gp/potential_registry.hpp"

#include "otfgp/core/error.hpp"
#include "otfgp/core/spec_arguments.hpp"

// Adding a potential: its own file defines
//   std::unique_ptr<Potential> make_NAME(const std::string& arguments,
//                                        const std::filesystem::path& config_dir)
// in namespace otfgp (config_dir: see make_potential), and one line here names it. The list both
// declares the factories and fills the table, so no second list can fall out of step. One
// registration per line, whatever clang-format would pack together.
// clang-format off
#define OTFGP_POTENTIALS(REGISTER)                   \
  REGISTER("lj", make_lennard_jones)                 \
  REGISTER("sw", make_stillinger_weber)              \
  REGISTER("tersoff", make_tersoff)                  \
  REGISTER("eam", make_eam)                          \
  REGISTER("eam/alloy", make_eam_alloy)              \
  REGISTER("eam/fs", make_eam_fs)                    \
  REGISTER("buck", make_buckingham_coulomb)          \
  REGISTER("zbl", make_zbl)                          \
  REGISTER("gp", make_gp_model)                      \
  /* every line above ends in a backslash; add new ones above this comment */
// clang-format on

namespace otfgp {

#define OTFGP_DECLARE_FACTORY(name, factory)                       \
  std::unique_ptr<Potential> factory(const std::string& arguments, \
                                     const std::filesystem::path& config_dir);
OTFGP_POTENTIALS(OTFGP_DECLARE_FACTORY)
#undef OTFGP_DECLARE_FACTORY

namespace {

struct Registration {
  const char* name;
  std::unique_ptr<Potential> (*make)(const std::string& arguments,
                                     const std::filesystem::path& config_dir);
};

#define OTFGP_REGISTRATION(name, factory) Registration{name, factory},
constexpr Registration registry[] = {OTFGP_POTENTIALS(OTFGP_REGISTRATION)};
#undef OTFGP_REGISTRATION

}  // namespace

std::vector<std::string> potential_names() {
  std::vector<std::string> names;
  for (const auto& entry : registry) names.emplace_back(entry.name);
  return names;
}

std::unique_ptr<Potential> make_potential(const std::string& spec) {
  return make_potential(spec, std::filesystem::path());
}

std::unique_ptr<Potential> make_potential(const std::string& spec,
                                          const std::filesystem::path& config_dir) {
  const auto [name, arguments] = split_spec(spec);
  for (const auto& entry : registry)
    if (name == entry.name) return entry.make(arguments, config_dir);
  std::string known;
  for (const auto& entry : registry) known += (known.empty() ? "" : ", ") + std::string(entry.name);
  throw Error("unknown potential '" + name + "' in spec '" + spec + "' (known: " + known + ")");
}

}  // namespace otfgp
