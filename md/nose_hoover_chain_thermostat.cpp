// The Nosé–Hoover-chain atom thermostat ("nose-hoover-chain"; keys damping,
// chain_length, chain_steps): the chain of nose_hoover_chain.hpp driven by the
// atoms' kinetic energy. At the start of a step its factor is folded into the
// half-kick kernel; at the end it scales the velocities itself.

#include <memory>

#include "otfgp/md/nose_hoover_chain.hpp"
#include "otfgp/md/thermostat.hpp"

namespace otfgp::md {

namespace {

class NoseHooverChainThermostat final : public Thermostat {
 public:
  NoseHooverChainThermostat(const ThermostatSettings& settings, const ThermostatContext& context)
      : chain_(settings.chain_length, settings.chain_steps, context.degrees_of_freedom, context.kT,
               settings.damping) {}

  ThermostatKick begin_step(AtomState&, long, double timestep, KineticTensor& kinetic,
                            Snapshot*) override {
    ThermostatKick kick;
    kick.velocity_scale = chain_.half_step(kinetic.kinetic_energy(), timestep);
    kinetic = kinetic.scaled(kick.velocity_scale);
    return kick;
  }

  void end_step(AtomState& state, long, double timestep, KineticTensor& kinetic) override {
    const double scale = chain_.half_step(kinetic.kinetic_energy(), timestep);
    scale_velocities(state, scale);
    kinetic = kinetic.scaled(scale);
  }

  double energy() const override { return chain_.energy(); }

  void save_state(IntegratorVariables& variables) const override {
    variables["thermostat_chain_positions"] = chain_.positions();
    variables["thermostat_chain_velocities"] = chain_.velocities();
  }

  void restore_state(
      const std::function<const std::vector<double>&(const std::string&)>& get) override {
    chain_.set_state(get("thermostat_chain_positions"), get("thermostat_chain_velocities"));
  }

 private:
  NoseHooverChain chain_;
};

}  // namespace

ThermostatKind nose_hoover_chain_thermostat() {
  ThermostatKind kind;
  kind.name = "nose-hoover-chain";
  kind.keys = {"chain_length", "chain_steps"};
  kind.read_keys = [](ConfigSection& section, ThermostatSettings& settings) {
    settings.chain_length = static_cast<int>(section.integer("chain_length", 3));
    settings.chain_steps = static_cast<int>(section.integer("chain_steps", 1));
    if (settings.chain_length < 1 || settings.chain_length > 20)
      section.fail("chain_length", "must be between 1 and 20");
    if (settings.chain_steps < 1 || settings.chain_steps > 100)
      section.fail("chain_steps", "must be between 1 and 100");
  };
  kind.write_keys = [](const ThermostatSettings& settings) {
    return std::vector<std::pair<std::string, std::string>>{
        {"chain_length", std::to_string(settings.chain_length)},
        {"chain_steps", std::to_string(settings.chain_steps)}};
  };
  kind.make = [](const ThermostatSettings& settings, const ThermostatContext& context) {
    return std::make_unique<NoseHooverChainThermostat>(settings, context);
  };
  return kind;
}

}  // namespace otfgp::md
