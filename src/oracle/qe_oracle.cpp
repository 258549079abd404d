#include "otfgp/oracle/qe_oracle.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/log.hpp"
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

// Defaults of the keys that decide the labels (read_settings, label_defaults).
constexpr double ecutrho_per_ecutwfc = 4.0;
constexpr const char* default_smearing = "marzari-vanderbilt";
constexpr double default_degauss = 0.01;  // Ry
constexpr double default_kspacing = 0.3;  // 1/Å

// pw.x's ntypx: it stops with "ntyp too large, increase NSX" beyond this.
constexpr std::size_t max_species = 10;

// One entry of `pseudopotentials`.
struct Pseudopotential {
  int z = 0;
  std::string given;           // the value in the config
  std::filesystem::path file;  // where it is: pseudo_dir/given for a bare name
  bool in_pseudo_dir = true;   // a bare name (no folder part)
  std::string link_name;       // its name in the call's pseudo folder (unique)
};

struct QeSettings {
  ExternalCommand command;
  std::filesystem::path pseudo_dir;
  // In the order of the config's mapping: pw.x's species in that order.
  std::vector<Pseudopotential> pseudopotentials;
  // With species-indexed `input` keys (starting_magnetization(1), …) every
  // element of the mapping is a species of every frame, with atoms or not, so
  // that index i means one element all run; without, only a frame's own
  // elements are (a mapping of more elements than pw.x's 10 species, or of
  // files whose functionals differ, then serves frames of a few of them).
  bool all_species = false;
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

// A YAML scalar as a Fortran namelist value: numbers and logicals as they
// are, anything else quoted.
std::string fortran_literal(const std::string& value) {
  const std::string low = ascii_lower(value);
  if (parse_real(value) || low == ".true." || low == ".false.") return value;
  if (low == "true") return ".true.";
  if (low == "false") return ".false.";
  return "'" + value + "'";
}

std::string fortran_real(double value) {
  return format_real(value);
}

// Keys of `input` that the oracle section also has: given in both places, the
// namelist's would silently win.
const std::set<std::string> oracle_level_keys = {
    "ecutwfc", "ecutrho", "smearing", "degauss", "mixing_beta", "electron_maxstep", "conv_thr"};

// `input`: namelist → key → value, each value one Fortran literal; `oracle`:
// the section that holds it.
void read_input_overrides(const ConfigSection& oracle, const ConfigSection& input,
                          QeSettings& settings) {
  for (const auto& given_name : input.keys()) {
    const std::string name = ascii_lower(given_name);
    if (std::find(namelists.begin(), namelists.end(), name) == namelists.end())
      input.fail(given_name, "unknown namelist (one of control, system, electrons)");
    const ConfigSection namelist = input.section(given_name);
    for (const auto& given_key : namelist.keys()) {
      const std::string key = ascii_lower(given_key);
      if (reserved_keys.count(key))
        input.fail(given_name, "'" + key + "' is set by otfgp and cannot be overridden");
      if (key == "scf_must_converge" &&
          ascii_lower(namelist.text(given_key)).find('f') != std::string::npos)
        namelist.fail(given_key,
                      "cannot be false: otfgp learns converged SCF results only (pw.x then "
                      "retries with safer settings), and with it false pw.x 6.x prints "
                      "'convergence has been achieved' for an SCF that was not");
      if (oracle_level_keys.count(key) && oracle.has(key))
        namelist.fail(given_key, "given twice: here and as " + oracle.name(key) +
                                     ", which this would silently replace; give it once");
      if (namelist.node()[given_key].IsSequence())
        namelist.fail(given_key,
                      "expected one value, got a list; give each index its own key, e.g. '" +
                          given_key + "(1): …' (species follow the order of " +
                          settings.pseudopotentials_key + ")");
      settings.overrides[name][key] = fortran_literal(namelist.text(given_key));
    }
  }
}

// `pseudopotentials`: element → file, in the mapping's order. A bare name is
// in pseudo_dir; a name with a folder part is a path (relative ones against
// the config's folder). pw.x reads every file from one folder, so each gets a
// distinct name to be linked under there (link_pseudopotentials).
std::vector<Pseudopotential> read_pseudopotentials(const ConfigSection& section,
                                                   const std::filesystem::path& base_dir,
                                                   const std::filesystem::path& pseudo_dir) {
  const ConfigSection pseudos = section.section("pseudopotentials");
  const std::vector<std::string> symbols = pseudos.keys();
  if (symbols.empty())
    section.fail("pseudopotentials",
                 "expected a mapping of element to file, e.g. {Si: Si.pbe-rrkj.UPF}");
  std::vector<Pseudopotential> result;
  std::set<std::string> link_names;
  for (const auto& symbol : symbols) {
    Pseudopotential pseudo;
    pseudo.z = find_atomic_number(symbol);
    if (pseudo.z == 0) pseudos.fail(symbol, unknown_element_text(symbol));
    pseudo.given = pseudos.text(symbol);
    if (pseudo.given.empty()) pseudos.fail(symbol, "empty file name");
    const std::filesystem::path given = pseudo.given;
    pseudo.in_pseudo_dir = !given.has_parent_path();
    pseudo.file = pseudo.in_pseudo_dir  ? pseudo_dir / given
                  : given.is_absolute() ? given
                                        : base_dir / given;
    pseudo.file = std::filesystem::absolute(pseudo.file).lexically_normal();
    // Two files of one name from different folders: the later one is prefixed.
    // pw.x reads a file name up to its first blank.
    pseudo.link_name = given.filename().string();
    std::replace(pseudo.link_name.begin(), pseudo.link_name.end(), ' ', '_');
    while (!link_names.insert(pseudo.link_name).second)
      pseudo.link_name = symbol + "-" + pseudo.link_name;
    result.push_back(pseudo);
  }
  return result;
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
  settings.pseudopotentials = read_pseudopotentials(section, base_dir, settings.pseudo_dir);
  settings.ecutwfc = section.number("ecutwfc");
  if (!(settings.ecutwfc > 0)) section.fail("ecutwfc", "must be positive (Ry)");
  settings.ecutrho = section.number("ecutrho", ecutrho_per_ecutwfc * settings.ecutwfc);
  if (settings.ecutrho < ecutrho_per_ecutwfc * settings.ecutwfc - 1e-12)
    section.fail("ecutrho", "must be at least 4 × ecutwfc");
  const KpointSampling sampling = read_kpoint_sampling(section, default_kspacing);
  settings.kpoints = sampling.kpoints;
  settings.kspacing = sampling.kspacing;
  settings.smearing = section.choice("smearing",
                                     {"none", "gaussian", "methfessel-paxton", "marzari-vanderbilt",
                                      "fermi-dirac", "mp", "mv", "fd", "cold"},
                                     default_smearing);
  if (settings.smearing != "none") {
    settings.degauss = section.number("degauss", default_degauss);
    if (!(settings.degauss > 0)) section.fail("degauss", "must be positive (Ry)");
  }
  settings.mixing_beta = section.number("mixing_beta", 0.7);
  if (!(settings.mixing_beta > 0 && settings.mixing_beta <= 1))
    section.fail("mixing_beta", "must be in (0, 1]");
  settings.electron_maxstep = section.integer("electron_maxstep", 100);
  if (settings.electron_maxstep < 1) section.fail("electron_maxstep", "must be at least 1");
  settings.conv_thr_per_atom = section.number("conv_thr", 1e-9);
  if (!(settings.conv_thr_per_atom > 0)) section.fail("conv_thr", "must be positive (Ry per atom)");
  if (auto input = section.optional_section("input"))
    read_input_overrides(section, *input, settings);
  for (const auto& [namelist, entries] : settings.overrides)
    for (const auto& entry : entries)
      if (entry.first.find('(') != std::string::npos) settings.all_species = true;
  if (settings.all_species && settings.pseudopotentials.size() > max_species)
    section.fail("pseudopotentials",
                 fmt::format("{} elements; pw.x takes at most {} species, and with "
                             "species-indexed input keys every element of this mapping is a "
                             "species of every frame",
                             settings.pseudopotentials.size(), max_species));
  section.finish(settings.smearing == "none" ? "with smearing: none" : "");
  return settings;
}

std::string symbol_of(int z) {
  return element(z).symbol;
}

// The species of a frame's input, in the mapping's order: every element of
// the mapping with species-indexed input keys, else the frame's own.
std::vector<const Pseudopotential*> frame_species(const QeSettings& settings,
                                                  const Structure& structure) {
  const std::vector<int> present = structure.species();
  std::vector<const Pseudopotential*> species;
  for (const auto& pseudo : settings.pseudopotentials)
    if (settings.all_species ||
        std::find(present.begin(), present.end(), pseudo.z) != present.end())
      species.push_back(&pseudo);
  return species;
}

// `pseudo_folder`: where the call's links to the pseudopotentials are, relative
// to the folder pw.x runs in (pw.x keeps pseudo_dir in 256 characters).
std::string write_input(const QeSettings& settings, const Structure& structure, int attempt,
                        const std::filesystem::path& pseudo_folder) {
  const std::vector<const Pseudopotential*> species = frame_species(settings, structure);
  std::map<std::string, std::map<std::string, std::string>> values;
  auto& control = values["control"];
  control["calculation"] = "'scf'";
  control["tprnfor"] = ".true.";
  control["tstress"] = ".true.";
  control["pseudo_dir"] = "'./" + pseudo_folder.string() + "/'";
  control["outdir"] = "'./tmp'";
  control["prefix"] = "'otfgp'";
  control["disk_io"] = "'none'";
  auto& system = values["system"];
  system["ibrav"] = "0";
  system["nat"] = std::to_string(structure.size());
  system["ntyp"] = std::to_string(species.size());  // pw.x accepts a species without atoms
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
  for (const Pseudopotential* pseudo : species)
    text << symbol_of(pseudo->z) << " " << fortran_real(element(pseudo->z).mass) << " "
         << pseudo->link_name << "\n";
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

// The text of a UPF file from just after "<PP_HEADER" to the header's end
// ("</PP_HEADER>" in v1, "/>" in v2); "" when there is none. The header comes
// before the radial grids: the file is read no further.
std::string pp_header(const std::filesystem::path& file) {
  const std::string_view tag = "<PP_HEADER";
  std::ifstream in(file);
  std::string line, header;
  bool in_header = false;
  while (std::getline(in, line)) {
    if (!in_header) {
      const auto at = line.find(tag);
      if (at == std::string::npos) continue;
      in_header = true;
      line = line.substr(at + tag.size());
    }
    header += line + "\n";
    if (header.find("</PP_HEADER>") != std::string::npos ||
        header.find("/>") != std::string::npos || header.size() > 100000)
      break;
  }
  return header;
}

// UPF v1: lines "value  description" inside <PP_HEADER>, one "Si  Element".
std::string v1_element(const std::string& header) {
  std::istringstream lines(header.substr(1));
  for (std::string line; std::getline(lines, line);) {
    const auto words = split_whitespace(line);
    if (words.size() >= 2 && words[1] == "Element") return std::string(words[0]);
  }
  return "";
}

// UPF v2: an attribute of <PP_HEADER …/>, element="Si", its value trimmed
// (files pad it: " B", "C ").
std::string v2_attribute(const std::string& header, const std::string_view name) {
  const char* const blank = " \t\r\n";
  for (auto at = header.find(name); at != std::string::npos; at = header.find(name, at + 1)) {
    if (at > 0 && !std::isspace(static_cast<unsigned char>(header[at - 1]))) continue;
    auto next = header.find_first_not_of(blank, at + name.size());
    if (next == std::string::npos || header[next] != '=') continue;
    next = header.find_first_not_of(blank, next + 1);
    if (next == std::string::npos || (header[next] != '"' && header[next] != '\'')) continue;
    const auto close = header.find(header[next], next + 1);
    if (close == std::string::npos) return "";
    return trim_blanks(std::string_view(header).substr(next + 1, close - next - 1));
  }
  return "";
}

class QeOracle final : public Oracle {
 public:
  explicit QeOracle(QeSettings settings) : settings_(std::move(settings)) {}

  std::string kind() const override { return "qe"; }

  void check(const std::vector<int>& species) const override {
    check_external_command(settings_.command);
    const bool uses_pseudo_dir =
        std::any_of(settings_.pseudopotentials.begin(), settings_.pseudopotentials.end(),
                    [](const Pseudopotential& pseudo) { return pseudo.in_pseudo_dir; });
    if (uses_pseudo_dir && !std::filesystem::is_directory(settings_.pseudo_dir))
      throw Error(fmt::format("{}: pseudopotential folder {} does not exist",
                              settings_.pseudopotentials_key, settings_.pseudo_dir.string()));
    for (int z : species) {
      if (find(z)) continue;
      const std::string symbol = element(z).symbol;
      throw Error(
          fmt::format("{}: no pseudopotential for {} (the structure has it); files for "
                      "{} in {}: {}",
                      settings_.pseudopotentials_key, symbol, symbol, settings_.pseudo_dir.string(),
                      candidates(symbol)));
    }
    // With species-indexed input keys every file is read in every call.
    std::vector<const Pseudopotential*> used;
    for (const auto& pseudo : settings_.pseudopotentials)
      if (settings_.all_species ||
          std::find(species.begin(), species.end(), pseudo.z) != species.end()) {
        check_file(pseudo);
        used.push_back(&pseudo);
      }
    check_functionals(used);
  }

  // pw.x stops on files of different functionals in one input ("conflicting
  // values for icorr"), and labels of different functionals in one model
  // would not agree: every file the structures use must have one, unless
  // input.system.input_dft overrides them.
  void check_functionals(const std::vector<const Pseudopotential*>& used) const {
    const auto system = settings_.overrides.find("system");
    if (system != settings_.overrides.end() && system->second.count("input_dft")) return;
    std::map<std::string, std::string> by_functional;  // functional → "Si: file"
    for (const Pseudopotential* pseudo : used)
      if (const auto functional = upf_functional(pseudo->file))
        by_functional.emplace(*functional,
                              std::string(element(pseudo->z).symbol) + ": " + pseudo->given);
    if (by_functional.size() < 2) return;
    std::string list;
    for (const auto& [functional, file] : by_functional)
      list += (list.empty() ? "" : "; ") + file + " is " + functional;
    throw Error(fmt::format(
        "{}: the files were made with different functionals ({}): pw.x stops on them "
        "(\"conflicting values\"), and labels of two functionals would not agree; choose "
        "files of one functional, or set input.system.input_dft",
        settings_.pseudopotentials_key, list));
  }

  // pw.x treats every structure as periodic in its cell: a cluster or molecule
  // needs a box around it (all-zero CELL_PARAMETERS failed with "coset: nsym == 0").
  void check_structure(const Structure& structure) const override {
    if (!(structure.volume() > singular_cell_volume))
      throw Error(fmt::format(
          "the qe oracle needs a cell (its volume is {:g} Å³): pw.x treats a structure as "
          "periodic in its cell, so give a molecule or cluster a box with vacuum around it (an "
          "extended-XYZ Lattice= some 10 Å wider than the atoms' extent)",
          structure.volume()));
  }

  Structure label(const Structure& structure, const std::filesystem::path& workdir,
                  int attempt) override {
    structure.validate();
    check_structure(structure);
    prepare_workdir(workdir);
    for (int z : structure.species())
      if (!find(z))
        throw Error(fmt::format("{}: no pseudopotential for {}", settings_.pseudopotentials_key,
                                element(z).symbol));
    const std::filesystem::path pseudo_folder = link_pseudopotentials(workdir, structure);
    const DftRun run{"pw.x", "pw.in", "pw.out", {"-input", "pw.in"}, "convergence NOT achieved"};
    const std::string output =
        run_dft(settings_.command, run, write_input(settings_, structure, attempt, pseudo_folder),
                workdir, attempt);
    const QeResult parsed =
        parse_pw_output(output, structure.size(), (workdir / "pw.out").string());
    // pw.x always computes a 3D-periodic stress; like otfgp's own potentials,
    // report one only for structures periodic in all three directions.
    return labelled_structure(structure, parsed,
                              structure.pbc[0] && structure.pbc[1] && structure.pbc[2]);
  }

  std::map<std::string, std::string> label_defaults(
      const std::map<std::string, std::string>& set) const override {
    std::map<std::string, std::string> defaults = {{"smearing", default_smearing}};
    const auto smearing = set.find("smearing");
    if (smearing == set.end() || smearing->second != "none")
      defaults["degauss"] = format_significant(default_degauss, 17);
    if (!set.count("kpoints")) defaults["kspacing"] = format_significant(default_kspacing, 17);
    const auto ecutwfc = set.find("ecutwfc");
    if (ecutwfc != set.end())
      if (const auto value = parse_real(ecutwfc->second))
        defaults["ecutrho"] = format_significant(ecutrho_per_ecutwfc * *value, 17);
    return defaults;
  }

  std::string canonical_label_value(const std::string& key,
                                    const std::string& value) const override {
    if (key != "smearing") return value;
    if (value == "mv" || value == "cold") return "marzari-vanderbilt";
    if (value == "mp") return "methfessel-paxton";
    if (value == "fd") return "fermi-dirac";
    return value;
  }

  std::vector<std::pair<std::string, std::filesystem::path>> label_files() const override {
    std::vector<std::pair<std::string, std::filesystem::path>> files;
    for (const auto& pseudo : settings_.pseudopotentials)
      files.emplace_back("pseudopotentials." + std::string(element(pseudo.z).symbol), pseudo.file);
    return files;
  }

 private:
  const Pseudopotential* find(int z) const {
    for (const auto& pseudo : settings_.pseudopotentials)
      if (pseudo.z == z) return &pseudo;
    return nullptr;
  }

  std::string key_of(const Pseudopotential& pseudo) const {
    return settings_.pseudopotentials_key + "." + element(pseudo.z).symbol;
  }

  void check_file(const Pseudopotential& pseudo) const {
    const std::string symbol = element(pseudo.z).symbol;
    if (!std::filesystem::is_regular_file(pseudo.file)) {
      if (pseudo.in_pseudo_dir)
        throw Error(fmt::format(
            "{}: pseudopotential file {} not found in {}; files for {} there: {}", key_of(pseudo),
            pseudo.given, settings_.pseudo_dir.string(), symbol, candidates(symbol)));
      throw Error(fmt::format("{}: pseudopotential file {} not found", key_of(pseudo),
                              pseudo.file.string()));
    }
    // A file for another element runs without a word from pw.x and labels
    // every frame wrongly (O's file under Mg: wrong energies, exit 0).
    const auto found = upf_element(pseudo.file);
    if (!found) {
      if (warned_.insert(pseudo.file).second)
        logger().warn(
            "{}: no element found in {} (not a UPF file?); not checked that it is "
            "a pseudopotential for {}",
            key_of(pseudo), pseudo.file.string(), symbol);
      return;
    }
    if (ascii_lower(*found) != ascii_lower(symbol))
      throw Error(
          fmt::format("{}: {} is a pseudopotential for {}, not {} (the element its UPF "
                      "header names)",
                      key_of(pseudo), pseudo.file.string(), *found, symbol));
  }

  // pw.x reads every pseudopotential from the one pseudo_dir; files from
  // several folders (or given as paths) are linked into `workdir/pseudo`.
  // Links the files of the frame's species into workdir/pseudo; returns
  // "pseudo", that folder relative to workdir.
  std::filesystem::path link_pseudopotentials(const std::filesystem::path& workdir,
                                              const Structure& structure) const {
    const std::filesystem::path name = "pseudo";
    const std::filesystem::path folder = workdir / name;
    std::error_code error;
    std::filesystem::create_directories(folder, error);
    if (error) throw Error("cannot create " + folder.string() + ": " + error.message());
    for (const Pseudopotential* species : frame_species(settings_, structure)) {
      const Pseudopotential& pseudo = *species;
      if (!std::filesystem::is_regular_file(pseudo.file))
        throw Error(fmt::format("{}: pseudopotential file {} not found", key_of(pseudo),
                                pseudo.file.string()));
      const std::filesystem::path link = folder / pseudo.link_name;
      std::filesystem::remove(link, error);  // a retry in the same folder
      std::filesystem::create_symlink(pseudo.file, link, error);
      if (error) std::filesystem::copy_file(pseudo.file, link, error);  // no links there
      if (error)
        throw Error(fmt::format("{}: cannot link {} into {}: {}", key_of(pseudo),
                                pseudo.file.string(), folder.string(), error.message()));
    }
    return name;
  }

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
  mutable std::set<std::filesystem::path> warned_;  // files without an element, warned once
};

// A number pw.x printed, and half the unit of its last printed digit: it
// prints the SCF accuracy as F17.8 above 1e-8 ("0.00000006", rounded up from
// 5.6e-8 or less) and as 1PE17.1 below, the threshold as 1PE12.1.
struct Printed {
  double value = 0.0, half_unit = 0.0;
};
std::optional<Printed> printed_number(std::string_view token) {
  const auto value = parse_real(token);
  if (!value) return std::nullopt;
  const auto exponent_at = token.find_first_of("eEdD");
  const std::string_view mantissa = token.substr(0, exponent_at);
  const auto point = mantissa.find('.');
  const int decimals =
      point == std::string_view::npos ? 0 : static_cast<int>(mantissa.size() - point - 1);
  const long long exponent = exponent_at == std::string_view::npos
                                 ? 0
                                 : parse_integer(token.substr(exponent_at + 1)).value_or(0);
  return Printed{*value, 0.5 * std::pow(10.0, static_cast<double>(exponent - decimals))};
}

// Throws not_converged for pw.x's "convergence NOT achieved", and for an SCF
// whose last estimate of its accuracy is above its threshold (Ry), beyond
// what their printing rounds: pw.x 6.x prints "convergence has been achieved"
// at electron_maxstep when told not to stop (scf_must_converge = .false.),
// so the numbers decide.
void check_scf_converged(const std::string& text, const std::string& source) {
  if (const auto at = text.find("convergence NOT achieved"); at != std::string::npos)
    throw OracleFailure(FailureKind::not_converged, source + ": SCF convergence NOT achieved (" +
                                                        text.substr(at, text.find('\n', at) - at) +
                                                        ")");
  std::optional<Printed> threshold, accuracy;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const auto value_after = [&](const char* phrase, char mark, std::optional<Printed>& value) {
      const auto at = line.find(phrase);
      if (at == std::string::npos || line.find(mark, at) == std::string::npos) return;
      const auto words = split_whitespace(std::string_view(line).substr(line.find(mark, at) + 1));
      if (!words.empty())
        if (const auto number = printed_number(words.front())) value = number;
    };
    value_after("convergence threshold", '=', threshold);
    value_after("estimated scf accuracy", '<', accuracy);
  }
  if (threshold && accuracy &&
      accuracy->value - accuracy->half_unit > threshold->value + threshold->half_unit)
    throw OracleFailure(FailureKind::not_converged,
                        fmt::format("{}: SCF not converged: its last estimated scf accuracy, {:g} "
                                    "Ry, is above its convergence threshold, {:g} Ry",
                                    source, accuracy->value, threshold->value));
}

}  // namespace

std::optional<std::string> upf_element(const std::filesystem::path& file) {
  const std::string header = pp_header(file);
  if (header.empty()) return std::nullopt;
  // "<PP_HEADER>" (v1) has no attributes; "<PP_HEADER …/>" (v2) has them.
  const std::string symbol =
      header[0] == '>' ? v1_element(header) : v2_attribute(header, "element");
  if (symbol.empty() || symbol.find_first_of(" \t") != std::string::npos) return std::nullopt;
  return symbol;
}

std::optional<std::string> upf_functional(const std::filesystem::path& file) {
  const std::string header = pp_header(file);
  if (header.empty()) return std::nullopt;
  std::string text;
  if (header[0] == '>') {  // v1: "SLA PW PBX PBC PBE  Exchange-Correlation functional"
    std::istringstream lines(header.substr(1));
    for (std::string line; std::getline(lines, line);)
      if (const auto at = line.find("Exchange-Correlation"); at != std::string::npos)
        text = line.substr(0, at);
  } else {
    text = v2_attribute(header, "functional");
  }
  std::string upper;
  for (const char c : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const auto words = split_whitespace(upper);
  if (words.size() == 1) {
    static const std::map<std::string_view, std::string> short_names = {
        {"PZ", "SLA PZ NOGX NOGC"},   {"LDA", "SLA PZ NOGX NOGC"},  {"PBE", "SLA PW PBX PBC"},
        {"PBESOL", "SLA PW PSX PSC"}, {"BLYP", "SLA LYP B88 BLYP"}, {"TPSS", "SLA PW TPSS TPSS"}};
    const auto found = short_names.find(words[0]);
    if (found == short_names.end()) return std::nullopt;
    return found->second;
  }
  if (words.size() < 4) return std::nullopt;
  return fmt::format("{} {} {} {}", words[0], words[1], words[2] == "PBE" ? "PBX" : words[2],
                     words[3] == "PBE" ? "PBC" : words[3]);
}

QeResult parse_pw_output(const std::string& text, int atoms, const std::string& source) {
  check_scf_converged(text, source);
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
