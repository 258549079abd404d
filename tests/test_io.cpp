// Structure I/O: extended XYZ and POSCAR against ASE 3.22 (both directions),
// exact round trips, format dispatch, and the errors for malformed files.

#include <Eigen/LU>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/scratch_folder.hpp"
#include "support/environment.hpp"
#include "support/python.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using otfgp::testing::python_output;
using otfgp::testing::TemporaryDirectory;
using Json = nlohmann::ordered_json;

namespace {

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary);
  file << text;
  REQUIRE(file.good());
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream input(text);
  for (std::string line; std::getline(input, line);) lines.push_back(line);
  return lines;
}

// A triclinic cell with random fractional positions, full-precision numbers
// everywhere, labels, info entries and extra columns of every type.
Structure random_crystal(std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0), signed_unit(-1.0, 1.0);
  Structure s;
  s.cell << 5.1 + 0.3 * unit(rng), 0.2 * signed_unit(rng), 0.3 * signed_unit(rng),
      0.4 * signed_unit(rng), 5.6 + 0.3 * unit(rng), 0.1 * signed_unit(rng), 0.2 * signed_unit(rng),
      0.3 * signed_unit(rng), 6.2 + 0.3 * unit(rng);
  s.numbers = {56, 45, 8, 8, 8, 1};
  Positions fractional(6, 3);
  for (int i = 0; i < fractional.size(); ++i) fractional.data()[i] = unit(rng);
  s.positions = fractional * s.cell;
  s.positions(5, 2) = -1e-17;  // a number that needs an exponent
  s.energy = -37.123456789012345 + signed_unit(rng);
  Positions forces(6, 3);
  for (int i = 0; i < forces.size(); ++i) forces.data()[i] = signed_unit(rng);
  s.forces = forces;
  Voigt stress;
  for (int i = 0; i < 6; ++i) stress[i] = 0.01 * signed_unit(rng);
  s.stress = stress;
  s.info = {{"note", "hello world"},
            {"step", "3"},
            {"converged", "T"},
            {"vec", "1.5 2.5 3.5"},
            {"temperature", "300.5"},
            {"config_type", "bulk"},
            {"free_energy", format_real(*s.energy - 0.01)}};
  s.extra_properties.push_back({"tags", 'I', 1, {"1", "2", "3", "3", "3", "-4"}});
  s.extra_properties.push_back(
      {"labels", 'S', 1, {"Ba_site", "Rh_site", "O1", "O2", "O3", "H_interstitial"}});
  s.extra_properties.push_back(
      {"move_mask",
       'L',
       3,
       {"T", "T", "T", "F", "F", "F", "T", "F", "T", "T", "T", "T", "T", "T", "T", "F", "T", "T"}});
  std::vector<double> magmoms;
  for (int i = 0; i < 6; ++i) magmoms.push_back(signed_unit(rng));
  set_real_property(s, "initial_magmoms", magmoms);
  return s;
}

Structure methane() {
  Structure s;
  s.cell.setZero();
  s.pbc = {false, false, false};
  s.numbers = {6, 1, 1, 1, 1};
  s.positions.resize(5, 3);
  s.positions << 0, 0, 0, 0.629118, 0.629118, 0.629118, -0.629118, -0.629118, 0.629118, 0.629118,
      -0.629118, -0.629118, -0.629118, 0.629118, -0.629118;
  s.energy = -24.0;
  return s;
}

Structure slab() {
  Structure s;
  s.cell << 2.553, 0, 0, 1.2765, 2.2109, 0, 0, 0, 20.0;
  s.pbc = {true, true, false};
  s.numbers = {29, 29};
  s.positions.resize(2, 3);
  s.positions << 0, 0, 10.0, 1.2765, 0.737, 12.084;
  Positions forces(2, 3);
  forces << 0, 0, 0.125, 0, 0, -0.125;
  s.forces = forces;
  return s;
}

void require_same(const Structure& a, const Structure& b) {
  CHECK(a.numbers == b.numbers);
  CHECK(a.cell == b.cell);
  CHECK(a.positions == b.positions);
  CHECK(a.pbc == b.pbc);
  CHECK(a.energy == b.energy);
  REQUIRE(a.forces.has_value() == b.forces.has_value());
  if (a.forces) CHECK(*a.forces == *b.forces);
  REQUIRE(a.stress.has_value() == b.stress.has_value());
  if (a.stress) CHECK(*a.stress == *b.stress);
  CHECK(a.info == b.info);
  REQUIRE(a.extra_properties.size() == b.extra_properties.size());
  for (std::size_t i = 0; i < a.extra_properties.size(); ++i) {
    CHECK(a.extra_properties[i].name == b.extra_properties[i].name);
    CHECK(a.extra_properties[i].type == b.extra_properties[i].type);
    CHECK(a.extra_properties[i].columns == b.extra_properties[i].columns);
    CHECK(a.extra_properties[i].values == b.extra_properties[i].values);
  }
}

// Python that prints, as JSON, what ASE reads from a file: one object per frame.
const std::string ase_dump = R"PY(
import json, sys
import numpy as np
import ase.io
from ase.constraints import FixAtoms, FixCartesian, FixScaled

def plain(value):
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()] if value.ndim else plain(value.item())
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value

def move_mask(atoms):
    """Per atom and direction: True where the atom may move (VASP's T)."""
    if not atoms.constraints:
        return None
    mask = np.ones((len(atoms), 3), dtype=bool)
    for c in atoms.constraints:
        if isinstance(c, FixAtoms):
            mask[c.index] = False
        elif isinstance(c, FixCartesian):  # ASE 3.22 stores True = free here
            mask[c.a] = np.asarray(c.mask)
        elif isinstance(c, FixScaled):  # and True = fixed here
            mask[c.a] = ~np.asarray(c.mask)
        else:
            raise TypeError(c)
    return mask.tolist()

def dump(frames):
    out = []
    for a in frames:
        d = {'numbers': a.numbers.tolist(), 'positions': a.positions.tolist(),
             'cell': a.cell.array.tolist(), 'pbc': [bool(x) for x in a.pbc],
             'info': {k: plain(v) for k, v in a.info.items()},
             'arrays': {k: plain(v) for k, v in a.arrays.items()
                        if k not in ('numbers', 'positions')},
             'move_mask': move_mask(a)}
        if a.calc is not None:
            d['results'] = {k: plain(v) for k, v in a.calc.results.items()}
        out.append(d)
    return out
)PY";

Json ase_read(const std::filesystem::path& path, const std::string& format) {
  const std::string code = ase_dump + R"PY(
print(json.dumps(dump(ase.io.read(sys.argv[1], index=':', format=sys.argv[2]))))
)PY";
  return Json::parse(python_output(code, {path.string(), format}));
}

Positions matrix_from(const Json& rows) {
  Positions m(static_cast<Eigen::Index>(rows.size()), 3);
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (int k = 0; k < 3; ++k) m(static_cast<Eigen::Index>(i), k) = rows[i][k].get<double>();
  return m;
}

Eigen::Matrix3d cell_from(const Json& rows) {
  Eigen::Matrix3d m;
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 3; ++k) m(i, k) = rows[i][k].get<double>();
  return m;
}

// Whether otfgp's text for an info entry means what ASE parsed from it.
bool same_value(const std::string& text, const Json& value) {
  if (value.is_boolean()) return text == (value.get<bool>() ? "T" : "F");
  if (value.is_number()) {
    const auto number = parse_real(text);
    return number && *number == value.get<double>();
  }
  if (value.is_string()) return text == value.get<std::string>();
  if (value.is_array()) {
    std::vector<std::string> parts;
    for (const auto part : split_whitespace(text)) parts.emplace_back(part);
    if (parts.size() != value.size()) return false;
    for (std::size_t i = 0; i < parts.size(); ++i)
      if (!same_value(parts[i], value[i])) return false;
    return true;
  }
  return false;
}

// Compares what otfgp read with what ASE read from the same file: exactly when
// position_tolerance is 0 (both parsed the same decimal text), otherwise
// positions and cell to within that tolerance (Å).
void require_matches_ase(const Structure& ours, const Json& ase, double position_tolerance) {
  REQUIRE(ours.numbers == ase["numbers"].get<std::vector<int>>());
  const Positions positions = matrix_from(ase["positions"]);
  if (position_tolerance == 0.0)
    CHECK(ours.positions == positions);
  else
    CHECK((ours.positions - positions).cwiseAbs().maxCoeff() <= position_tolerance);
  if (position_tolerance == 0.0)
    CHECK(ours.cell == cell_from(ase["cell"]));
  else
    CHECK((ours.cell - cell_from(ase["cell"])).cwiseAbs().maxCoeff() <= position_tolerance);
  CHECK(ours.pbc[0] == ase["pbc"][0].get<bool>());
  CHECK(ours.pbc[1] == ase["pbc"][1].get<bool>());
  CHECK(ours.pbc[2] == ase["pbc"][2].get<bool>());
  const Json results = ase.value("results", Json::object());
  REQUIRE(ours.energy.has_value() == results.contains("energy"));
  if (ours.energy) CHECK(*ours.energy == results["energy"].get<double>());
  REQUIRE(ours.forces.has_value() == results.contains("forces"));
  if (ours.forces) CHECK(*ours.forces == matrix_from(results["forces"]));
  REQUIRE(ours.stress.has_value() == results.contains("stress"));
  if (ours.stress)
    for (int i = 0; i < 6; ++i) CHECK((*ours.stress)[i] == results["stress"][i].get<double>());
  // ASE 3.22 keeps energy and stress in info as well; otfgp keeps them in fields.
  std::vector<std::string> ase_keys;
  for (const auto& [key, value] : ase["info"].items())
    if (key != "energy" && key != "stress") ase_keys.push_back(key);
  std::vector<std::string> our_keys;
  for (const auto& [key, value] : ours.info) our_keys.push_back(key);
  CHECK(our_keys == ase_keys);
  for (const auto& [key, value] : ours.info) {
    INFO("info key " << key << " = '" << value << "', ASE: " << ase["info"][key].dump());
    CHECK(same_value(value, ase["info"][key]));
  }
  // Extra columns: ASE holds them in atoms.arrays (forces too), move_mask as constraints.
  for (const auto& property : ours.extra_properties) {
    INFO("column " << property.name);
    if (property.name == "move_mask") {
      REQUIRE(!ase["move_mask"].is_null());
      for (int atom = 0; atom < ours.size(); ++atom)
        for (int k = 0; k < 3; ++k)
          CHECK((property.values[atom * property.columns + (property.columns == 3 ? k : 0)] ==
                 "T") == ase["move_mask"][atom][k].get<bool>());
      continue;
    }
    REQUIRE(ase["arrays"].contains(property.name));
    const Json& column = ase["arrays"][property.name];
    REQUIRE(column.size() == static_cast<std::size_t>(ours.size()));
    for (int atom = 0; atom < ours.size(); ++atom)
      for (int k = 0; k < property.columns; ++k)
        CHECK(same_value(property.values[atom * property.columns + k],
                         property.columns == 1 ? column[atom] : column[atom][k]));
  }
}

// The message of the otfgp::Error that `action` throws (fails when none is thrown).
template <typename Action>
std::string error_message(Action&& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  FAIL("no otfgp::Error was thrown");
  return "";
}

}  // namespace

TEST_CASE("numbers round-trip through text exactly", "[io][number_text]") {
  std::mt19937_64 rng(12345);
  std::uniform_int_distribution<std::uint64_t> bits;
  int checked = 0;
  while (checked < 20000) {
    std::uint64_t word = bits(rng);
    double value;
    std::memcpy(&value, &word, sizeof value);
    if (!std::isfinite(value)) continue;
    const auto text = format_real(value);
    const auto back = parse_real(text);
    REQUIRE(back);
    REQUIRE(std::memcmp(&*back, &value, sizeof value) == 0);
    ++checked;
  }
  CHECK(format_real(0.0) == "0.0");
  CHECK(format_real(-0.0) == "-0.0");
  CHECK(format_real(2.715) == "2.715");
  CHECK(format_real(-10.0) == "-10.0");
  CHECK(format_real(1e-5) == "1e-05");
  CHECK(*parse_real("1.5D+02") == 150.0);
  CHECK(*parse_real("+2.5") == 2.5);
  CHECK(*parse_real("-.5e1") == -5.0);
  CHECK(std::isinf(*parse_real("-inf")));
  CHECK(*parse_real("1e-400") == 0.0);
  CHECK(std::isinf(*parse_real("1e400")));
  for (const char* bad : {"", "1.0x", "0x1p3", "--1", "1e", ".", "e5", "1 2", "T"})
    CHECK_FALSE(parse_real(bad));
  CHECK(*parse_integer("+42") == 42);
  CHECK(*parse_integer("-7") == -7);
  CHECK_FALSE(parse_integer("4.0"));
  CHECK_FALSE(parse_integer("99999999999999999999999"));
  // The numbers of a labelled output line, the words between them skipped.
  CHECK(numbers_in("!    total energy   =   -15.84 Ry") == std::vector<double>{-15.84});
  CHECK(numbers_in("atom 2 type 1 force =  1.5D-03 -2 0.25") ==
        std::vector<double>{2, 1, 1.5e-3, -2, 0.25});
  CHECK(numbers_in(" \t ").empty());
}

TEST_CASE("extended XYZ comment lines split as ASE splits them", "[io][extxyz]") {
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  CHECK(parse_extxyz_comment(
            R"(Lattice="1 0 0 0 1 0 0 0 1" Properties=species:S:1:pos:R:3 pbc="T T F")") ==
        Pairs{{"Lattice", "1 0 0 0 1 0 0 0 1"},
              {"Properties", "species:S:1:pos:R:3"},
              {"pbc", "T T F"}});
  CHECK(parse_extxyz_comment("  a = 1   b=  2 c  ") == Pairs{{"a", "1"}, {"b", "2"}, {"c", "T"}});
  CHECK(parse_extxyz_comment("Cubic bulk silicon cell") ==
        Pairs{{"Cubic", "T"}, {"bulk", "T"}, {"silicon", "T"}, {"cell", "T"}});
  CHECK(parse_extxyz_comment(R"(s='single q' b={1 2} c=[3, 4] e="say \"hi\"" f=x=y)") ==
        Pairs{{"s", "single q"}, {"b", "1 2"}, {"c", "3, 4"}, {"e", "say \"hi\""}, {"f", "x=y"}});
  CHECK(parse_extxyz_comment(R"(json="_JSON {\"a\": [1, 2]}")") ==
        Pairs{{"json", "_JSON {\"a\": [1, 2]}"}});
  CHECK(parse_extxyz_comment("k=1 k=2 m=3") == Pairs{{"k", "2"}, {"m", "3"}});
  CHECK(parse_extxyz_comment("empty=\"\" next=1") == Pairs{{"empty", ""}, {"next", "1"}});
  CHECK(parse_extxyz_comment("\t\t") == Pairs{});
  CHECK_THROWS_AS(parse_extxyz_comment("a=\"open"), Error);
  CHECK_THROWS_AS(parse_extxyz_comment("=5"), Error);
}

TEST_CASE("extended XYZ round trip otfgp -> otfgp is exact", "[io][extxyz]") {
  TemporaryDirectory directory;
  const std::vector<Structure> frames{random_crystal(1), methane(), slab(), random_crystal(2)};
  const auto path = directory / "frames.xyz";
  write_extxyz(path, frames);
  const auto back = read_extxyz(path);
  REQUIRE(back.size() == frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    INFO("frame " << i);
    require_same(frames[i], back[i]);
  }
  // Stream versions and the streaming reader agree with the file versions.
  std::ostringstream text;
  write_extxyz(text, frames);
  CHECK(text.str() == read_text(path));
  std::istringstream input(text.str());
  ExtxyzReader reader(input, "memory");
  Structure frame;
  int count = 0;
  while (reader.next(frame)) require_same(frame, frames[count++]);
  CHECK(count == 4);
  CHECK(reader.frames_read() == 4);
  // Writing what was read gives the same bytes.
  write_extxyz(directory / "again.xyz", back);
  CHECK(read_text(directory / "again.xyz") == read_text(path));
}

TEST_CASE("extended XYZ append adds whole frames", "[io][extxyz]") {
  TemporaryDirectory directory;
  const auto path = directory / "trajectory.xyz";
  write_extxyz(path, random_crystal(3), true);  // creates the file
  write_extxyz(path, methane(), true);
  write_extxyz(path, std::vector<Structure>{slab(), random_crystal(4)}, true);
  const auto frames = read_extxyz(path);
  REQUIRE(frames.size() == 4);
  require_same(frames[0], random_crystal(3));
  require_same(frames[1], methane());
  require_same(frames[3], random_crystal(4));
  // A frame that cannot be written leaves the file as it was.
  const auto before = read_text(path);
  Structure bad = methane();
  bad.info.emplace_back("energy", "1.0");
  CHECK_THROWS_AS(write_extxyz(path, std::vector<Structure>{methane(), bad}, true), Error);
  CHECK(read_text(path) == before);
  CHECK_THROWS_AS(write_extxyz(path, std::vector<Structure>{methane(), bad}, false), Error);
  CHECK(read_text(path) == before);
  CHECK(std::distance(std::filesystem::directory_iterator(directory.path()),
                      std::filesystem::directory_iterator()) == 1);  // no temporaries left
}

TEST_CASE("per-atom real columns such as an uncertainty are written and read back",
          "[io][extxyz]") {
  Structure s = random_crystal(5);
  const std::vector<double> uncertainty{0.1, 0.25, 1.0 / 3.0, 1e-9, 0.0, 2.5};
  set_real_property(s, "uncertainty", uncertainty);
  Eigen::MatrixXd vectors(6, 3);
  vectors.setRandom();
  set_real_property(s, "descriptor_norms", vectors);
  std::ostringstream text;
  write_extxyz(text, s);
  CHECK(lines_of(text.str())[1].find(
            ":initial_magmoms:R:1:uncertainty:R:1:descriptor_norms:R:3:forces:R:3 ") !=
        std::string::npos);
  std::istringstream input(text.str());
  const auto back = read_extxyz(input, "memory");
  const Eigen::MatrixXd read_uncertainty = real_property(back.at(0), "uncertainty");
  for (int i = 0; i < 6; ++i) CHECK(read_uncertainty(i, 0) == uncertainty[i]);
  CHECK(real_property(back.at(0), "descriptor_norms") == vectors);
  CHECK(real_property(back.at(0), "tags")(5, 0) == -4.0);
  CHECK_THROWS_WITH(real_property(back.at(0), "labels"), Catch::Contains("not a number"));
  CHECK_THROWS_WITH(real_property(back.at(0), "missing"), Catch::Contains("missing"));
  // Replacing keeps one column of that name.
  set_real_property(s, "uncertainty", std::vector<double>(6, 1.0));
  CHECK(real_property(s, "uncertainty").sum() == 6.0);
  CHECK(remove_extra_property(s, "uncertainty"));
  CHECK_FALSE(remove_extra_property(s, "uncertainty"));
  CHECK_THROWS_AS(set_real_property(s, "forces", std::vector<double>(6, 1.0)), Error);
  CHECK_THROWS_AS(set_real_property(s, "bad name", std::vector<double>(6, 1.0)), Error);
  CHECK_THROWS_AS(set_real_property(s, "short", std::vector<double>(5, 1.0)), Error);
}

TEST_CASE("ASE reads what otfgp writes in extended XYZ", "[io][extxyz][ase]") {
  TemporaryDirectory directory;
  std::vector<Structure> frames{random_crystal(6), methane(), slab()};
  set_real_property(frames[0], "uncertainty",
                    std::vector<double>{0.5, 0.25, 0.125, 1e-3, 2.0, 3.0});
  // An empty value is written last: ASE's parser would let it swallow the next key.
  frames[1].info = {
      {"comment", "methane, relaxed"}, {"quote", R"(she said "yes" \o/)"}, {"empty", ""}};
  const auto path = directory / "otfgp.xyz";
  write_extxyz(path, frames);
  const Json ase = ase_read(path, "extxyz");
  REQUIRE(ase.size() == 3);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    INFO("frame " << i);
    require_matches_ase(frames[i], ase[i], 0.0);
  }
  // ASE puts the other per-frame results on its calculator, as it does for its own files.
  CHECK(ase[0]["results"]["free_energy"].get<double>() ==
        *parse_real(*frames[0].info_value("free_energy")));
  CHECK(ase[0]["arrays"]["forces"].size() == 6);
}

TEST_CASE("otfgp reads what ASE writes in extended XYZ", "[io][extxyz][ase]") {
  TemporaryDirectory directory;
  const auto path = directory / "ase.xyz";
  const std::string code = R"PY(
import sys
import numpy as np
import ase.io
from ase import Atoms
from ase.build import molecule, bulk
from ase.calculators.singlepoint import SinglePointCalculator
rng = np.random.default_rng(42)
cell = np.array([[5.1, 0.2, -0.3], [0.4, 5.6, 0.1], [-0.2, 0.3, 6.2]]) + 0.01 * rng.random((3, 3))
crystal = Atoms('BaRhO3', scaled_positions=rng.random((5, 3)), cell=cell, pbc=True)
crystal.info.update(note='hello world', step=3, flag=True, vec=np.array([1.0, 2.0, 3.0]),
                    temperature=300.5, label="Ba'Rh")
crystal.set_tags([1, 2, 3, 3, 3])
crystal.set_initial_magnetic_moments(rng.random(5))
crystal.new_array('site', np.array(['A', 'B', 'X', 'X', 'X']))
crystal.new_array('fixed', np.array([True, False, False, True, False]))
crystal.calc = SinglePointCalculator(crystal, energy=-37.5 + rng.random(), free_energy=-37.6,
                                     forces=rng.random((5, 3)) - 0.5,
                                     stress=0.01 * (rng.random(6) - 0.5))
mol = molecule('CH4')
mol.calc = SinglePointCalculator(mol, energy=-24.125)
slab = bulk('Cu', 'fcc', 3.61, cubic=True)
slab.pbc = [True, True, False]
slab.calc = SinglePointCalculator(slab, forces=rng.random((4, 3)))
ase.io.write(sys.argv[1], [crystal, mol, slab], format='extxyz')
)PY";
  python_output(code, {path.string()});
  const auto frames = read_extxyz(path);
  const Json ase = ase_read(path, "extxyz");
  REQUIRE(frames.size() == 3);
  REQUIRE(ase.size() == 3);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    INFO("frame " << i);
    require_matches_ase(frames[i], ase[i], 0.0);
  }
  CHECK(frames[0].info_value("label") == "Ba'Rh");
  CHECK(frames[1].pbc == std::array<bool, 3>{false, false, false});
  CHECK(frames[1].cell.isZero(0.0));
  CHECK(frames[2].pbc == std::array<bool, 3>{true, true, false});
  CHECK(frames[2].extra_properties.empty());

  // otfgp writes the frames back with ASE's comment line, and ASE reads the same.
  const auto again = directory / "again.xyz";
  write_extxyz(again, frames);
  const auto ase_lines = lines_of(read_text(path));
  const auto our_lines = lines_of(read_text(again));
  REQUIRE(ase_lines.size() == our_lines.size());
  int line = 0;
  for (const auto& frame : frames) {
    CHECK(our_lines[line + 1] == ase_lines[line + 1]);
    line += 2 + frame.size();
  }
  CHECK(ase_read(again, "extxyz") == ase);
}

TEST_CASE("extended XYZ variants ASE accepts: plain XYZ, vec_cell, 6-component stress, Z column",
          "[io][extxyz]") {
  {
    std::istringstream input(
        "8\nCubic bulk silicon cell\n"
        "Si 0 0 0\nSi 1.36 1.36 1.36\nsi 2.72 2.72 0\nSI 4.08 4.08 1.36\n"
        "Si 2.72 0 2.72\nSi 4.08 1.36 4.08\n14 0 2.72 2.72\nSi 1.36 4.08 4.08\n\n\n");
    const auto frames = read_extxyz(input, "plain.xyz");
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].numbers == std::vector<int>(8, 14));
    CHECK(frames[0].pbc == std::array<bool, 3>{false, false, false});
    CHECK(frames[0].info.size() == 4);
    CHECK(frames[0].positions(7, 1) == 4.08);
  }
  {
    // pbc absent: periodic with a Lattice (as ASE), not without one.
    std::istringstream input("1\nLattice=\"4 0 0 0 4 0 0 0 4\"\nSi 0 0 0\n1\nx=1\nSi 0 0 0\n");
    const auto frames = read_extxyz(input, "pbc.xyz");
    REQUIRE(frames.size() == 2);
    CHECK(frames[0].pbc == std::array<bool, 3>{true, true, true});
    CHECK(frames[0].cell == 4.0 * Eigen::Matrix3d::Identity());
    CHECK(frames[1].pbc == std::array<bool, 3>{false, false, false});
    CHECK(frames[1].info_value("x") == "1");
  }
  {
    std::istringstream input(
        "2\n\nCu 0 0 0\nCu 1.805 1.805 0\nVEC1 0 1.805 1.805\nVEC2 1.805 0 1.805\n"
        "1\nProperties=Z:I:1:pos:R:3:species:S:1 stress=\"1 2 3 4 5 6\" energy=-1\n"
        "8 0.5 0.5 0.5 Xx_ignored_because_Z_wins_if_known\n");
    CHECK_THROWS_WITH(read_extxyz(input, "vec.xyz"),
                      Catch::Contains("vec.xyz, line 9") && Catch::Contains("unknown element"));
  }
  {
    std::istringstream input(
        "2\n\nCu 0 0 0\nCu 1.805 1.805 0\nVEC1 0 1.805 1.805\nVEC2 1.805 0 1.805\n"
        "1\nProperties=Z:I:1:pos:R:3:species:S:1 stress=\"1 2 3 4 5 6\" energy=-1\n"
        "8 0.5 0.5 0.5 N\n");
    const auto frames = read_extxyz(input, "vec.xyz");
    REQUIRE(frames.size() == 2);
    CHECK(frames[0].pbc == std::array<bool, 3>{true, true, false});
    CHECK(frames[0].cell.row(1) == Eigen::RowVector3d(1.805, 0, 1.805));
    CHECK(frames[0].cell.row(2).isZero(0.0));
    CHECK(frames[1].numbers == std::vector<int>{8});  // Z wins over species, as in ASE
    CHECK(*frames[1].stress == (Voigt() << 1, 2, 3, 4, 5, 6).finished());
    CHECK(*frames[1].energy == -1.0);
  }
}

TEST_CASE("ASE's vec_cell files read as ASE reads them", "[io][extxyz][ase]") {
  TemporaryDirectory directory;
  const auto path = directory / "vec.xyz";
  python_output(R"PY(
import sys, ase.io
from ase.build import bulk
a = bulk('Cu') * (1, 1, 2)
a.pbc = [True, True, False]
ase.io.write(sys.argv[1], a, format='extxyz', vec_cell=True)
)PY",
                {path.string()});
  const auto frames = read_extxyz(path);
  REQUIRE(frames.size() == 1);
  require_matches_ase(frames[0], ase_read(path, "extxyz")[0], 0.0);
}

TEST_CASE("POSCAR: otfgp reads what ASE writes", "[io][poscar][ase]") {
  TemporaryDirectory directory;
  const std::string code = R"PY(
import sys
import numpy as np
import ase.io
from ase import Atoms
from ase.constraints import FixAtoms, FixScaled
rng = np.random.default_rng(3)
cell = np.array([[5.1, 0.2, -0.3], [0.4, 5.6, 0.1], [-0.2, 0.3, 6.2]]) + 0.01 * rng.random((3, 3))
a = Atoms('Ba2Rh2O6', scaled_positions=rng.random((10, 3)), cell=cell, pbc=True)
folder = sys.argv[1]
ase.io.write(folder + '/POSCAR_direct', a, format='vasp', direct=True)
ase.io.write(folder + '/POSCAR_cartesian', a, format='vasp', direct=False)
ase.io.write(folder + '/POSCAR_vasp4', a, format='vasp', direct=True, vasp5=False)
b = a.copy()
b.set_constraint([FixAtoms(indices=[0, 3]), FixScaled(b.cell, 5, [True, False, True])])
ase.io.write(folder + '/CONTCAR', b, format='vasp', direct=True)
c = a[[0, 4, 1, 5, 2]]  # species not grouped: Ba O Ba O Rh
ase.io.write(folder + '/mixed.vasp', c, format='vasp', direct=False)
)PY";
  python_output(code, {directory.path().string()});
  for (const char* name :
       {"POSCAR_direct", "POSCAR_cartesian", "POSCAR_vasp4", "CONTCAR", "mixed.vasp"}) {
    INFO(name);
    const auto path = directory / name;
    const Structure ours = read_structure(path);
    const Json ase = ase_read(path, "vasp");
    REQUIRE(ase.size() == 1);
    // Direct coordinates go through a matrix product in both codes: allow rounding.
    require_matches_ase(ours, ase[0], 1e-12);
    CHECK(ours.pbc == std::array<bool, 3>{true, true, true});
    CHECK(ours.info.empty());
  }
  const auto contcar = read_structure(directory / "CONTCAR");
  REQUIRE(contcar.extra_properties.size() == 1);
  CHECK(contcar.extra_properties[0].name == "move_mask");
  CHECK(read_structure(directory / "POSCAR_direct").extra_properties.empty());
  CHECK(read_structure(directory / "mixed.vasp").numbers == std::vector<int>{56, 8, 56, 8, 45});
}

TEST_CASE("POSCAR: ASE reads what otfgp writes", "[io][poscar][ase]") {
  TemporaryDirectory directory;
  Structure crystal = random_crystal(8);
  crystal.info.clear();
  crystal.energy.reset();
  crystal.forces.reset();
  crystal.stress.reset();
  crystal.extra_properties.erase(crystal.extra_properties.begin(),
                                 crystal.extra_properties.begin() + 2);  // keep move_mask …
  crystal.extra_properties.pop_back();                                   // … drop magmoms
  crystal.numbers = {56, 8, 8, 45, 8, 56};  // groups repeat: Ba O Rh O Ba
  Structure plain = crystal;
  plain.extra_properties.clear();
  write_poscar(directory / "POSCAR", plain);
  write_poscar(directory / "CONTCAR", crystal, PoscarWriteOptions{false, false, "cartesian test"});
  write_structure(directory / "wrapped.vasp", plain);
  for (const char* name : {"POSCAR", "CONTCAR", "wrapped.vasp"}) {
    INFO(name);
    const Structure& original = std::string(name) == "CONTCAR" ? crystal : plain;
    require_matches_ase(original, ase_read(directory / name, "vasp")[0], 1e-12);
    const Structure back = read_poscar(directory / name);
    CHECK((back.positions - original.positions).cwiseAbs().maxCoeff() < 1e-12);
    CHECK((back.cell - original.cell).cwiseAbs().maxCoeff() < 1e-15);
    CHECK(back.numbers == original.numbers);
  }
  const auto lines = lines_of(read_text(directory / "POSCAR"));
  CHECK(lines[0] == "Ba O Rh O Ba");
  CHECK(lines[7] == "Direct");
  CHECK(lines_of(read_text(directory / "CONTCAR"))[0] == "cartesian test");
  CHECK(lines_of(read_text(directory / "CONTCAR"))[7] == "Selective dynamics");
  CHECK(lines_of(read_text(directory / "CONTCAR"))[8] == "Cartesian");
  CHECK(read_poscar(directory / "CONTCAR").extra_properties.at(0).values ==
        crystal.extra_properties.at(0).values);
  // Wrapping puts every fractional coordinate in [0, 1).
  Structure outside = plain;
  outside.positions.row(0) += 2.0 * outside.cell.row(0) - outside.cell.row(2);
  std::ostringstream text;
  write_poscar(text, outside, PoscarWriteOptions{true, true, ""});
  std::istringstream input(text.str());
  const auto wrapped = read_poscar(input, "wrapped");
  const Positions fractional = wrapped.positions * wrapped.cell.inverse();
  CHECK(fractional.minCoeff() >= -1e-15);
  CHECK(fractional.maxCoeff() < 1.0);
  CHECK((wrapped.positions.row(0) - plain.positions.row(0)).norm() < 1e-12);
}

TEST_CASE("POSCAR scaling factors, VASP 4 species, POTCAR labels, velocities", "[io][poscar]") {
  const std::string body = "   2.0 0.0 0.0\n   0.0 2.0 0.0\n   0.0 0.0 2.0\n";
  {
    // A negative scale is the volume: 64 Å³ from an 8 Å³ cell doubles every length.
    std::istringstream input("Rh O\n -64.0\n" + body +
                             "Rh_pv O_s\n 1 1\nCartesian\n 0 0 0\n 1.0 1.0 1.0\n\n"
                             " 0.1 0.2 0.3\n 0.0 0.0 0.0\n");
    const Structure s = read_poscar(input, "volume");
    CHECK(s.cell.isApprox(4.0 * Eigen::Matrix3d::Identity(), 1e-15));
    CHECK(s.positions.row(1).isApprox(Eigen::RowVector3d(2, 2, 2), 1e-15));
    CHECK(s.numbers == std::vector<int>{45, 8});
  }
  {
    std::istringstream input("three factors\n 1.0 2.0 3.0\n" + body +
                             "Fe/5a2b Si\n 1 2\nDirect\n 0 0 0\n 0.5 0.5 0.5\n 0.25 0.25 0.25\n");
    const Structure s = read_poscar(input, "three");
    CHECK(s.cell.diagonal() == Eigen::Vector3d(2, 4, 6));
    CHECK(s.positions.row(1) == Eigen::RowVector3d(1, 2, 3));
    CHECK(s.numbers == std::vector<int>{26, 14, 14});
  }
  {
    // VASP 4: species from the title ("BaRhO3_relaxed" → Ba, Rh, O) or from the caller.
    const std::string vasp4 = "BaRhO3_relaxed step 4\n 1.0\n" + body +
                              " 1 1 3\nselective dynamics\nDirect\n"
                              " 0 0 0 T T T\n 0.5 0.5 0.5 F F F\n 0.5 0.5 0 T F T\n"
                              " 0.5 0 0.5 T T T\n 0 0.5 0.5 T T T\n";
    std::istringstream input(vasp4);
    const Structure s = read_poscar(input, "vasp4");
    CHECK(s.numbers == std::vector<int>{56, 45, 8, 8, 8});
    REQUIRE(s.extra_properties.size() == 1);
    CHECK(s.extra_properties[0].values[3] == "F");
    CHECK(s.extra_properties[0].values[7] == "F");
    CHECK(s.extra_properties[0].values[6] == "T");
    std::istringstream again(vasp4);
    CHECK(read_poscar(again, "vasp4", PoscarReadOptions{{"Sr", "Ti", "O"}}).numbers ==
          std::vector<int>{38, 22, 8, 8, 8});
  }
}

TEST_CASE("format dispatch by file name", "[io]") {
  CHECK(structure_format("a/b/train.xyz") == StructureFormat::extxyz);
  CHECK(structure_format("train.EXTXYZ") == StructureFormat::extxyz);
  CHECK(structure_format("run/POSCAR") == StructureFormat::poscar);
  CHECK(structure_format("CONTCAR_0042") == StructureFormat::poscar);
  CHECK(structure_format("poscar.001") == StructureFormat::poscar);
  CHECK(structure_format("BaRhO3.vasp") == StructureFormat::poscar);
  CHECK(structure_format("x.poscar") == StructureFormat::poscar);
  CHECK(structure_format("whatever.dat", "extxyz") == StructureFormat::extxyz);
  CHECK(structure_format("whatever.dat", "VASP") == StructureFormat::poscar);
  CHECK_THROWS_WITH(structure_format("whatever.dat"), Catch::Contains("whatever.dat"));
  CHECK_THROWS_WITH(structure_format("a.xyz", "cif"), Catch::Contains("unknown structure format"));

  TemporaryDirectory directory;
  const std::vector<Structure> frames{random_crystal(9), random_crystal(10)};
  write_structures(directory / "t.extxyz", frames);
  CHECK(read_structures(directory / "t.extxyz").size() == 2);
  require_same(read_structure(directory / "t.extxyz"), frames[1]);  // the last, as ase.io.read
  write_structures(directory / "t.extxyz", frames, "auto", true);
  CHECK(read_structures(directory / "t.extxyz").size() == 4);
  write_structures(directory / "data.txt", frames, "xyz");
  CHECK(read_structures(directory / "data.txt", "extxyz").size() == 2);
  CHECK_THROWS_WITH(write_structures(directory / "POSCAR", frames), Catch::Contains("exactly one"));
  CHECK_THROWS_WITH(write_structures(directory / "POSCAR", {frames[0]}, "auto", true),
                    Catch::Contains("cannot append"));
  write_structure(directory / "POSCAR", frames[0]);
  StructureReadOptions options;
  options.poscar_species = {"Ba", "Rh", "O", "H"};
  CHECK(read_structures(directory / "POSCAR", options).at(0).numbers == frames[0].numbers);
  options.poscar_species = {"Sr", "Rh", "O", "H"};
  CHECK_THROWS_WITH(read_structures(directory / "POSCAR", options), Catch::Contains("disagrees"));
  CHECK_THROWS_WITH(write_structure(directory / "POSCAR", methane()), Catch::Contains("no volume"));
}

TEST_CASE("malformed extended XYZ files name the file and the line", "[io][extxyz][errors]") {
  struct Case {
    std::string text;
    int line;
    std::string expected;
  };
  const std::string lattice = "Lattice=\"4 0 0 0 4 0 0 0 4\" ";
  const std::vector<Case> cases{
      {"abc\n\n", 1, "expected the number of atoms of frame 1, found 'abc'"},
      {"-1\n\n", 1, "expected the number of atoms"},
      {"3\n\nSi 0 0 0\nSi 1 1 1\n", 5, "the file ends after 2 of 3 atom lines"},
      {"2\n\nSi 0 0 0\nSi 1 1 1\nSi 2 2 2\n", 5,
       "expected the number of atoms of frame 2, found 'Si 2 2 2'"},
      {"3\n", 2, "ends before the comment line"},
      {"999999999\n\nSi 0 0 0\n", 4, "the file ends after 1 of 999999999 atom lines"},
      {"1\nLattice=\"4 0 0 0 4 0 0 0\"\nSi 0 0 0\n", 2, "Lattice needs 9 numbers"},
      {"1\nLattice=\"4 0 0 0 4 0 0 0 x\"\nSi 0 0 0\n", 2, "Lattice has 'x'"},
      {"1\n" + lattice + "\nSi 0 0.0.1 0\n", 3, "column 'pos' of atom 1 has '0.0.1'"},
      {"3\n" + lattice + "\nSi 0 0 0\nSi 1 1 1\nSi 2 nan 2\n", 5,
       "column 'pos' of atom 3 has 'nan': positions and forces must be finite"},
      {"2\n" + lattice +
           "Properties=species:S:1:pos:R:3:forces:R:3\nSi 0 0 0 0 0 0\n"
           "Si 1 1 1 0 inf 0\n",
       4, "column 'forces' of atom 2 has 'inf'"},
      {"2\n" + lattice + "\nSi 0 0 0\nXx 1 1 1\n", 4, "unknown element 'Xx' for atom 2"},
      {"1\n" + lattice + "Properties=species:S:1:pos:R:3:forces:R:3\nSi 0 0 0\n", 3,
       "expected 7 columns (Properties=species:S:1:pos:R:3:forces:R:3) for atom 1 of 1, found 4"},
      {"1\n" + lattice + "Properties=species:S:1:pos:R\nSi 0 0 0\n", 2, "triplets"},
      {"1\n" + lattice + "Properties=species:S:1:pos:Q:3\nSi 0 0 0\n", 2, "expected R, I, S or L"},
      {"1\n" + lattice + "Properties=species:S:1:pos:R:2\nSi 0 0\n", 2, "must be pos:R:3"},
      {"1\n" + lattice + "Properties=species:S:1\nSi\n", 2, "no pos column"},
      {"1\n" + lattice + "Properties=species:S:1:pos:R:3:tag:I:1\nSi 0 0 0 1.5\n", 3,
       "column 'tag' of atom 1 has '1.5'; expected an integer"},
      {"1\n" + lattice + "note=\"unterminated\nSi 0 0 0\n", 2, "not closed"},
      {"1\n" + lattice + "stress=\"1 2 3 4 5\"\nSi 0 0 0\n", 2, "stress needs 9 numbers"},
      {"1\n" + lattice + "pbc=\"T T\"\nSi 0 0 0\n", 2, "pbc needs 1 or 3 values"},
      {"1\n" + lattice + "pbc=\"T T X\"\nSi 0 0 0\n", 2, "pbc has 'X'"},
      {"1\n" + lattice + "energy=low\nSi 0 0 0\n", 2, "energy='low' is not a number"},
      {"1\npbc=\"T T T\"\nSi 0 0 0\n", 2, "no Lattice"},
      {"1\nLattice=\"4 0 0 0 4 0 0 0 0\"\nSi 0 0 0\n", 2, "singular cell"},
      {"1\n\nSi 0 0 0\n3\n\nSi 0 0 0\n", 7,
       "the file ends after 1 of 3 atom lines of frame 2 (line 4)"},
      {"1\n\nCu 0 0 0\nVEC2 1 0 0\n", 4, "expected 'VEC1 x y z'"},
  };
  TemporaryDirectory directory;
  int number = 0;
  for (const auto& test : cases) {
    const auto path = directory / ("bad" + std::to_string(++number) + ".xyz");
    write_text(path, test.text);
    const std::string message = error_message([&] { read_extxyz(path); });
    INFO("case " << number << ": " << message);
    CHECK_THAT(message,
               Catch::StartsWith(path.string() + ", line " + std::to_string(test.line) + ": "));
    CHECK_THAT(message, Catch::Contains(test.expected));
    CHECK_THROWS_AS(read_structures(path), Error);
  }
}

TEST_CASE("malformed POSCAR files name the file and the line", "[io][poscar][errors]") {
  struct Case {
    std::string text;
    int line;
    std::string expected;
  };
  const std::string cell = "1.0\n 4 0 0\n 0 4 0\n 0 0 4\n";
  const std::vector<Case> cases{
      {"", 1, "the file ends where the title line was expected"},
      {"title\n", 2, "the file ends where the scaling factor was expected"},
      {"title\nbig\n", 2, "expected the scaling factor"},
      {"title\n0.0\n", 2, "nonzero"},
      {"title\n1.0\n 4 0 0\n 0 4\n", 4, "expected 3 numbers for lattice vector b"},
      {"title\n" + cell + "Si Qq\n1 1\nDirect\n", 6, "unknown element 'Qq'"},
      {"title\n" + cell + "Si O\n1 1 1\nDirect\n", 7,
       "names 2 elements but this line gives 3 counts"},
      {"title\n" + cell + "Si O\n1 x\nDirect\n", 7, "expected atom counts"},
      {"title\n" + cell + "Si O\n0 0\nDirect\n", 7, "zero atoms"},
      {"title\n" + cell + "Si O\n1 1\n 0 0 0\n 0.5 0.5 0.5\n", 8,
       "expected 'Direct' or 'Cartesian'"},
      {"title\n" + cell + "Si O\n1 2\nDirect\n 0 0 0\n 0.5 0.5 0.5\n", 11,
       "the coordinates of atom 3 of 3"},
      {"title\n" + cell + "Si O\n1 99999999\nDirect\n 0 0 0\n", 10,
       "the coordinates of atom 2 of 100000000"},
      {"title\n" + cell + "Si O\n1 1\nDirect\n 0 0 0\n 0.5 zero 0.5\n", 10,
       "expected 3 finite coordinates for atom 2 of 2"},
      {"title\n" + cell + "Si O\n1 1\nDirect\n 0 0 0\n 0.5 nan 0.5\n", 10,
       "expected 3 finite coordinates for atom 2 of 2"},
      {"title\n" + cell + "Si O\n1 1\nSelective dynamics\nDirect\n 0 0 0 T T\n 0.5 0.5 0.5 T T T\n",
       10, "selective-dynamics flags"},
      {"relaxed structure\n" + cell + "1 1\nDirect\n 0 0 0\n 0.5 0.5 0.5\n", 1,
       "does not name the 2 elements"},
      {"title\n-1.0\n 4 0 0\n 8 0 0\n 0 0 4\nSi\n1\nDirect\n 0 0 0\n", 2, "nonzero volume"},
  };
  TemporaryDirectory directory;
  int number = 0;
  for (const auto& test : cases) {
    const auto path = directory / ("POSCAR_" + std::to_string(++number));
    write_text(path, test.text);
    const std::string message = error_message([&] { read_poscar(path); });
    INFO("case " << number << ": " << message);
    CHECK_THAT(message,
               Catch::StartsWith(path.string() + ", line " + std::to_string(test.line) + ": "));
    CHECK_THAT(message, Catch::Contains(test.expected));
    CHECK_THROWS_AS(read_structures(path), Error);
  }
}

TEST_CASE("missing files, directories and unwritable places give clear errors", "[io][errors]") {
  TemporaryDirectory directory;
  const auto missing = directory / "missing.xyz";
  CHECK_THROWS_WITH(read_structures(missing),
                    Catch::Contains(missing.string()) && Catch::Contains("no such file"));
  CHECK_THROWS_WITH(read_poscar(directory / "POSCAR"), Catch::Contains("no such file"));
  std::filesystem::create_directory(directory / "folder.xyz");
  CHECK_THROWS_WITH(read_structures(directory / "folder.xyz"), Catch::Contains("is a directory"));
  const auto nowhere = directory / "no" / "such" / "dir" / "out.xyz";
  CHECK_THROWS_WITH(write_structures(nowhere, {methane()}),
                    Catch::Contains(nowhere.string()) && Catch::Contains("does not exist"));
  CHECK_THROWS_WITH(write_structures(nowhere, {methane()}, "auto", true),
                    Catch::Contains("does not exist"));
  CHECK_THROWS_WITH(write_structures(directory / "folder.xyz", {methane()}, "auto", true),
                    Catch::Contains("is a directory"));
  // /proc refuses new files even to root: a directory nobody can write to.
  if (std::filesystem::is_directory("/proc")) {
    CHECK_THROWS_WITH(write_structures("/proc/otfgp-test.xyz", {methane()}),
                      Catch::Contains("/proc/otfgp-test.xyz"));
    CHECK_THROWS_WITH(write_structures("/proc/otfgp-test.xyz", {methane()}, "auto", true),
                      Catch::Contains("/proc/otfgp-test.xyz"));
    CHECK_THROWS_WITH(write_structure("/proc/POSCAR", random_crystal(1)),
                      Catch::Contains("/proc/POSCAR"));
  }
  // A file where a folder should be; a symbolic link to a folder that is gone.
  write_structures(directory / "plain.xyz", {methane()});
  CHECK_THROWS_WITH(
      write_structures(directory / "plain.xyz" / "x.xyz", {methane()}),
      Catch::Contains("'" + (directory / "plain.xyz").string() + "' is a file, not a directory"));
  std::filesystem::create_directory_symlink(directory / "gone", directory / "dangling");
  CHECK_THROWS_WITH(make_output_folder(directory / "dangling", "output folder"),
                    Catch::Contains("it is a symbolic link to") && Catch::Contains("gone") &&
                        Catch::Contains("which does not exist"));
  CHECK_THROWS_WITH(make_output_folder(directory / "plain.xyz", "output folder"),
                    Catch::Contains("a file of that name exists"));
  make_output_folder(directory / "made" / "deeper", "output folder");
  CHECK(std::filesystem::is_directory(directory / "made" / "deeper"));
  // A symbolic link as the output is followed, as a shell's `>` does: the file
  // it names is replaced and the link stays (a relative link, through two hops).
  std::filesystem::create_symlink("real.xyz", directory / "hop.xyz");
  std::filesystem::create_symlink("hop.xyz", directory / "link.xyz");
  write_structures(directory / "link.xyz", {methane()});
  CHECK(std::filesystem::is_symlink(directory / "link.xyz"));
  CHECK(read_structures(directory / "real.xyz").size() == 1);
  write_structures(directory / "link.xyz", {methane(), methane()});
  CHECK(read_structures(directory / "real.xyz").size() == 2);
  CHECK(std::filesystem::is_symlink(directory / "link.xyz"));

  // Frames that cannot be represented.
  Structure bad = methane();
  bad.extra_properties.push_back({"note", 'S', 1, {"a", "b", "c d", "e", "f"}});
  CHECK_THROWS_WITH(write_extxyz(directory / "x.xyz", bad), Catch::Contains("contains spaces"));
  bad.extra_properties.back() = {"note", 'S', 2, {"a", "b"}};
  CHECK_THROWS_WITH(write_extxyz(directory / "x.xyz", bad), Catch::Contains("values for 5 atoms"));
  bad = methane();
  bad.positions.conservativeResize(4, 3);
  CHECK_THROWS_AS(write_extxyz(directory / "x.xyz", bad), Error);
  CHECK_FALSE(std::filesystem::exists(directory / "x.xyz"));
}

TEST_CASE("element masses are ASE's and unknown symbols throw", "[io][elements][ase]") {
  const Json masses = Json::parse(
      python_output("import json, ase.data\n"
                    "print(json.dumps([float(m) for m in ase.data.atomic_masses[1:97]]))\n"));
  REQUIRE(masses.size() == static_cast<std::size_t>(max_atomic_number));
  for (int z = 1; z <= max_atomic_number; ++z) {
    INFO("Z = " << z << " (" << element(z).symbol << ")");
    CHECK(element(z).mass == masses[z - 1].get<double>());
  }
  const Json symbols = Json::parse(
      python_output("import json, ase.data\nprint(json.dumps(ase.data.chemical_symbols[1:97]))\n"));
  for (int z = 1; z <= max_atomic_number; ++z) {
    CHECK(element(z).symbol == symbols[z - 1].get<std::string>());
    CHECK(atomic_number(symbols[z - 1].get<std::string>()) == z);
  }
  CHECK_THROWS_WITH(atomic_number("Xx"), Catch::Contains("Xx"));
  CHECK_THROWS_AS(atomic_number("si"), Error);
  CHECK_THROWS_AS(element(0), Error);
  CHECK_THROWS_AS(element(97), Error);
  CHECK_THROWS_WITH(atomic_number("Bk"), Catch::Contains("Z = 97") && Catch::Contains("Cm"));
  CHECK(atomic_number("U") == 92);
}

TEST_CASE("element covalent radii are ASE's (Cordero's table)", "[io][elements][ase]") {
  const Json radii = Json::parse(
      python_output("import json, ase.data\n"
                    "print(json.dumps([float(r) for r in ase.data.covalent_radii[1:97]]))\n"));
  REQUIRE(radii.size() == static_cast<std::size_t>(max_atomic_number));
  for (int z = 1; z <= max_atomic_number; ++z) {
    INFO("Z = " << z << " (" << element(z).symbol << ")");
    CHECK(element(z).covalent_radius == radii[z - 1].get<double>());
  }
}

TEST_CASE("element symbols join in the order given", "[io][elements]") {
  CHECK(symbols_text({14, 8, 56}) == "Si O Ba");
  CHECK(symbols_text({29, 28}, ", ") == "Cu, Ni");
  CHECK(symbols_text({}).empty());
  CHECK_THROWS_AS(symbols_text({14, 0}), Error);
}

TEST_CASE("a scratch folder is private and gone however its scope ends", "[io][scratch]") {
  std::filesystem::path kept;
  {
    const ScratchFolder scratch("otfgp-scratch-test");
    kept = scratch.path();
    CHECK(std::filesystem::is_directory(kept));
    CHECK(kept.filename().string().rfind("otfgp-scratch-test-", 0) == 0);
    CHECK(std::filesystem::status(kept).permissions() == std::filesystem::perms::owner_all);
    const ScratchFolder other("otfgp-scratch-test");
    CHECK(other.path() != kept);
    std::filesystem::create_directories(scratch / "a" / "b");
    std::ofstream(scratch / "a" / "b" / "file") << "x";
  }
  CHECK_FALSE(std::filesystem::exists(kept));
  try {
    const ScratchFolder scratch("otfgp-scratch-test");
    kept = scratch.path();
    std::ofstream(scratch / "file") << "x";
    throw Error("stopped");
  } catch (const Error&) {
  }
  CHECK_FALSE(std::filesystem::exists(kept));
  // No temporary directory to make it in: an error that says so.
  const otfgp::testing::ScopedEnvironment tmpdir("TMPDIR", "/nonexistent-otfgp-tmp");
  CHECK_THROWS_WITH(ScratchFolder("otfgp-scratch-test"),
                    Catch::Contains("temporary directory") && Catch::Contains("scratch folder"));
}

namespace {
// Atoms of numbers z1 and z2, 2 Å apart in a 5 Å cube.
Structure two_atoms(int z1, int z2) {
  Structure frame;
  frame.cell = Eigen::Matrix3d::Identity() * 5;
  frame.positions = Positions::Zero(2, 3);
  frame.positions(1, 0) = 2.0;
  frame.numbers = {z1, z2};
  return frame;
}
}  // namespace

TEST_CASE("clear_results drops an earlier calculation's results and keeps the inputs",
          "[io][structure]") {
  Structure frame = two_atoms(14, 14);
  frame.energy = -1.0;
  frame.forces = Positions::Ones(2, 3);
  frame.stress = Voigt::Ones();
  for (const char* key :
       {"free_energy", "virial", "enthalpy", "max_std", "config_type", "target_pressure_gpa"})
    frame.set_info_value(key, "1");
  for (const char* column :
       {"energies", "charges", "force_std", "energy_std", "novel", "masses", "initial_magmoms"})
    set_real_property(frame, column, std::vector<double>{1.0, 2.0});
  frame.clear_results();
  CHECK_FALSE(frame.energy);
  CHECK_FALSE(frame.forces);
  CHECK_FALSE(frame.stress);
  std::vector<std::string> keys, columns;
  for (const auto& [key, value] : frame.info) keys.push_back(key);
  for (const auto& column : frame.extra_properties) columns.push_back(column.name);
  CHECK(keys == std::vector<std::string>{"config_type", "target_pressure_gpa"});
  CHECK(columns == std::vector<std::string>{"masses", "initial_magmoms"});
}

TEST_CASE("AtomState takes masses from a masses column where asked, and writes them back",
          "[io][atom_state]") {
  Structure frame = two_atoms(1, 8);  // as in OH
  AtomState state = AtomState::from_structure(frame);
  Structure out = state.to_structure();
  state.write_masses(out);  // the elements' masses: no column
  CHECK(find_extra_property(out, "masses") == nullptr);

  set_real_property(frame, "masses", std::vector<double>{2.014, 15.999});  // deuterium
  CHECK(find_extra_property(AtomState::from_structure(frame).to_structure(), "masses") ==
        nullptr);  // not taken unless asked: only the dynamics use masses
  state.take_masses(frame);
  auto mass = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state.mass);
  CHECK(mass(0) == 2.014);
  CHECK(mass(1) == 15.999);
  out = state.to_structure();
  state.write_masses(out);
  CHECK(real_property(out, "masses").col(0) == Eigen::Vector2d(2.014, 15.999));

  set_real_property(frame, "masses", std::vector<double>{2.014, 0.0});
  CHECK_THROWS_WITH(state.take_masses(frame),
                    Catch::Contains("column 'masses' gives atom 2 the mass 0"));
  set_real_property(frame, "masses", Eigen::MatrixXd::Ones(2, 3));
  CHECK_THROWS_WITH(state.take_masses(frame), Catch::Contains("one mass per atom"));
}
