// The name → thermostat table behind make_thermostat() (otfgp/md/thermostat.hpp).

#include "otfgp/core/error.hpp"
#include "otfgp/md/thermostat.hpp"

// Adding a thermostat: its own file defines
//   ThermostatKind KIND()
// in namespace otfgp::md (name, extra config keys, factory), and one line here
// names it. The list both declares the functions and fills the table.
// One registration per line, whatever clang-format would pack together.
// clang-format off
#define OTFGP_THERMOSTATS(REGISTER)              \
  REGISTER(langevin_thermostat)                  \
  REGISTER(nose_hoover_chain_thermostat)         \
  /* every line above ends in a backslash; add new ones above this comment */
// clang-format on

namespace otfgp::md {

#define OTFGP_DECLARE_KIND(kind) ThermostatKind kind();
OTFGP_THERMOSTATS(OTFGP_DECLARE_KIND)
#undef OTFGP_DECLARE_KIND

const std::vector<ThermostatKind>& thermostat_kinds() {
#define OTFGP_KIND(kind) kind(),
  static const std::vector<ThermostatKind> kinds = {OTFGP_THERMOSTATS(OTFGP_KIND)};
#undef OTFGP_KIND
  return kinds;
}

std::vector<std::string> thermostat_names() {
  std::vector<std::string> names;
  for (const auto& kind : thermostat_kinds()) names.push_back(kind.name);
  return names;
}

const ThermostatKind& find_thermostat(const std::string& name) {
  for (const auto& kind : thermostat_kinds())
    if (kind.name == name) return kind;
  std::string known;
  for (const auto& kind : thermostat_kinds()) known += (known.empty() ? "" : ", ") + kind.name;
  throw Error("unknown thermostat '" + name + "' (known: " + known + ")");
}

std::unique_ptr<Thermostat> make_thermostat(const ThermostatSettings& settings,
                                            const ThermostatContext& context) {
  if (settings.type == ThermostatType::none) return nullptr;
  return find_thermostat(settings.type.name()).make(settings, context);
}

ThermostatKick Thermostat::begin_step(AtomState&, long, double, KineticTensor&, Snapshot*) {
  throw Error("this thermostat has no host steps");
}

void Thermostat::end_step(AtomState&, long, double, KineticTensor&) {
  throw Error("this thermostat has no host steps");
}

void Thermostat::begin_step_on_device(AtomState&, long, double, const KineticView&, Snapshot*) {
  throw Error("this thermostat has no device steps");
}

void Thermostat::end_step_on_device(AtomState&, long, double, const KineticView&) {
  throw Error("this thermostat has no device steps");
}

}  // namespace otfgp::md
