#include "otfgp/oracle/qe_oracle.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/oracle/external.hpp"

namespace otfgp::oracle {

namespace {

const char* const default_pseudo_dir = "/usr/share/espresso/pseudo";

// Keys of the namelists that otfgp writes itself and that `input` may not change.
const std::set<std::string> reserved_keys = {
    "calculation", "tprnfor", "tstress", "pseudo_dir", "outdir", "prefix", "ibrav", "nat",
    "ntyp",        "celldm",  "a",       "b",          "c",      "cosab",  "cosac", "cosbc"};
const std::vector<std::string> namelists = {"control", "system", "electrons"};

struct QeSettings {
  ExternalCommand command;
  std::filesystem::path pseudo_dir;
  std::map<int, std::string> pseudopotentials;  // atomic number → file name in pseudo_dir
  std::string pseudopotentials_key;
  double ecutwfc = 0.0;  // Ry
  double ecutrho = 0.0;  // Ry
  std::optional<double> kspacing;
  std::optional<std::array<int, 3>> kpoints;
  std::string smearing;   // "none": fixed occupations
  double degauss = 0.01;  // Ry
  double mixing_beta = 0.7;
  long electron_maxstep = 100;
  double conv_thr_per_atom = 1e-9;  // Ry
  // namelist → key → Fortran literal, from `input`; override the defaults above.
  std::map<std::string, std::map<std::string, std::string>> overrides;
};

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// A YAML scalar as a Fortran namelist value: numbers and logicals as they
// are, anything else quoted.
std::string fortran_literal(const std::string& value) {
  const std::string low = lower(value);
  if (parse_real(value) || low == ".true." || low == ".false.") return value;
  if (low == "true") return ".true.";
  if (low == "false") return ".false.";
  return "'" + value + "'";
}

std::string fortran_real(double value) {
  return format_real(value);
}

QeSettings read_settings(ConfigSection section, const std::filesystem::path& base_dir) {
  section.expect_keys({"kind", "command", "timeout", "environment", "pseudopotentials",
                       "pseudo_dir", "ecutwfc", "ecutrho", "kspacing", "kpoints", "smearing",
                       "degauss", "mixing_beta", "electron_maxstep", "conv_thr", "input"});
  QeSettings settings;
  settings.command = read_external_command(section, base_dir, "pw.x");
  settings.pseudo_dir = section.text("pseudo_dir", default_pseudo_dir);
  if (settings.pseudo_dir.is_relative()) settings.pseudo_dir = base_dir / settings.pseudo_dir;
  settings.pseudopotentials_key = section.name("pseudopotentials");
  const ConfigSection pseudos = section.section("pseudopotentials");
  if (!pseudos.node().IsMap() || pseudos.node().size() == 0)
    section.fail("pseudopotentials",
                 "expected a mapping of element to file, e.g. {Si: Si.pbe-rrkj.UPF}");
  for (const auto& entry : pseudos.node()) {
    const std::string symbol = entry.first.as<std::string>();
    const int z = find_atomic_number(symbol);
    if (z == 0) pseudos.fail(symbol, "unknown element '" + symbol + "'");
    settings.pseudopotentials[z] = entry.second.as<std::string>();
  }
  settings.ecutwfc = section.number("ecutwfc");
  if (!(settings.ecutwfc > 0)) section.fail("ecutwfc", "must be positive (Ry)");
  settings.ecutrho = section.number("ecutrho", 4 * settings.ecutwfc);
  if (settings.ecutrho < 4 * settings.ecutwfc - 1e-12)
    section.fail("ecutrho", "must be at least 4 × ecutwfc");
  const KpointSampling sampling = read_kpoint_sampling(section, 0.3);
  settings.kpoints = sampling.kpoints;
  settings.kspacing = sampling.kspacing;
  settings.smearing = section.choice("smearing",
                                     {"none", "gaussian", "methfessel-paxton", "marzari-vanderbilt",
                                      "fermi-dirac", "mp", "mv", "fd", "cold"},
                                     "marzari-vanderbilt");
  if (settings.smearing != "none") {
    settings.degauss = section.number("degauss", 0.01);
    if (!(settings.degauss > 0)) section.fail("degauss", "must be positive (Ry)");
  }
  settings.mixing_beta = section.number("mixing_beta", 0.7);
  if (!(settings.mixing_beta > 0 && settings.mixing_beta <= 1))
    section.fail("mixing_beta", "must be in (0, 1]");
  settings.electron_maxstep = section.integer("electron_maxstep", 100);
  if (settings.electron_maxstep < 1) section.fail("electron_maxstep", "must be at least 1");
  settings.conv_thr_per_atom = section.number("conv_thr", 1e-9);
  if (!(settings.conv_thr_per_atom > 0)) section.fail("conv_thr", "must be positive (Ry per atom)");
  if (auto input = section.optional_section("input")) {
    if (!input->node().IsMap()) section.fail("input", "expected namelists: {system: {...}, ...}");
    for (const auto& namelist : input->node()) {
      const std::string name = lower(namelist.first.as<std::string>());
      if (std::find(namelists.begin(), namelists.end(), name) == namelists.end())
        input->fail(namelist.first.as<std::string>(),
                    "unknown namelist (one of control, system, electrons)");
      if (!namelist.second.IsMap())
        input->fail(namelist.first.as<std::string>(), "expected a mapping of keys to values");
      for (const auto& entry : namelist.second) {
        const std::string key = lower(entry.first.as<std::string>());
        if (reserved_keys.count(key))
          input->fail(namelist.first.as<std::string>(),
                      "'" + key + "' is set by otfgp and cannot be overridden");
        settings.overrides[name][key] = fortran_literal(entry.second.as<std::string>());
      }
    }
  }
  section.finish(settings.smearing == "none" ? "with smearing: none" : "");
  return settings;
}

std::string symbol_of(int z) {
  return element(z).symbol;
}

std::string write_input(const QeSettings& settings, const Structure& structure, int attempt) {
  const std::vector<int> species = structure.species();
  std::map<std::string, std::map<std::string, std::string>> values;
  auto& control = values["control"];
  control["calculation"] = "'scf'";
  control["tprnfor"] = ".true.";
  control["tstress"] = ".true.";
  control["pseudo_dir"] = "'" + std::filesystem::absolute(settings.pseudo_dir).string() + "'";
  control["outdir"] = "'./tmp'";
  control["prefix"] = "'otfgp'";
  control["disk_io"] = "'none'";
  auto& system = values["system"];
  system["ibrav"] = "0";
  system["nat"] = std::to_string(structure.size());
  system["ntyp"] = std::to_string(species.size());
  system["ecutwfc"] = fortran_real(settings.ecutwfc);
  system["ecutrho"] = fortran_real(settings.ecutrho);
  if (settings.smearing == "none") {
    system["occupations"] = "'fixed'";
  } else {
    system["occupations"] = "'smearing'";
    system["smearing"] = "'" + settings.smearing + "'";
    system["degauss"] = fortran_real(settings.degauss);
  }
  auto& electrons = values["electrons"];
  electrons["conv_thr"] = fortran_real(settings.conv_thr_per_atom * structure.size());
  electrons["mixing_beta"] = fortran_real(settings.mixing_beta);
  electrons["electron_maxstep"] = std::to_string(settings.electron_maxstep);
  for (const auto& [namelist, entries] : settings.overrides)
    for (const auto& [key, value] : entries) values[namelist][key] = value;
  if (attempt > 0) {
    // The safer retry: half the mixing, twice the iterations, and the
    // robust local Thomas–Fermi mixing for inhomogeneous systems.
    const double beta = parse_real(electrons["mixing_beta"]).value_or(settings.mixing_beta);
    const double maxstep = parse_real(electrons["electron_maxstep"])
                               .value_or(static_cast<double>(settings.electron_maxstep));
    electrons["mixing_beta"] = fortran_real(std::pow(0.5, attempt) * beta);
    electrons["electron_maxstep"] =
        std::to_string(static_cast<long>(std::max(2.0 * attempt * maxstep, 200.0)));
    electrons["mixing_mode"] = "'local-TF'";
  }

  std::ostringstream text;
  for (const auto& namelist : namelists) {
    text << "&" << namelist << "\n";
    for (const auto& [key, value] : values[namelist]) text << "  " << key << " = " << value << "\n";
    text << "/\n";
  }
  text << "ATOMIC_SPECIES\n";
  for (int z : species)
    text << symbol_of(z) << " " << fortran_real(element(z).mass) << " "
         << settings.pseudopotentials.at(z) << "\n";
  text << "CELL_PARAMETERS angstrom\n";
  for (int i = 0; i < 3; ++i)
    text << fmt::format("{:.17g} {:.17g} {:.17g}\n", structure.cell(i, 0), structure.cell(i, 1),
                        structure.cell(i, 2));
  text << "ATOMIC_POSITIONS angstrom\n";
  for (int i = 0; i < structure.size(); ++i)
    text << fmt::format("{} {:.17g} {:.17g} {:.17g}\n", symbol_of(structure.numbers[i]),
                        structure.positions(i, 0), structure.positions(i, 1),
                        structure.positions(i, 2));
  const std::array<int, 3> mesh =
      settings.kpoints ? *settings.kpoints : kpoint_mesh(structure, *settings.kspacing);
  text << fmt::format("K_POINTS automatic\n{} {} {} 0 0 0\n", mesh[0], mesh[1], mesh[2]);
  return text.str();
}

class QeOracle final : public Oracle {
 public:
  explicit QeOracle(QeSettings settings) : settings_(std::move(settings)) {}

  std::string kind() const override { return "qe"; }

  void check(const std::vector<int>& species) const override {
    check_external_command(settings_.command);
    if (!std::filesystem::is_directory(settings_.pseudo_dir))
      throw Error(fmt::format("{}: pseudopotential folder {} does not exist",
                              settings_.pseudopotentials_key, settings_.pseudo_dir.string()));
    for (int z : species) {
      const std::string symbol = element(z).symbol;
      const auto found = settings_.pseudopotentials.find(z);
      if (found == settings_.pseudopotentials.end())
        throw Error(
            fmt::format("{}: no pseudopotential for {} (the structure has it); files for "
                        "{} in {}: {}",
                        settings_.pseudopotentials_key, symbol, symbol,
                        settings_.pseudo_dir.string(), candidates(symbol)));
      if (!std::filesystem::is_regular_file(settings_.pseudo_dir / found->second))
        throw Error(
            fmt::format("{}.{}: pseudopotential file {} not found in {}; files for {} "
                        "there: {}",
                        settings_.pseudopotentials_key, symbol, found->second,
                        settings_.pseudo_dir.string(), symbol, candidates(symbol)));
    }
  }

  Structure label(const Structure& structure, const std::filesystem::path& workdir,
                  int attempt) override {
    structure.validate();
    prepare_workdir(workdir);
    for (int z : structure.species())
      if (!settings_.pseudopotentials.count(z))
        throw Error(fmt::format("{}: no pseudopotential for {}", settings_.pseudopotentials_key,
                                element(z).symbol));
    const DftRun run{"pw.x", "pw.in", "pw.out", {"-input", "pw.in"}, "convergence NOT achieved"};
    const std::string output =
        run_dft(settings_.command, run, write_input(settings_, structure, attempt), workdir);
    const QeResult parsed =
        parse_pw_output(output, structure.size(), (workdir / "pw.out").string());
    // pw.x always computes a 3D-periodic stress; like otfgp's own potentials,
    // report one only for structures periodic in all three directions.
    return labelled_structure(structure, parsed,
                              structure.pbc[0] && structure.pbc[1] && structure.pbc[2]);
  }

 private:
  std::string candidates(const std::string& symbol) const {
    std::vector<std::string> names;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(settings_.pseudo_dir, error)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(symbol + ".", 0) == 0 || name.rfind(symbol + "_", 0) == 0)
        names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    std::string text;
    for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
    return text.empty() ? "none" : text;
  }

  QeSettings settings_;
};

}  // namespace

QeResult parse_pw_output(const std::string& text, int atoms, const std::string& source) {
  if (text.find("convergence NOT achieved") != std::string::npos)
    throw OracleFailure(
        FailureKind::not_converged, source + ": SCF convergence NOT achieved" + [&] {
          const auto at = text.find("convergence NOT achieved");
          const auto end = text.find('\n', at);
          return " (" + text.substr(at, end - at) + ")";
        }());
  std::istringstream lines(text);
  std::string line;
  std::optional<double> energy;
  std::optional<Positions> forces;
  std::optional<Voigt> stress;
  bool scf_done = false, job_done = false;
  const double force_unit = rydberg_in_ev / bohr_in_angstrom;
  const double stress_unit = rydberg_in_ev / std::pow(bohr_in_angstrom, 3);
  while (std::getline(lines, line)) {
    if (line.find("End of self-consistent calculation") != std::string::npos) scf_done = true;
    if (line.find("JOB DONE") != std::string::npos) job_done = true;
    const auto first = line.find_first_not_of(' ');
    if (first != std::string::npos && line[first] == '!' &&
        line.find("total energy") != std::string::npos) {
      const auto equals = line.find('=');
      const auto values = numbers_in(line.substr(equals == std::string::npos ? 0 : equals + 1));
      if (values.empty()) unparsable(source, "cannot read the total energy from: " + line);
      energy = values.front() * rydberg_in_ev;
    } else if (line.find("Forces acting on atoms") != std::string::npos) {
      Positions values(atoms, 3);
      int read = 0;
      while (read < atoms && std::getline(lines, line)) {
        if (line.find("atom") == std::string::npos || line.find("force =") == std::string::npos)
          continue;
        const auto components = numbers_in(line.substr(line.find("force =") + 7));
        if (components.size() != 3) unparsable(source, "cannot read a force from: " + line);
        for (int k = 0; k < 3; ++k) values(read, k) = components[k] * force_unit;
        ++read;
      }
      if (read != atoms) unparsable(source, fmt::format("{} forces for {} atoms", read, atoms));
      forces = values;
    } else if (line.find("total   stress") != std::string::npos) {
      Eigen::Matrix3d tensor;
      for (int row = 0; row < 3; ++row) {
        if (!std::getline(lines, line)) unparsable(source, "the stress tensor is cut short");
        const auto values = numbers_in(line);
        if (values.size() < 3) unparsable(source, "cannot read the stress from: " + line);
        for (int k = 0; k < 3; ++k) tensor(row, k) = values[k];
      }
      // pw.x prints the pressure-like tensor (positive under compression);
      // ASE's stress, (1/V) ∂E/∂ε, is its negative.
      tensor *= -stress_unit;
      Voigt voigt;
      voigt << tensor(0, 0), tensor(1, 1), tensor(2, 2), tensor(1, 2), tensor(0, 2), tensor(0, 1);
      stress = voigt;
    }
  }
  if (!scf_done)
    unparsable(source, "no 'End of self-consistent calculation' (pw.x stopped early?)");
  if (!energy) unparsable(source, "no total energy line ('!    total energy')");
  if (!forces) unparsable(source, "no forces (tprnfor)");
  if (!stress) unparsable(source, "no stress tensor (tstress)");
  if (!job_done) unparsable(source, "pw.x did not reach JOB DONE");
  if (!std::isfinite(*energy) || !forces->allFinite() || !stress->allFinite())
    unparsable(source, "non-finite energy, forces or stress");
  return {*energy, *forces, *stress};
}

std::unique_ptr<Oracle> make_qe_oracle(const ConfigSection& section,
                                       const std::filesystem::path& base_dir) {
  return std::make_unique<QeOracle>(read_settings(section, base_dir));
}

}  // namespace otfgp::oracle
