#pragma once
// An oracle labels a structure with energy (eV), forces (eV/Å) and stress
// (eV/Å³, ASE sign): DFT (Quantum ESPRESSO, CP2K), LAMMPS, any otfgp
// potential in process, or an external command exchanging extended XYZ.
// The on-the-fly loop and structure search call oracles through this
// interface only; `oracle.kind` in a config picks one from a name→factory
// table (make_oracle).

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "otfgp/core/config.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/structure.hpp"

namespace otfgp::oracle {

// Why a labelling attempt failed; the loop retries (with safer settings) or
// skips the frame, and logs the kind.
enum class FailureKind { timeout, nonzero_exit, unparsable_output, not_converged };
const char* failure_kind_name(FailureKind kind);

// A failed attempt on one structure; the run can go on without this frame.
// (A set-up problem — missing executable, pseudopotential, element — is a
// plain otfgp::Error from Oracle::check and stops the run before MD starts.)
class OracleFailure : public Error {
 public:
  OracleFailure(FailureKind kind, const std::string& message) : Error(message), kind_(kind) {}
  FailureKind kind() const { return kind_; }

 private:
  FailureKind kind_;
};

class Oracle {
 public:
  virtual ~Oracle() = default;
  // "qe", "cp2k", "lammps", "potential", "command".
  virtual std::string kind() const = 0;
  // Throws otfgp::Error, before any MD, when the oracle cannot label
  // structures of these species (atomic numbers): missing executable,
  // pseudopotential, basis set, parameter or element.
  virtual void check(const std::vector<int>& species) const = 0;
  // Throws otfgp::Error when the oracle cannot label this structure whatever
  // the call (cp2k: not periodic in all three directions), so that a run
  // refuses it up front rather than fail, or retry, at its frame.
  virtual void check_structure(const Structure& /*structure*/) const {}
  // Files whose contents decide the labels, by the config key that names them
  // ("pseudopotentials.Si"), resolved as the oracle reads them: a resumed run
  // compares their contents, not the path text (label_settings).
  virtual std::vector<std::pair<std::string, std::filesystem::path>> label_files() const {
    return {};
  }
  // For comparing the settings of a resumed run (with_label_defaults): the
  // label-deciding keys a config may leave out, with the values the oracle
  // then takes, given those `set` (key → value as label_settings writes them,
  // without "oracle."; QE's ecutrho follows ecutwfc) — so that a default
  // written out is no change — and an alias's canonical value (QE's
  // smearing: mv is marzari-vanderbilt).
  virtual std::map<std::string, std::string> label_defaults(
      const std::map<std::string, std::string>& /*set*/) const {
    return {};
  }
  virtual std::string canonical_label_value(const std::string& /*key*/,
                                            const std::string& value) const {
    return value;
  }
  // Labels `structure` (positions, cell, numbers, pbc are read; labels
  // ignored): returns a copy with energy, forces and stress set. Scratch
  // files go under `workdir` (created if missing; the caller removes or
  // keeps it). `attempt` is 0 for the first try, 1 for the retry with safer
  // settings (more SCF iterations, lower mixing). Throws OracleFailure.
  virtual Structure label(const Structure& structure, const std::filesystem::path& workdir,
                          int attempt) = 0;
};

// Reads the `oracle:` section (its keys depend on `kind`; docs/oracles.md),
// relative paths resolved against `base_dir` (the config file's folder).
std::unique_ptr<Oracle> make_oracle(const ConfigSection& section,
                                    const std::filesystem::path& base_dir);
// Kinds known to make_oracle, for help texts and error messages.
std::vector<std::string> oracle_kinds();

}  // namespace otfgp::oracle
