// The one table of oracle kinds: adding an oracle is one file plus one line here.
#include <functional>
#include <utility>

#include "otfgp/oracle/command_oracle.hpp"
#include "otfgp/oracle/cp2k_oracle.hpp"
#include "otfgp/oracle/lammps_oracle.hpp"
#include "otfgp/oracle/oracle.hpp"
#include "otfgp/oracle/potential_oracle.hpp"
#include "otfgp/oracle/qe_oracle.hpp"

namespace otfgp::oracle {

namespace {

using Factory =
    std::function<std::unique_ptr<Oracle>(const ConfigSection&, const std::filesystem::path&)>;

const std::vector<std::pair<std::string, Factory>>& factories() {
  static const std::vector<std::pair<std::string, Factory>> table = {
      {"potential", make_potential_oracle}, {"qe", make_qe_oracle},
      {"cp2k", make_cp2k_oracle},           {"lammps", make_lammps_oracle},
      {"command", make_command_oracle},
  };
  return table;
}

}  // namespace

const char* failure_kind_name(FailureKind kind) {
  switch (kind) {
    case FailureKind::timeout:
      return "timeout";
    case FailureKind::nonzero_exit:
      return "non-zero exit";
    case FailureKind::unparsable_output:
      return "unparsable output";
    case FailureKind::not_converged:
      return "not converged";
  }
  return "unknown";
}

std::vector<std::string> oracle_kinds() {
  std::vector<std::string> kinds;
  for (const auto& entry : factories()) kinds.push_back(entry.first);
  return kinds;
}

std::unique_ptr<Oracle> make_oracle(const ConfigSection& section,
                                    const std::filesystem::path& base_dir) {
  const std::string kind = section.choice("kind", oracle_kinds());
  for (const auto& [name, factory] : factories())
    if (name == kind) return factory(section, base_dir);
  section.fail("kind", "unknown oracle kind");  // unreachable: choice() checked it
}

}  // namespace otfgp::oracle
