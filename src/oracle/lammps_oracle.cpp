#include "otfgp/oracle/lammps_oracle.hpp"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/file_fingerprint.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/lattice.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/scratch_folder.hpp"
#include "otfgp/oracle/external.hpp"
#include "otfgp/oracle/oracle_settings.hpp"

namespace otfgp::oracle {

namespace {

const char* const lammps_potentials = "/usr/share/lammps/potentials";
// LAMMPS's own conversion of eV/Å³ to bar in metal units (update.cpp,
// nktv2p), which differs from CODATA in the 8th digit: dividing by it
// recovers LAMMPS's virial exactly.
constexpr double lammps_bar_per_ev_a3 = 1.6021765e6;

struct LammpsSettings {
  ExternalCommand command;
  std::string pair_style;
  std::vector<std::string> pair_coeff;
  std::vector<std::string> extra_commands;
  std::vector<int> elements;      // LAMMPS type order; empty: the structure's species by Z
  std::map<int, double> charges;  // atomic number → charge (atom_style charge)
  std::string key;                // "oracle", for messages
};

// Words of a LAMMPS command that name files become absolute paths: in the
// config's folder (first), else bare names in `potentials_dir` (otfgp's
// $LAMMPS_POTENTIALS: Debian's lmp does not read the variable itself and
// takes its own folder's file of that name).
std::string resolve_files(const std::string& line, const std::filesystem::path& base_dir,
                          const std::filesystem::path& potentials_dir) {
  std::string result;
  for (auto word : split_whitespace(line)) {
    std::string text(word);
    const std::filesystem::path path = text;
    if (path.is_relative() && text.find('{') == std::string::npos) {
      if (std::filesystem::is_regular_file(base_dir / path))
        text = std::filesystem::absolute(base_dir / path).lexically_normal().string();
      else if (!path.has_parent_path() && !potentials_dir.empty() &&
               std::filesystem::is_regular_file(potentials_dir / path))
        text = std::filesystem::absolute(potentials_dir / path).lexically_normal().string();
    }
    result += (result.empty() ? "" : " ") + text;
  }
  return result;
}

// A `pair_coeff * * … W1 … Wn` line maps LAMMPS types 1…n to the entries of a
// parameter file by its last n words. When those words are element symbols
// (or NULL, for a hybrid style's other types), each must be its type's element
// here: types follow atomic number (or `elements`), and "Ga N" against types
// N, Ga silently labels every frame with the elements swapped. An element that
// is not in the run (parameters borrowed for another element) is left alone;
// lines with "{elements}", other type ranges, or other words are not checked.
void check_type_words(const std::string& line, const std::vector<int>& types, bool fixed_types,
                      const std::string& key) {
  if (line.find("{elements}") != std::string::npos) return;
  const auto words = split_whitespace(line);
  const std::size_t n = types.size();
  if (words.size() < 3 + n + 1 || words[1] != "*" || words[2] != "*") return;
  const std::size_t first = words.size() - n;
  std::vector<int> mapped;  // 0 for NULL
  for (std::size_t k = first; k < words.size(); ++k) {
    const int z = words[k] == "NULL" ? 0 : find_atomic_number(words[k]);
    if (words[k] != "NULL" && z == 0) return;  // not a per-type element map
    mapped.push_back(z);
  }
  if (std::all_of(mapped.begin(), mapped.end(), [](int z) { return z == 0; })) return;
  for (std::size_t t = 0; t < n; ++t) {
    const bool in_run = std::find(types.begin(), types.end(), mapped[t]) != types.end();
    if (mapped[t] == 0 || mapped[t] == types[t] || !in_run) continue;
    std::string given;
    for (std::size_t k = first; k < words.size(); ++k)
      given += std::string(given.empty() ? "" : " ") + std::string(words[k]);
    throw Error(fmt::format(
        "{}.pair_coeff: in '{}' the words '{}' map LAMMPS type {} to {}, but type {} is {} here "
        "(the types are {}, {}): the labels would come from the wrong elements. Write "
        "{{elements}} in place of '{}' (the element symbols in type order), or give them in "
        "type order",
        key, line, given, t + 1, element(mapped[t]).symbol, t + 1, element(types[t]).symbol,
        symbols_text(types),
        fixed_types ? "as " + key + ".elements lists them" : "by atomic number", given));
  }
}

// A `pair_coeff I J …` line with I or J other than `*` (1, 2*3, *2) names
// LAMMPS types by number: which element a number means must then be the same
// in every frame, which only `elements` fixes (without it the types follow each
// frame's own species, and type 1 of a frame without Na is Cl).
bool names_types_by_number(const std::string& line) {
  const auto words = split_whitespace(line);
  return words.size() >= 3 && words[0] == "pair_coeff" && (words[1] != "*" || words[2] != "*");
}

// The box LAMMPS gets for a structure: right-handed (LAMMPS's is; for a
// periodic direction −a spans the same lattice as a), and along each
// non-periodic direction a vector perpendicular to the periodic ones and to
// the other such vectors (LAMMPS allows no tilt into a non-periodic
// direction), as long as the atoms' extent along it plus a margin, from
// `origin`: LAMMPS drops atoms outside a non-periodic box, and a frame's free
// direction may have no vector, a short one, or atoms outside it.
struct LammpsBox {
  Eigen::Matrix3d cell;
  Eigen::RowVector3d origin = Eigen::RowVector3d::Zero();
};

LammpsBox lammps_box(const Structure& structure) {
  constexpr double margin = 1.0;  // Å beyond the outermost atoms
  LammpsBox box;
  box.cell = structure.cell;
  std::vector<int> periodic, free;
  for (int d = 0; d < 3; ++d) (structure.pbc[d] ? periodic : free).push_back(d);
  if (!free.empty()) {
    // Orthonormal directions spanning what the periodic vectors leave free.
    std::vector<Eigen::Vector3d> axes;
    if (periodic.size() == 2) {
      axes.push_back(Eigen::Vector3d(box.cell.row(periodic[0]))
                         .cross(Eigen::Vector3d(box.cell.row(periodic[1])))
                         .normalized());
    } else if (periodic.size() == 1) {
      const Eigen::Vector3d u = Eigen::Vector3d(box.cell.row(periodic[0])).normalized();
      Eigen::Index least = 0;
      u.cwiseAbs().minCoeff(&least);
      const Eigen::Vector3d e = Eigen::Vector3d::Unit(least);
      const Eigen::Vector3d v = (e - e.dot(u) * u).normalized();
      axes = {v, u.cross(v)};
    } else {
      axes = {Eigen::Vector3d::UnitX(), Eigen::Vector3d::UnitY(), Eigen::Vector3d::UnitZ()};
    }
    for (std::size_t k = 0; k < free.size(); ++k) box.cell.row(free[k]) = axes[k].transpose();
  }
  if (!(std::abs(box.cell.determinant()) > singular_cell_volume))
    throw Error("lammps oracle: the periodic lattice vectors are parallel or zero");
  if (box.cell.determinant() < 0) box.cell.row(free.empty() ? 2 : free[0]) *= -1.0;
  for (int d : free) {
    const Eigen::Vector3d axis = box.cell.row(d);  // unit length
    const Eigen::VectorXd along = structure.positions * axis;
    const double low = along.size() ? along.minCoeff() : 0.0;
    const double high = along.size() ? along.maxCoeff() : 0.0;
    box.origin += (low - margin) * axis.transpose();
    box.cell.row(d) *= high - low + 2 * margin;
  }
  return box;
}

class LammpsOracle final : public Oracle {
 public:
  explicit LammpsOracle(LammpsSettings settings) : settings_(std::move(settings)) {}

  std::string kind() const override { return "lammps"; }

  void check(const std::vector<int>& species) const override {
    check_external_command(settings_.command);
    if (!settings_.elements.empty())
      for (int z : species)
        if (std::find(settings_.elements.begin(), settings_.elements.end(), z) ==
            settings_.elements.end())
          throw Error(fmt::format("{}.elements: the structure has {}, which is not listed",
                                  settings_.key, element(z).symbol));
    if (!settings_.charges.empty())
      for (int z : species)
        if (!settings_.charges.count(z))
          throw Error(
              fmt::format("{}.charges: no charge for {}", settings_.key, element(z).symbol));
    std::vector<int> present = species;
    std::sort(present.begin(), present.end());
    present.erase(std::unique(present.begin(), present.end()), present.end());
    check_type_numbers(present);
    trial_run(type_order(present), present);
  }

  // The parameter files the pair_coeff lines name, also those among
  // `commands` (resolve_files made them absolute paths); not the files other
  // commands name, which may be LAMMPS's outputs (`log`, `dump`).
  std::vector<std::pair<std::string, std::filesystem::path>> label_files() const override {
    std::vector<std::filesystem::path> files;
    std::vector<std::string> lines = settings_.pair_coeff;
    for (const auto& line : settings_.extra_commands)
      if (line.rfind("pair_coeff", 0) == 0) lines.push_back(line);
    for (const auto& line : lines)
      for (const auto word : split_whitespace(line)) {
        const std::filesystem::path path(word);
        std::error_code error;
        if (path.is_absolute() && std::filesystem::is_regular_file(path, error))
          files.push_back(path);
      }
    return named_files(files);
  }

  Structure label(const Structure& structure, const std::filesystem::path& workdir,
                  int /*attempt*/) override {
    structure.validate();
    return run(structure, workdir, type_order(structure.species()));
  }

 private:
  // The LAMMPS type order for a frame of these species (distinct, ascending):
  // `elements`, else the species; the element words of every pair_coeff line
  // are checked against it here, once per frame.
  std::vector<int> type_order(const std::vector<int>& species) const {
    const std::vector<int>& types = settings_.elements.empty() ? species : settings_.elements;
    for (const auto& line : settings_.pair_coeff)
      check_type_words(line, types, !settings_.elements.empty(), settings_.key);
    return types;
  }

  // Without `elements`, types follow each frame's species: a line naming
  // types by number would mean other elements in frames of other species
  // (type 1 is Na in a NaCl frame, Cl in a Cl-only one, which then got Na–Na's
  // parameters, silently). With one element in the run, type 1 is always it.
  void check_type_numbers(const std::vector<int>& present) const {
    if (!settings_.elements.empty() || present.size() < 2) return;
    for (const auto& [key, lines] : {std::pair{"pair_coeff", &settings_.pair_coeff},
                                     std::pair{"commands", &settings_.extra_commands}})
      for (const auto& line : *lines)
        if (names_types_by_number(line))
          throw Error(fmt::format(
              "{}.{}: '{}' names LAMMPS types by number and the run has {} elements ({}): give "
              "{}.elements, the element of each type in order (e.g. [{}]); without it the types "
              "follow each frame's own species, and a number means another element in a frame "
              "that lacks one",
              settings_.key, key, line, present.size(), symbols_text(present), settings_.key,
              symbols_text(present, ", ")));
  }

  // LAMMPS reads the parameter files and maps elements at pair_coeff, before
  // any force: one atom of each species the run has (`present`; every type of
  // `types` is declared) in a roomy box, run once, shows a missing file, a
  // missing element or a bad line before the first frame is sent.
  void trial_run(const std::vector<int>& types, const std::vector<int>& present) const {
    if (present.empty()) return;
    const double edge = std::max(10.0, 2.5 * static_cast<double>(present.size()));
    Structure trial;
    trial.cell = Eigen::Matrix3d::Identity() * edge;
    trial.pbc = {true, true, true};
    trial.positions = Positions::Zero(static_cast<Eigen::Index>(present.size()), 3);
    for (std::size_t t = 0; t < present.size(); ++t) {
      trial.numbers.push_back(present[t]);
      trial.positions(static_cast<Eigen::Index>(t), 0) = edge * t / present.size();
      trial.positions(static_cast<Eigen::Index>(t), 1) = 0.5 * edge * (t % 2);
    }
    const ScratchFolder scratch("otfgp-lammps-check");
    std::string failure;
    try {
      run(trial, scratch.path(), types);
    } catch (const InterruptedError&) {
      throw;
    } catch (const Error& error) {
      failure = error.what();
    }
    if (!failure.empty())
      throw Error(fmt::format(
          "{}: LAMMPS fails on a test frame with one atom of each element ({}), so it would fail "
          "on every frame; check {}.pair_style, {}.pair_coeff and the parameter file (the test "
          "frame's scratch folder named below is already removed): {}",
          settings_.key, symbols_text(present), settings_.key, settings_.key, failure));
  }

  // `types`: the LAMMPS type order (type_order, which checked the pair_coeff lines against it).
  Structure run(const Structure& structure, const std::filesystem::path& workdir,
                const std::vector<int>& types) const {
    prepare_workdir(workdir);
    for (int z : structure.numbers)
      if (std::find(types.begin(), types.end(), z) == types.end())
        throw Error(fmt::format("{}.elements: the structure has {}, which is not listed",
                                settings_.key, element(z).symbol));

    // LAMMPS's box (lammps_box) made lower-triangular with the same lengths
    // and angles; `rotation` maps our Cartesian frame onto LAMMPS's (row
    // vectors: lower = box.cell · R).
    const LammpsBox box = lammps_box(structure);
    const Eigen::Matrix3d lower = lower_triangular_cell(box.cell);
    const Eigen::Matrix3d rotation = box.cell.inverse() * lower;
    const bool charged = !settings_.charges.empty();

    const std::string elements = symbols_text(types);
    {
      std::ofstream data(workdir / "data.lmp");
      data << "otfgp lammps oracle frame\n\n"
           << structure.size() << " atoms\n"
           << types.size() << " atom types\n\n"
           << fmt::format("0 {:.17g} xlo xhi\n0 {:.17g} ylo yhi\n0 {:.17g} zlo zhi\n", lower(0, 0),
                          lower(1, 1), lower(2, 2))
           << fmt::format("{:.17g} {:.17g} {:.17g} xy xz yz\n\nMasses\n\n", lower(1, 0),
                          lower(2, 0), lower(2, 1));
      for (std::size_t t = 0; t < types.size(); ++t)
        data << t + 1 << " " << format_real(element(types[t]).mass) << "\n";
      data << "\nAtoms # " << (charged ? "charge" : "atomic") << "\n\n";
      for (int i = 0; i < structure.size(); ++i) {
        const Eigen::RowVector3d r = (structure.positions.row(i) - box.origin) * rotation;
        const int type =
            static_cast<int>(std::find(types.begin(), types.end(), structure.numbers[i]) -
                             types.begin()) +
            1;
        data << i + 1 << " " << type << " ";
        if (charged) data << format_real(settings_.charges.at(structure.numbers[i])) << " ";
        data << fmt::format("{:.17g} {:.17g} {:.17g}\n", r[0], r[1], r[2]);
      }
    }
    {
      std::ofstream input(workdir / "in.lmp");
      input << "units metal\natom_style " << (charged ? "charge" : "atomic") << "\n"
            << fmt::format("boundary {} {} {}\n", structure.pbc[0] ? "p" : "f",
                           structure.pbc[1] ? "p" : "f", structure.pbc[2] ? "p" : "f")
            << "box tilt large\nread_data data.lmp\n"
            << replace_all(settings_.pair_style, "{elements}", elements) << "\n";
      for (const auto& line : settings_.pair_coeff)
        input << replace_all(line, "{elements}", elements) << "\n";
      for (const auto& line : settings_.extra_commands)
        input << replace_all(line, "{elements}", elements) << "\n";
      // Atoms have no velocities, so the pressure is the virial alone; the
      // compute makes that explicit.
      input << "compute otfgp_virial all pressure NULL virial\n"
            << "thermo_style custom step pe c_otfgp_virial[1] c_otfgp_virial[2] "
               "c_otfgp_virial[3] c_otfgp_virial[6] c_otfgp_virial[5] c_otfgp_virial[4]\n"
            << "thermo_modify format float %.17g\n"
            << "dump otfgp_forces all custom 1 forces.dump id fx fy fz\n"
            << "dump_modify otfgp_forces format float %.17g sort id\n"
            << "run 0\n";
    }
    std::filesystem::remove(workdir / "forces.dump");
    run_external(settings_.command, {"-in", "in.lmp", "-log", "none", "-nocite"}, workdir,
                 "lammps.out", "lmp");
    return read_results(structure, workdir, rotation);
  }

  static Structure read_results(const Structure& structure, const std::filesystem::path& workdir,
                                const Eigen::Matrix3d& rotation) {
    const auto out_path = workdir / "lammps.out";
    std::istringstream lines(read_output(out_path, "lmp"));
    std::string line;
    std::optional<std::vector<double>> thermo;
    bool header = false;
    while (std::getline(lines, line)) {
      const auto words = split_whitespace(line);
      if (!words.empty() && words[0] == "Step") {
        header = true;
        continue;
      }
      if (header && !thermo && words.size() == 8) {
        const std::vector<double> values = numbers_in(line);
        if (values.size() == 8) thermo = values;
      }
    }
    if (!thermo) unparsable(out_path, "no thermo line after 'Step'");

    Structure labelled = structure;
    labelled.energy = (*thermo)[1];
    // LAMMPS's pressure tensor is positive under compression; ASE's stress is its negative.
    Eigen::Matrix3d stress;
    const auto& v = *thermo;
    stress << v[2], v[7], v[6], v[7], v[3], v[5], v[6], v[5], v[4];
    stress *= -1.0 / lammps_bar_per_ev_a3;
    stress = rotation * stress * rotation.transpose();
    Voigt voigt;
    voigt << stress(0, 0), stress(1, 1), stress(2, 2), stress(1, 2), stress(0, 2), stress(0, 1);
    if (structure.pbc[0] && structure.pbc[1] && structure.pbc[2]) labelled.stress = voigt;

    const auto dump_path = workdir / "forces.dump";
    std::ifstream dump(dump_path);
    if (!dump) unparsable(dump_path, "missing");
    std::optional<long long> dumped;
    while (std::getline(dump, line) && line.rfind("ITEM: ATOMS", 0) != 0)
      if (line.rfind("ITEM: NUMBER OF ATOMS", 0) == 0 && std::getline(dump, line))
        dumped = parse_integer(trim_blanks(line));
    // A `commands` line that adds or removes atoms (replicate, create_atoms,
    // delete_atoms) labels another system.
    if (dumped != static_cast<long long>(structure.size()))
      unparsable(dump_path, fmt::format("LAMMPS ran {} atoms, the frame has {} (does a `commands` "
                                        "line add or delete atoms?)",
                                        dumped ? std::to_string(*dumped) : "an unknown number of",
                                        structure.size()));
    Positions forces(structure.size(), 3);
    std::vector<bool> seen(structure.size(), false);
    for (int i = 0; i < structure.size(); ++i) {
      if (!std::getline(dump, line)) unparsable(dump_path, "fewer force lines than atoms");
      const auto words = split_whitespace(line);
      const auto id = words.size() == 4 ? parse_integer(words[0]) : std::nullopt;
      if (!id || *id < 1 || *id > structure.size() || seen[*id - 1])
        unparsable(dump_path, "bad line: " + line);
      Eigen::RowVector3d f;
      for (int k = 0; k < 3; ++k) {
        const auto value = parse_real(words[k + 1]);
        if (!value) unparsable(dump_path, "bad line: " + line);
        f[k] = *value;
      }
      seen[*id - 1] = true;
      forces.row(*id - 1) = f * rotation.transpose();
    }
    labelled.forces = forces;
    if (!std::isfinite(*labelled.energy) || !forces.allFinite())
      unparsable(out_path, "non-finite energy or forces");
    return labelled;
  }

  LammpsSettings settings_;
};

}  // namespace

std::unique_ptr<Oracle> make_lammps_oracle(const ConfigSection& given,
                                           const std::filesystem::path& base_dir) {
  ConfigSection section = given;
  section.expect_keys({"kind", "command", "timeout", "environment", "pair_style", "pair_coeff",
                       "commands", "elements", "charges"});
  LammpsSettings settings;
  settings.key = section.name("kind").substr(0, section.name("kind").rfind('.'));
  if (settings.key == "kind") settings.key = "oracle";
  settings.command = read_external_command(section, base_dir, "lmp");
  // Bare parameter file names: the oracle's environment's LAMMPS_POTENTIALS,
  // else otfgp's, else Debian's folder.
  const auto given_folder = settings.command.environment.find("LAMMPS_POTENTIALS");
  const char* own_folder = std::getenv("LAMMPS_POTENTIALS");
  const std::filesystem::path potentials_dir = given_folder != settings.command.environment.end()
                                                   ? given_folder->second
                                               : own_folder ? own_folder
                                                            : lammps_potentials;
  if (!settings.command.environment.count("LAMMPS_POTENTIALS") &&
      std::filesystem::is_directory(potentials_dir))
    settings.command.environment["LAMMPS_POTENTIALS"] = potentials_dir.string();
  settings.pair_style = section.text("pair_style");
  if (settings.pair_style.rfind("pair_style", 0) != 0)
    settings.pair_style = "pair_style " + settings.pair_style;
  for (auto line : section.texts("pair_coeff")) {
    if (line.rfind("pair_coeff", 0) != 0) line = "pair_coeff " + line;
    settings.pair_coeff.push_back(resolve_files(line, base_dir, potentials_dir));
  }
  if (settings.pair_coeff.empty()) section.fail("pair_coeff", "at least one pair_coeff line");
  if (section.has("commands"))
    for (const auto& line : section.texts("commands"))
      settings.extra_commands.push_back(resolve_files(line, base_dir, potentials_dir));
  if (section.has("elements"))
    for (const auto& symbol : section.texts("elements")) {
      const int z = find_atomic_number(symbol);
      if (z == 0) section.fail("elements", unknown_element_text(symbol));
      if (std::find(settings.elements.begin(), settings.elements.end(), z) !=
          settings.elements.end())
        section.fail("elements", symbol + " is listed twice (one LAMMPS type per element)");
      settings.elements.push_back(z);
    }
  if (auto charges = section.optional_section("charges")) {
    if (!charges->node().IsMap()) section.fail("charges", "expected a mapping element → charge");
    for (const auto& symbol : charges->keys()) {
      const int z = find_atomic_number(symbol);
      if (z == 0) charges->fail(symbol, unknown_element_text(symbol));
      settings.charges[z] = charges->number(symbol);
    }
  }
  section.finish();
  return std::make_unique<LammpsOracle>(std::move(settings));
}

}  // namespace otfgp::oracle
