#include "otfgp/oracle/cp2k_oracle.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/file_fingerprint.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/oracle/external.hpp"
#include "otfgp/oracle/oracle_settings.hpp"

namespace otfgp::oracle {

namespace {

const char* const default_data_dir = "/usr/share/cp2k";

// The keys naming the basis-set and pseudopotential libraries, whose contents
// a resumed run compares (label_files) whatever path names them.
constexpr const char* file_keys[] = {"basis_set_file", "potential_file"};
constexpr const char* compared_by_content = "(compared by content)";

// `smearing`'s default (Cp2kSettings::smearing true) and only other value than none.
constexpr const char* fermi_dirac_smearing = "fermi_dirac";

struct Cp2kSettings {
  ExternalCommand command;
  std::filesystem::path basis_file;
  std::filesystem::path potential_file;
  std::string basis_set = "DZVP-MOLOPT-SR-GTH";
  std::map<int, std::string> basis_sets;  // per-element overrides
  std::map<int, std::string> potentials;  // per-element overrides
  std::string functional = "PBE";
  double cutoff = 400.0;     // Ry
  double rel_cutoff = 50.0;  // Ry
  std::optional<double> kspacing;
  std::optional<std::array<int, 3>> kpoints;
  bool smearing = true;
  double electronic_temperature = 300.0;  // K
  double mixing_alpha = 0.4;
  long max_scf = 100;
  double eps_scf = 1e-7;
  long charge = 0;
  std::string key;  // "oracle", for messages
};

// A basis set and pseudopotential chosen for one element, and its valence charge.
struct KindChoice {
  std::string basis;
  std::string potential;
  int valence = 0;
};

// Entries of a CP2K basis or potential library: element → the names of each
// entry (an entry's first line is "Element NAME [ALIAS …]").
using Library = std::map<std::string, std::vector<std::vector<std::string>>>;

Library read_library(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read CP2K data file " + path.string());
  Library library;
  std::string line;
  while (std::getline(in, line)) {
    const auto words = split_whitespace(line);
    if (words.size() < 2 || words[0][0] == '#' || find_atomic_number(words[0]) == 0) continue;
    if (parse_real(words[1])) continue;
    std::vector<std::string> names;
    for (std::size_t i = 1; i < words.size(); ++i) names.emplace_back(words[i]);
    library[std::string(words[0])].push_back(names);
  }
  return library;
}

// The N of a name ending in "-qN", 0 when it has none.
int valence_of(const std::string& name) {
  const auto at = name.rfind("-q");
  if (at == std::string::npos) return 0;
  const auto value = parse_integer(name.substr(at + 2));
  return value ? static_cast<int>(*value) : 0;
}

const std::vector<std::string>* find_entry(const Library& library, const std::string& symbol,
                                           const std::string& name) {
  const auto found = library.find(symbol);
  if (found == library.end()) return nullptr;
  for (const auto& names : found->second)
    if (std::find(names.begin(), names.end(), name) != names.end()) return &names;
  return nullptr;
}

std::string list_names(const Library& library, const std::string& symbol) {
  const auto found = library.find(symbol);
  if (found == library.end()) return "none";
  std::string text;
  for (const auto& names : found->second) text += (text.empty() ? "" : ", ") + names.front();
  return text;
}

// A Γ-centred mesh, as pw.x's `K_POINTS automatic n1 n2 n3 0 0 0`. CP2K's
// MONKHORST-PACK points are (2i − n − 1)/(2n): shifted by ±1/(2n) along even
// n, which breaks the symmetry of non-orthogonal cells (ideal Si₂ in the fcc
// primitive cell: forces of 0.28 eV/Å and a shear stress of 6.7 GPa with
// 2×2×2). MACDONALD adds a shift (in units of the reciprocal vectors) to
// those points: 1/(2n) along even n brings Γ back onto the mesh.
std::string kpoints_section(const std::array<int, 3>& mesh) {
  std::string shifts;
  for (int n : mesh) shifts += " " + format_real(n % 2 == 0 ? 0.5 / n : 0.0);
  return fmt::format("    &KPOINTS\n      SCHEME MACDONALD {} {} {}{}\n    &END KPOINTS\n", mesh[0],
                     mesh[1], mesh[2], shifts);
}

class Cp2kOracle final : public Oracle {
 public:
  explicit Cp2kOracle(Cp2kSettings settings) : settings_(std::move(settings)) {}

  std::string kind() const override { return "cp2k"; }

  void check(const std::vector<int>& species) const override {
    check_external_command(settings_.command);
    for (int z : species) choose(z);
  }

  std::map<std::string, std::string> label_defaults(
      const std::map<std::string, std::string>& set) const override {
    const Cp2kSettings fresh;  // its members' initialisers are the defaults
    std::map<std::string, std::string> defaults = {
        {"basis_set", fresh.basis_set},
        {"functional", fresh.functional},
        {"cutoff", format_significant(fresh.cutoff, 17)},
        {"rel_cutoff", format_significant(fresh.rel_cutoff, 17)},
        {"smearing", fermi_dirac_smearing},
        {"charge", std::to_string(fresh.charge)}};
    const auto smearing = set.find("smearing");
    if (smearing == set.end() || smearing->second != "none")
      defaults["electronic_temperature"] = format_significant(fresh.electronic_temperature, 17);
    for (const char* key : file_keys) defaults[key] = compared_by_content;
    // Neither kpoints nor kspacing: the Γ point, the input of kpoints: [1, 1, 1].
    if (!set.count("kspacing")) defaults["kpoints"] = "[1, 1, 1]";
    return defaults;
  }

  // The libraries' paths: their contents are compared (label_files), not where they are.
  std::string canonical_label_value(const std::string& key,
                                    const std::string& value) const override {
    for (const char* file_key : file_keys)
      if (key == file_key) return compared_by_content;
    return value;
  }

  std::vector<std::pair<std::string, std::filesystem::path>> label_files() const override {
    return named_files({settings_.basis_file, settings_.potential_file});
  }

  void check_structure(const Structure& structure) const override {
    if (!(structure.pbc[0] && structure.pbc[1] && structure.pbc[2]))
      throw Error(settings_.key + ": the cp2k oracle labels periodic structures only (pbc T T T)");
  }

  Structure label(const Structure& structure, const std::filesystem::path& workdir,
                  int attempt) override {
    structure.validate();
    check_structure(structure);
    prepare_workdir(workdir);
    const DftRun run{"cp2k", "cp2k.inp", "cp2k.out", {"-i", "cp2k.inp"}, "SCF run NOT converged"};
    const std::string output =
        run_dft(settings_.command, run, write_input(structure, attempt), workdir, attempt);
    const Cp2kResult parsed =
        parse_cp2k_output(output, structure.size(), (workdir / "cp2k.out").string());
    return labelled_structure(structure, parsed, true);
  }

 private:
  const KindChoice& choose(int z) const {
    const auto cached = choices_.find(z);
    if (cached != choices_.end()) return cached->second;
    if (!basis_library_) basis_library_ = read_library(settings_.basis_file);
    if (!potential_library_) potential_library_ = read_library(settings_.potential_file);
    const std::string symbol = element(z).symbol;
    KindChoice choice;
    const auto basis_override = settings_.basis_sets.find(z);
    choice.basis =
        basis_override != settings_.basis_sets.end() ? basis_override->second : settings_.basis_set;
    const auto* basis = find_entry(*basis_library_, symbol, choice.basis);
    if (!basis)
      throw Error(fmt::format("{}: no basis set {} for {} in {} (it has: {})", settings_.key,
                              choice.basis, symbol, settings_.basis_file.string(),
                              list_names(*basis_library_, symbol)));
    for (const auto& name : *basis) choice.valence = std::max(choice.valence, valence_of(name));
    const auto potential_override = settings_.potentials.find(z);
    if (potential_override != settings_.potentials.end()) {
      choice.potential = potential_override->second;
    } else if (choice.valence > 0) {
      // The pseudopotential with the valence the basis set was made for.
      choice.potential = fmt::format("GTH-{}-q{}", settings_.functional, choice.valence);
    } else {
      throw Error(
          fmt::format("{}: basis set {} for {} does not say its valence (-qN); name the "
                      "pseudopotential under {}.potentials",
                      settings_.key, choice.basis, symbol, settings_.key));
    }
    const auto* potential = find_entry(*potential_library_, symbol, choice.potential);
    if (!potential)
      throw Error(fmt::format("{}: no pseudopotential {} for {} in {} (it has: {})", settings_.key,
                              choice.potential, symbol, settings_.potential_file.string(),
                              list_names(*potential_library_, symbol)));
    for (const auto& name : *potential)
      if (valence_of(name) > 0) choice.valence = valence_of(name);
    return choices_.emplace(z, choice).first->second;
  }

  std::string write_input(const Structure& structure, int attempt) const {
    const std::vector<int> species = structure.species();
    int electrons = -static_cast<int>(settings_.charge);
    for (int z : structure.numbers) electrons += choose(z).valence;
    double alpha = settings_.mixing_alpha;
    long max_scf = settings_.max_scf;
    if (attempt > 0) {
      // The safer retry: gentler mixing, more iterations.
      alpha *= std::pow(0.5, attempt);
      max_scf = std::max(2 * attempt * max_scf, 200L);
    }
    const std::array<int, 3> mesh = settings_.kpoints ? *settings_.kpoints
                                    : settings_.kspacing
                                        ? kpoint_mesh(structure, *settings_.kspacing)
                                        : std::array<int, 3>{1, 1, 1};
    const bool gamma = mesh == std::array<int, 3>{1, 1, 1};

    std::ostringstream text;
    text << "&GLOBAL\n  PROJECT otfgp\n  RUN_TYPE ENERGY_FORCE\n  PRINT_LEVEL LOW\n&END GLOBAL\n"
         << "&FORCE_EVAL\n  METHOD QUICKSTEP\n  STRESS_TENSOR ANALYTICAL\n  &DFT\n"
         << "    BASIS_SET_FILE_NAME " << settings_.basis_file.string() << "\n"
         << "    POTENTIAL_FILE_NAME " << settings_.potential_file.string() << "\n"
         << "    CHARGE " << settings_.charge << "\n"
         << "    &MGRID\n      CUTOFF " << format_real(settings_.cutoff) << "\n      REL_CUTOFF "
         << format_real(settings_.rel_cutoff) << "\n    &END MGRID\n"
         << "    &QS\n      EPS_DEFAULT 1.0E-12\n    &END QS\n";
    if (!gamma) text << kpoints_section(mesh);
    text << "    &SCF\n      EPS_SCF " << format_real(settings_.eps_scf) << "\n      MAX_SCF "
         << max_scf << "\n";
    if (settings_.smearing)
      text << "      ADDED_MOS " << std::max(8, electrons / 10) << "\n"
           << "      &SMEAR ON\n        METHOD FERMI_DIRAC\n        ELECTRONIC_TEMPERATURE [K] "
           << format_real(settings_.electronic_temperature) << "\n      &END SMEAR\n";
    text << "      &MIXING\n        METHOD BROYDEN_MIXING\n        ALPHA " << format_real(alpha)
         << "\n      &END MIXING\n"
         << "      &PRINT\n        &RESTART OFF\n        &END RESTART\n      &END PRINT\n"
         << "    &END SCF\n"
         << "    &XC\n      &XC_FUNCTIONAL " << settings_.functional
         << "\n      &END XC_FUNCTIONAL\n    &END XC\n  &END DFT\n"
         << "  &SUBSYS\n    &CELL\n";
    const char* const names[3] = {"A", "B", "C"};
    for (int i = 0; i < 3; ++i)
      text << fmt::format("      {} [angstrom] {:.17g} {:.17g} {:.17g}\n", names[i],
                          structure.cell(i, 0), structure.cell(i, 1), structure.cell(i, 2));
    text << "      PERIODIC XYZ\n    &END CELL\n    &COORD\n      UNIT angstrom\n";
    for (int i = 0; i < structure.size(); ++i)
      text << fmt::format("      {} {:.17g} {:.17g} {:.17g}\n",
                          element(structure.numbers[i]).symbol, structure.positions(i, 0),
                          structure.positions(i, 1), structure.positions(i, 2));
    text << "    &END COORD\n";
    for (int z : species) {
      const KindChoice& choice = choose(z);
      text << "    &KIND " << element(z).symbol << "\n      BASIS_SET " << choice.basis
           << "\n      POTENTIAL " << choice.potential << "\n    &END KIND\n";
    }
    text << "  &END SUBSYS\n  &PRINT\n    &FORCES ON\n    &END FORCES\n"
         << "    &STRESS_TENSOR ON\n    &END STRESS_TENSOR\n  &END PRINT\n&END FORCE_EVAL\n";
    return text.str();
  }

  Cp2kSettings settings_;
  mutable std::map<int, KindChoice> choices_;
  mutable std::optional<Library> basis_library_;
  mutable std::optional<Library> potential_library_;
};

std::map<int, std::string> element_map(const ConfigSection& section, const std::string& key) {
  std::map<int, std::string> result;
  if (auto entries = section.optional_section(key)) {
    if (!entries->node().IsMap()) section.fail(key, "expected a mapping of element to name");
    for (const auto& symbol : entries->keys()) {
      const int z = find_atomic_number(symbol);
      if (z == 0) entries->fail(symbol, unknown_element_text(symbol));
      result[z] = entries->text(symbol);
    }
  }
  return result;
}

}  // namespace

Cp2kResult parse_cp2k_output(const std::string& text, int atoms, const std::string& source) {
  if (text.find("SCF run NOT converged") != std::string::npos)
    throw OracleFailure(FailureKind::not_converged, source + ": SCF run NOT converged");
  std::istringstream lines(text);
  std::string line;
  std::optional<double> energy;
  std::optional<Positions> forces;
  std::optional<Voigt> stress;
  const double force_unit = hartree_in_ev / bohr_in_angstrom;
  while (std::getline(lines, line)) {
    if (line.find("ENERGY| Total FORCE_EVAL") != std::string::npos) {
      const auto values = numbers_in(std::string_view(line).substr(line.rfind(':') + 1));
      if (values.empty()) unparsable(source, "cannot read the energy from: " + line);
      energy = values.back() * hartree_in_ev;  // [a.u.] = [hartree]
    } else if (line.find("ATOMIC FORCES in") != std::string::npos) {
      // CP2K prints the forces, −∂E/∂R, in hartree/bohr.
      Positions values(atoms, 3);
      int read = 0;
      while (read < atoms && std::getline(lines, line)) {
        const auto words = split_whitespace(line);
        if (words.size() < 6 || !parse_integer(words[0])) continue;
        if (*parse_integer(words[0]) != read + 1)
          unparsable(source, "forces out of order: " + line);
        for (int k = 0; k < 3; ++k) {
          const auto value = parse_real(words[3 + k]);
          if (!value) unparsable(source, "cannot read a force from: " + line);
          values(read, k) = *value * force_unit;
        }
        ++read;
      }
      if (read != atoms) unparsable(source, fmt::format("{} forces for {} atoms", read, atoms));
      forces = values;
    } else if (line.find("STRESS| Analytical stress tensor") != std::string::npos) {
      double unit = 0.0;
      if (line.find("[GPa]") != std::string::npos)
        unit = units::gpa_in_ev_per_a3;
      else if (line.find("[bar]") != std::string::npos)
        unit = 1e-4 * units::gpa_in_ev_per_a3;
      else
        unparsable(source, "unknown stress unit in: " + line);
      Eigen::Matrix3d tensor;
      int row = 0;
      while (row < 3 && std::getline(lines, line)) {
        const auto values = numbers_in(std::string_view(line).substr(line.find('|') + 1));
        if (values.size() != 3) continue;  // the "x y z" header
        for (int k = 0; k < 3; ++k) tensor(row, k) = values[k];
        ++row;
      }
      if (row != 3) unparsable(source, "the stress tensor is cut short");
      // CP2K prints the pressure-like tensor (positive under compression);
      // ASE's stress, (1/V) ∂E/∂ε, is its negative.
      tensor *= -unit;
      Voigt voigt;
      voigt << tensor(0, 0), tensor(1, 1), tensor(2, 2), tensor(1, 2), tensor(0, 2), tensor(0, 1);
      stress = voigt;
    }
  }
  if (!energy) unparsable(source, "no 'ENERGY| Total FORCE_EVAL' line");
  if (!forces) unparsable(source, "no 'ATOMIC FORCES' block");
  if (!stress) unparsable(source, "no 'STRESS| Analytical stress tensor' block");
  if (text.find("PROGRAM ENDED AT") == std::string::npos)
    unparsable(source, "cp2k did not reach PROGRAM ENDED");
  if (!std::isfinite(*energy) || !forces->allFinite() || !stress->allFinite())
    unparsable(source, "non-finite energy, forces or stress");
  return {*energy, *forces, *stress};
}

std::unique_ptr<Oracle> make_cp2k_oracle(const ConfigSection& given,
                                         const std::filesystem::path& base_dir) {
  ConfigSection section = given;
  section.expect_keys({"kind",
                       "command",
                       "timeout",
                       "environment",
                       "data_dir",
                       "basis_set_file",
                       "potential_file",
                       "basis_set",
                       "basis_sets",
                       "potentials",
                       "functional",
                       "cutoff",
                       "rel_cutoff",
                       "kspacing",
                       "kpoints",
                       "smearing",
                       "electronic_temperature",
                       "mixing_alpha",
                       "max_scf",
                       "eps_scf",
                       "charge"});
  Cp2kSettings settings;
  settings.key = section.name("kind").substr(0, section.name("kind").rfind('.'));
  if (settings.key == "kind") settings.key = "oracle";
  settings.command = read_external_command(section, base_dir, "cp2k");
  const auto path_key = [&](const std::string& key, const std::filesystem::path& fallback) {
    std::filesystem::path path = section.text(key, fallback.string());
    if (path.is_relative()) path = base_dir / path;
    return path;
  };
  const std::filesystem::path data_dir = path_key("data_dir", default_data_dir);
  settings.basis_file = path_key("basis_set_file", data_dir / "BASIS_MOLOPT");
  settings.potential_file = path_key("potential_file", data_dir / "GTH_POTENTIALS");
  for (const auto& [key, path] : {std::pair{"basis_set_file", settings.basis_file},
                                  std::pair{"potential_file", settings.potential_file}})
    if (!std::filesystem::is_regular_file(path))
      section.fail(section.has(key) ? key : "data_dir", path.string() + " does not exist");
  settings.basis_set = section.text("basis_set", settings.basis_set);
  settings.basis_sets = element_map(section, "basis_sets");
  settings.potentials = element_map(section, "potentials");
  settings.functional = section.text("functional", settings.functional);
  settings.cutoff = section.number("cutoff", settings.cutoff);
  if (!(settings.cutoff > 0)) section.fail("cutoff", "must be positive (Ry)");
  settings.rel_cutoff = section.number("rel_cutoff", settings.rel_cutoff);
  if (!(settings.rel_cutoff > 0)) section.fail("rel_cutoff", "must be positive (Ry)");
  const KpointSampling sampling = read_kpoint_sampling(section, std::nullopt);
  settings.kpoints = sampling.kpoints;
  settings.kspacing = sampling.kspacing;
  settings.smearing =
      section.choice("smearing", {fermi_dirac_smearing, "none"}, fermi_dirac_smearing) != "none";
  if (settings.smearing) {
    settings.electronic_temperature =
        section.number("electronic_temperature", settings.electronic_temperature);
    if (!(settings.electronic_temperature > 0))
      section.fail("electronic_temperature", "must be positive (K)");
  }
  settings.mixing_alpha = section.number("mixing_alpha", settings.mixing_alpha);
  if (!(settings.mixing_alpha > 0 && settings.mixing_alpha <= 1))
    section.fail("mixing_alpha", "must be in (0, 1]");
  settings.max_scf = section.integer("max_scf", settings.max_scf);
  if (settings.max_scf < 1) section.fail("max_scf", "must be at least 1");
  settings.eps_scf = section.number("eps_scf", settings.eps_scf);
  if (!(settings.eps_scf > 0)) section.fail("eps_scf", "must be positive");
  settings.charge = section.integer("charge", 0);
  section.finish(settings.smearing ? "" : "with smearing: none");
  return std::make_unique<Cp2kOracle>(std::move(settings));
}

}  // namespace otfgp::oracle
