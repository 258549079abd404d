#include "otfgp/oracle/potential_oracle.hpp"
#include "otfgp/gp/potential_registry.hpp"

#include <cmath>

#include "otfgp/core/environment_error.hpp"
#include "otfgp/core/file_fingerprint.hpp"
#include "otfgp/oracle/oracle_settings.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "otfgp/potentials/potential.hpp"

namespace otfgp::oracle {

namespace {

class PotentialOracle final : public Oracle {
 public:
  explicit PotentialOracle(std::unique_ptr<Potential> potential)
      : potential_(std::move(potential)) {}

  std::string kind() const override { return "potential"; }

  void check(const std::vector<int>& species) const override { potential_->bind(species); }

  std::vector<std::pair<std::string, std::filesystem::path>> label_files() const override {
    return named_files(potential_->parameter_files());
  }

  Structure label(const Structure& structure, const std::filesystem::path& /*workdir*/,
                  int /*attempt*/) override {
    const Evaluation evaluation = evaluate(*potential_, structure);
    if (!std::isfinite(evaluation.energy) || !evaluation.forces.allFinite())
      throw OracleFailure(FailureKind::unparsable_output,
                          "potential " + potential_->spec() + " gave non-finite energy or forces");
    Structure labelled = structure;
    attach_labels(labelled, evaluation);
    return labelled;
  }

 private:
  // Binding is cheap and stateless for the caller, so check() may rebind.
  mutable std::unique_ptr<Potential> potential_;
};

}  // namespace

std::unique_ptr<Oracle> make_potential_oracle(const ConfigSection& given,
                                              const std::filesystem::path& base_dir) {
  ConfigSection section = given;
  section.expect_keys({"kind", "potential"});
  const std::string spec = section.text("potential");
  std::unique_ptr<Potential> potential;
  try {
    potential = make_potential(spec, base_dir);
  } catch (const EnvironmentError&) {
    throw;  // not the config's fault
  } catch (const Error& error) {
    section.fail("potential", error.what());
  }
  section.finish();
  return std::make_unique<PotentialOracle>(std::move(potential));
}

}  // namespace otfgp::oracle
