#pragma once
// What every oracle that runs an external program shares: the `command`,
// `timeout` and `environment` keys, the check that the program exists, and a
// run that turns a timeout or a non-zero exit into an OracleFailure.

#include <array>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "otfgp/core/process.hpp"
#include "otfgp/oracle/oracle.hpp"

namespace otfgp::oracle {

struct ExternalCommand {
  std::vector<std::string> words;  // e.g. {"mpirun", "-np", "2", "pw.x"}
  std::optional<double> timeout;   // seconds per attempt; none: no limit
  std::map<std::string, std::string> environment;
  std::string key;  // the config key it came from, for messages ("oracle.command")
};

// Reads `command` (default `default_command`), `timeout` (seconds, > 0) and
// `environment` (a mapping of variable → a single value; others are config
// errors naming the key). The program runs in the
// oracle's working directory, so relative paths are made absolute against
// `base_dir`: the program when it contains a slash, any later word that
// names an existing file there (a script, a parameter file).
ExternalCommand read_external_command(const ConfigSection& section,
                                      const std::filesystem::path& base_dir,
                                      const std::string& default_command);

// Throws otfgp::Error naming the command and the config key when its program
// is not found; behind a launcher (mpirun, mpiexec, srun, env, nice, …) the
// launched program must be found too. Programs are looked up on the PATH of
// `environment` when it sets one (as run_external runs them), else on otfgp's.
void check_external_command(const ExternalCommand& command);

// Runs `command` + `arguments` in `workdir` with standard output to
// `stdout_file` (relative to workdir). Throws OracleFailure(timeout), and
// when `check_exit_status`, OracleFailure(nonzero_exit), with the tails of
// stderr and of the output; otfgp::Error when the program cannot start.
// `what` names the code ("pw.x"). Codes whose output tells more than their
// exit status (SCF not converged) pass false and call fail_nonzero_exit
// after reading it.
ProcessResult run_external(const ExternalCommand& command,
                           const std::vector<std::string>& arguments,
                           const std::filesystem::path& workdir,
                           const std::filesystem::path& stdout_file, const std::string& what,
                           bool check_exit_status = true,
                           const std::optional<std::filesystem::path>& stdin_file = std::nullopt);
[[noreturn]] void fail_nonzero_exit(const ProcessResult& result,
                                    const std::filesystem::path& workdir,
                                    const std::filesystem::path& stdout_file,
                                    const std::string& what);
// Tails of stderr and of the output file, for failure messages.
std::string failure_details(const ProcessResult& result, const std::filesystem::path& workdir,
                            const std::filesystem::path& stdout_file);

// The last `bytes` of a text file ("" when it cannot be read), for messages.
std::string file_tail(const std::filesystem::path& path, std::size_t bytes = 1500);
// The whole text of a file; throws OracleFailure(unparsable_output) when it
// cannot be read.
std::string read_output(const std::filesystem::path& path, const std::string& what);
// Throws OracleFailure(unparsable_output) "<source>: <what>" (source: the
// output file or the program's name).
[[noreturn]] void unparsable(const std::string& source, const std::string& what);

// `text` with every `from` replaced by `to` (placeholders in commands and inputs).
std::string replace_all(std::string text, const std::string& from, const std::string& to);

// Units of the DFT codes (CODATA 2018, as QE ≥ 6.6 and CP2K use them).
inline constexpr double hartree_in_ev = 27.211386245988;
inline constexpr double rydberg_in_ev = hartree_in_ev / 2;
inline constexpr double bohr_in_angstrom = 0.529177210903;

// Monkhorst–Pack divisions for a k-point spacing (Å⁻¹, 2π included, as
// VASP's KSPACING and ASE): n_i = max(1, ceil(2π |b_i| / spacing)) with b_i
// the reciprocal vectors (rows of cell⁻ᵀ); 1 along non-periodic directions.
std::array<int, 3> kpoint_mesh(const Structure& structure, double spacing);

// The k-point sampling keys of a DFT oracle: `kpoints` (three divisions) or
// `kspacing` (Å⁻¹, see kpoint_mesh), not both; without either, kspacing is
// `default_spacing` (none: Γ only, both left empty).
struct KpointSampling {
  std::optional<std::array<int, 3>> kpoints;
  std::optional<double> kspacing;
};
KpointSampling read_kpoint_sampling(const ConfigSection& section,
                                    std::optional<double> default_spacing);

// Creates `workdir` (and parents); throws otfgp::Error when it cannot.
void prepare_workdir(const std::filesystem::path& workdir);

// The labels a DFT code's output gives, as its parser returns them: eV, eV/Å,
// eV/Å³ (ASE's sign).
struct DftLabels {
  double energy = 0.0;
  Positions forces;
  Voigt stress = Voigt::Zero();
};
// `structure` with these labels; the stress only when `with_stress`.
Structure labelled_structure(const Structure& structure, const DftLabels& labels, bool with_stress);

// How one DFT code runs on one input file in the working directory.
struct DftRun {
  std::string what;                     // the code, for messages ("pw.x")
  std::string input_file, output_file;  // names in the working directory
  std::vector<std::string> arguments;   // after the command, e.g. {"-input", "pw.in"}
  std::string unconverged_marker;       // output text of an SCF that did not converge
};
// Writes `input` to workdir/input_file, runs the code with its output in
// workdir/output_file and returns that output. A non-zero exit is
// OracleFailure(nonzero_exit) unless the output holds unconverged_marker: then
// the caller's parser throws OracleFailure(not_converged), which the loop
// answers with one retry at safer settings (`attempt` 1), which runs with
// twice the command's timeout.
std::string run_dft(const ExternalCommand& command, const DftRun& run, const std::string& input,
                    const std::filesystem::path& workdir, int attempt);

}  // namespace otfgp::oracle
