// otfgp hull and otfgp relax end to end: tables, frames, relaxations at
// pressure, sweeps with transition pressures, re-checks, outputs and errors.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

#include "otfgp/core/io.hpp"
#include "otfgp/core/units.hpp"
#include "support/cli.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using Catch::Matchers::Contains;
using testing::run_otfgp;

namespace {

std::string quoted(const std::filesystem::path& path) {
  return "'" + path.string() + "'";
}

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream stream(path);
  REQUIRE(stream);
  return nlohmann::json::parse(stream);
}

const nlohmann::json& entry_of(const nlohmann::json& hull, const std::string& id) {
  for (const auto& entry : hull["entries"])
    if (entry["id"] == id) return entry;
  FAIL("no entry " << id);
  throw std::logic_error("unreachable");
}

bool is_png(const std::filesystem::path& path) {
  std::ifstream stream(path, std::ios::binary);
  char magic[8] = {};
  stream.read(magic, 8);
  return stream && std::string(magic + 1, 3) == "PNG";
}

// Cubic cell with atoms at fractional positions.
Structure crystal(double a, const std::vector<std::array<double, 3>>& fractional,
                  const std::vector<int>& numbers) {
  Structure structure;
  structure.cell = Eigen::Matrix3d::Identity() * a;
  structure.positions.resize(static_cast<int>(numbers.size()), 3);
  for (std::size_t i = 0; i < numbers.size(); ++i)
    for (int d = 0; d < 3; ++d)
      structure.positions(static_cast<int>(i), d) = fractional[i][static_cast<std::size_t>(d)] * a;
  structure.numbers = numbers;
  return structure;
}

const std::vector<std::array<double, 3>> fcc_sites = {
    {0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};

// Ar–Kr with a strong Ar–Kr attraction (compounds stable) and a weak one
// (compounds decompose) for the re-check.
const std::string strong =
    "lj:eps=0.0104,sigma=3.4,rc=8.0,eps.Kr-Kr=0.014,sigma.Kr-Kr=3.65,eps.Ar-Kr=0.02,sigma.Ar-Kr=3."
    "5";
const std::string weak =
    "lj:eps=0.0104,sigma=3.4,rc=8.0,eps.Kr-Kr=0.014,sigma.Kr-Kr=3.65,eps.Ar-Kr=0.008,sigma.Ar-Kr=3."
    "5";

}  // namespace

TEST_CASE("otfgp hull on a table with compound references writes JSON, CSV and plots",
          "[hull][cli]") {
  testing::TemporaryDirectory folder("otfgp-hull-cli");
  std::ofstream(folder / "phases.csv") << "# Ba-Rh-O test set\n"
                                          "id,formula,energy,volume,std\n"
                                          "BaO,BaO,-10.0,40,\n"
                                          "RhO2,Rh2O4,-36.0,66,\n"
                                          "BaRhO3,BaRhO3,-29.5,65,0.02\n"
                                          "Ba2RhO4,Ba2RhO4,-39.2,101.5,0.02\n"
                                          "Ba,Ba,-1.9,60,\n"
                                          "broken,BaRhO3,nan,65,\n";
  const auto result =
      run_otfgp("hull " + quoted(folder / "phases.csv") +
                " --references BaO RhO2 --seed 3 --json " + quoted(folder / "out.json") +
                " --csv " + quoted(folder / "out.csv") + " --plot " + quoted(folder / "plot"));
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  CHECK_THAT(result.output,
             Contains("Hull at 0 GPa") && Contains("BaO–RhO2") && Contains("P(stable)"));
  CHECK_THAT(result.output, Contains("broken") && Contains("not a number"));
  CHECK_THAT(result.output, Contains("Ba (phases.csv line 7) left out"));

  const auto document = read_json(folder / "out.json");
  CHECK(document["references"] == nlohmann::json({"BaO", "RhO2"}));
  const auto& hull = document["hulls"][0];
  CHECK(hull["pressure_gpa"] == 0.0);
  CHECK(hull["stable"] == nlohmann::json({"BaO", "RhO2", "BaRhO3"}));
  const auto& perovskite = entry_of(hull, "BaRhO3");
  CHECK(perovskite["stable"] == true);
  CHECK(perovskite["formation_enthalpy_per_atom"].get<double>() ==
        Approx(-29.5 / 5 - (0.4 * -5.0 + 0.6 * -6.0)));
  CHECK(perovskite["stability_probability"].get<double>() > 0.5);
  const auto& ba2rho4 = entry_of(hull, "Ba2RhO4");
  CHECK(ba2rho4["stable"] == false);
  // Ba2RhO4 (x_RhO2 = 3/7) decomposes into BaO (x = 0) and BaRhO3 (x = 3/5).
  const double x = 3.0 / 7.0, fraction_perovskite = x / 0.6;
  const double hull_energy = fraction_perovskite * (-29.5 / 5 - (0.4 * -5.0 + 0.6 * -6.0));
  const double formation = -39.2 / 7 - (4.0 / 7 * -5.0 + 3.0 / 7 * -6.0);
  CHECK(ba2rho4["e_above_hull"].get<double>() == Approx(formation - hull_energy));
  REQUIRE(ba2rho4["decomposition"].size() == 2);
  CHECK(ba2rho4["decomposition"][0]["id"] == "BaRhO3");
  CHECK(ba2rho4["decomposition"][0]["fraction"].get<double>() == Approx(fraction_perovskite));
  CHECK(entry_of(hull, "Ba")["included"] == false);
  CHECK(entry_of(hull, "broken")["exclusion"].get<std::string>().find("not a number") !=
        std::string::npos);

  std::ifstream csv(folder / "out.csv");
  std::string header;
  std::getline(csv, header);
  CHECK_THAT(header, Contains("formation_enthalpy_per_atom") && Contains("e_above_hull") &&
                         Contains("decomposition"));
  int rows = 0;
  for (std::string line; std::getline(csv, line);) ++rows;
  CHECK(rows == 6);
  CHECK(is_png(folder / "plot_hull.png"));
}

TEST_CASE("otfgp hull pressure sweep finds the analytic transition pressure", "[hull][cli]") {
  testing::TemporaryDirectory folder("otfgp-hull-cli");
  // BaO is 0.05 eV/atom above the Ba–O line at 0 GPa and 5 Å³/atom denser than
  // the mixture: it joins the hull at P = 0.05 eV / 5 Å³ = 1.60218 GPa.
  std::ofstream(folder / "phases.json") << R"({"entries": [
      {"id": "Ba", "formula": "Ba", "energy_per_atom": -2.0, "volume_per_atom": 40.0},
      {"id": "O", "formula": "O2", "energy_per_atom": -4.0, "volume_per_atom": 10.0},
      {"id": "BaO", "formula": "BaO", "energy_per_atom": -2.95, "volume_per_atom": 20.0}]})";
  const auto result =
      run_otfgp("hull " + quoted(folder / "phases.json") + " --pressure 0:4:1 --json " +
                quoted(folder / "sweep.json") + " --plot " + quoted(folder / "sweep"));
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  CHECK_THAT(result.output, Contains("keep their energy and volume at every pressure"));
  CHECK_THAT(result.output, Contains("BaO (BaO) enters the hull"));
  const auto document = read_json(folder / "sweep.json");
  CHECK(document["pressures_gpa"].size() == 5);
  REQUIRE(document["transitions"].size() == 1);
  CHECK(document["transitions"][0]["id"] == "BaO");
  CHECK(document["transitions"][0]["change"] == "enters");
  CHECK(document["transitions"][0]["pressure_gpa"].get<double>() ==
        Approx(0.05 / 5.0 * units::ev_per_a3_in_gpa).margin(1e-4));
  CHECK(entry_of(document["hulls"][1], "BaO")["stable"] == false);
  CHECK(entry_of(document["hulls"][2], "BaO")["stable"] == true);
  CHECK(entry_of(document["hulls"][4], "BaO")["enthalpy_per_atom"].get<double>() ==
        Approx(-2.95 + 4.0 * 20.0 * units::gpa_in_ev_per_a3));
  CHECK(is_png(folder / "sweep_sweep.png"));
  CHECK(is_png(folder / "sweep_hull_0GPa.png"));
  CHECK(is_png(folder / "sweep_hull_4GPa.png"));
}

TEST_CASE("otfgp hull relaxes structures at each pressure and re-checks them with a second model",
          "[hull][cli]") {
  testing::TemporaryDirectory folder("otfgp-hull-cli");
  std::vector<Structure> structures = {
      crystal(5.3, fcc_sites, {18, 18, 18, 18}),  // Ar, fcc
      crystal(5.7, fcc_sites, {36, 36, 36, 36}),  // Kr, fcc
      crystal(5.5, fcc_sites, {36, 18, 18, 18}),  // Ar3Kr, L1₂
      crystal(5.6, fcc_sites, {18, 36, 36, 36}),  // ArKr3, L1₂
      crystal(5.5, fcc_sites, {18, 36, 18, 36}),  // ArKr, L1₀-like layers
  };
  const std::vector<std::string> names = {"Ar", "Kr", "Ar3Kr", "ArKr3", "ArKr"};
  for (std::size_t s = 0; s < structures.size(); ++s) {
    structures[s].info.emplace_back("id", names[s]);
    write_structures(folder / (names[s] + ".vasp"), {structures[s]});
  }
  std::string inputs;
  for (const auto& name : names) inputs += quoted(folder / (name + ".vasp")) + " ";
  const auto result = run_otfgp("hull " + inputs + "--relax-with '" + strong +
                                "' --relax-algorithm lbfgs --pressure 0:1:1 " +
                                "--recheck-within 0.05 --recheck-with '" + weak + "' --json " +
                                quoted(folder / "r.json") + " --plot " + quoted(folder / "r"));
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  const auto document = read_json(folder / "r.json");
  // Relaxed at each pressure: volumes shrink from 0 to 1 GPa.
  const double v0 = entry_of(document["hulls"][0], "Ar")["volume_per_atom"].get<double>();
  const double v1 = entry_of(document["hulls"][1], "Ar")["volume_per_atom"].get<double>();
  CHECK(v1 < v0);
  // The zero-temperature LJ fcc crystal has ρσ³ = 1.0915 (slightly less with a cutoff).
  CHECK(v0 == Approx(std::pow(3.4, 3) / 1.0915).epsilon(0.03));
  const auto& first = document["hulls"][0];
  CHECK(entry_of(first, "ArKr")["stable"] == true);
  // With the weak Ar–Kr attraction the compounds decompose: stability changes.
  const auto& recheck = document["recheck"];
  CHECK(recheck["spec"] == weak);
  CHECK(entry_of(recheck["hulls"][0], "ArKr")["stable"] == false);
  CHECK(entry_of(recheck["hulls"][0], "ArKr")["rechecked"] == true);
  // ArKr moved by more than the window: entries outside it may be as far off.
  const double shift = entry_of(recheck["hulls"][0], "ArKr")["enthalpy_per_atom"].get<double>() -
                       entry_of(first, "ArKr")["enthalpy_per_atom"].get<double>();
  CHECK(shift > 0.05);
  CHECK_THAT(result.output, Contains("The re-check moved enthalpies by up to") &&
                                Contains("more than --recheck-within (0.050)"));
  bool changed = false;
  for (const auto& item : recheck["changed"])
    changed = changed || (item["id"] == "ArKr" && item["stable_first"] == true &&
                          item["stable_recheck"] == false);
  CHECK(changed);
  CHECK_THAT(result.output,
             Contains("Stability changed by the re-check") && Contains("stable → above the hull"));
  CHECK(is_png(folder / "r_recheck_0GPa.png"));

  // Relaxed again with the second model at 1 GPa: the re-check's rows give
  // its own volumes (they gave the first model's), H = E + PV with them.
  const auto relaxed = run_otfgp("hull " + inputs + "--relax-with '" + strong +
                                 "' --relax-algorithm lbfgs --pressure 1 --recheck-within 0.05 " +
                                 "--recheck-relax --recheck-with '" + weak + "' --json " +
                                 quoted(folder / "r1.json"));
  INFO(relaxed.output);
  REQUIRE(relaxed.exit_code == 0);
  const auto again = read_json(folder / "r1.json");
  int rechecked = 0;
  for (const auto& entry : again["recheck"]["hulls"][0]["entries"]) {
    if (!entry["rechecked"].get<bool>()) continue;
    ++rechecked;
    CHECK(entry["enthalpy_per_atom"].get<double>() ==
          Approx(entry["energy_per_atom"].get<double>() +
                 entry["volume_per_atom"].get<double>() * units::gpa_in_ev_per_a3)
              .epsilon(1e-12));
  }
  CHECK(rechecked > 0);
  CHECK(entry_of(again["recheck"]["hulls"][0], "ArKr")["volume_per_atom"].get<double>() !=
        Approx(entry_of(again["hulls"][0], "ArKr")["volume_per_atom"].get<double>()).epsilon(1e-6));
}

TEST_CASE("otfgp hull reads energies from extended XYZ frames", "[hull][cli]") {
  testing::TemporaryDirectory folder("otfgp-hull-cli");
  std::vector<Structure> frames = {crystal(3.0, {{0, 0, 0}}, {14}),
                                   crystal(3.0, {{0, 0, 0}, {0.5, 0.5, 0.5}}, {14, 14}),
                                   crystal(3.1, {{0, 0, 0}}, {14})};
  frames[0].energy = -5.0;
  frames[1].energy = -10.2;
  frames[2].energy = -4.9;
  frames[2].info.emplace_back("std", "0.05");
  write_structures(folder / "si.xyz", frames);
  const auto result =
      run_otfgp("hull " + quoted(folder / "si.xyz") + " --json " + quoted(folder / "si.json"));
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  const auto hull = read_json(folder / "si.json")["hulls"][0];
  CHECK(hull["stable"] == nlohmann::json({"si_1"}));
  CHECK(entry_of(hull, "si_0")["e_above_hull"].get<double>() == Approx(0.1));
  CHECK(entry_of(hull, "si_2")["stability_probability"].get<double>() < 0.05);
}

TEST_CASE("otfgp hull says when a frame was relaxed at another pressure than the hull's",
          "[hull][cli]") {
  // `otfgp relax -P 20` writes target_pressure_gpa=20; that geometry's E and V
  // in a 0 GPa hull is easily a mistake, which the hull names.
  testing::TemporaryDirectory folder("otfgp-hull-pressure");
  Structure dense = crystal(2.9, {{0, 0, 0}}, {14});
  dense.energy = -4.0;
  dense.info.emplace_back("target_pressure_gpa", "20.0");
  write_structures(folder / "dense.xyz", {dense});
  const auto zero =
      run_otfgp("hull " + quoted(folder / "dense.xyz") + " --json " + quoted(folder / "zero.json"));
  REQUIRE(zero.exit_code == 0);
  CHECK_THAT(zero.output, Contains("relaxed at 20.0 GPa (info target_pressure_gpa), the hull is "
                                   "at 0.0 GPa"));
  CHECK(read_json(folder / "zero.json")["phases"][0]["notes"][0] ==
        "relaxed at 20.0 GPa (info target_pressure_gpa)");
  const auto twenty = run_otfgp("hull " + quoted(folder / "dense.xyz") + " -P 20");
  REQUIRE(twenty.exit_code == 0);
  CHECK_THAT(twenty.output, !Contains("(info target_pressure_gpa)"));
}

TEST_CASE("otfgp hull explains bad input", "[hull][cli]") {
  testing::TemporaryDirectory folder("otfgp-hull-cli");
  auto fails_with = [&](const std::string& table, const std::string& arguments,
                        const std::string& message) {
    std::ofstream(folder / "t.csv") << table;
    const auto result = run_otfgp("hull " + quoted(folder / "t.csv") + " " + arguments);
    INFO(result.output);
    CHECK(result.exit_code == 1);
    CHECK_THAT(result.output, Contains(message));
  };
  fails_with("id,formula,enrgy\na,Si,-1\n", "", "unknown column 'enrgy'");
  fails_with("id,formula,energy\na,Qx2,-1\n", "",
             "t.csv line 2: cannot parse formula 'Qx2': unknown element 'Qx'");
  fails_with("id,formula,energy\na,Ba2(O,-1\n", "", "never closed");
  fails_with("id,formula,energy\na,Si,abc\n", "", "column 'energy' is not a number");
  fails_with("id,formula,energy\na,Si,-1\na,Si,-2\n", "", "entry id 'a' is used twice");
  fails_with("id,formula,energy\na,Si,inf\n", "", "beyond ±1e6 eV");
  fails_with("id,formula,energy,energy_per_atom\na,Si2,-8,-4\n", "", "not both");
  fails_with("id,formula,energy\nBaO,BaO,-10\nRhO2,RhO2,-18\nBaRhO3,BaRhO3,-30\n", "",
             "--references BaO RhO2");
  fails_with("id,formula,energy\na,Si,-1\n", "--pressure 5", "has no volume");
  fails_with("id,formula,energy\na,Si,-1\n", "--pressure 5:1:1", "the end is below the start");
  fails_with("id,formula,energy\na,Si,-1\n", "--recheck-within 0.1", "go together");
  fails_with("id,formula,energy,volume\na,Si,-1,20\n", "--references Si Si2",
             "not linearly independent");
  fails_with("id,formula,energy\na,Si,-1\n",
             "--recheck-within 0.1 --recheck-with lj:eps=1,sigma=2,rc=5", "comes from a table");
  const auto missing = run_otfgp("hull " + quoted(folder / "nothing.csv"));
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.output, Contains("does not exist"));
  std::ofstream(folder / "t.csv") << "id,formula,energy\nSi,Si,-5\nSi2,Si,-4.9\n";
  const auto single = run_otfgp("hull " + quoted(folder / "t.csv"));
  CHECK(single.exit_code == 0);
  CHECK_THAT(single.output, Contains("1 stable"));
  // Both energy columns, each row giving one (an empty cell, nan or null leaves a value out).
  std::ofstream(folder / "mixed.csv")
      << "id,formula,energy,energy_per_atom\nA,Si2,-8,\nB,Ge,,-3\nC,SiGe,-8.5,nan\n";
  const auto mixed =
      run_otfgp("hull " + quoted(folder / "mixed.csv") + " --json " + quoted(folder / "m.json"));
  INFO(mixed.output);
  REQUIRE(mixed.exit_code == 0);
  const auto hull = read_json(folder / "m.json")["hulls"][0];
  CHECK(entry_of(hull, "A")["enthalpy_per_atom"].get<double>() == Approx(-4.0));
  CHECK(entry_of(hull, "B")["enthalpy_per_atom"].get<double>() == Approx(-3.0));
  CHECK(entry_of(hull, "C")["enthalpy_per_atom"].get<double>() == Approx(-4.25));
  // A spreadsheet's UTF-8 byte-order mark before the header.
  std::ofstream(folder / "bom.csv") << "\xEF\xBB\xBFid,formula,energy\nSi,Si,-5\n";
  const auto bom = run_otfgp("hull " + quoted(folder / "bom.csv"));
  INFO(bom.output);
  CHECK(bom.exit_code == 0);
}

TEST_CASE("otfgp hull --relaxed-dir: ids checked before relaxing, a folder made, names apart",
          "[hull][cli]") {
  testing::TemporaryDirectory folder("otfgp-hull-cli");
  std::filesystem::create_directories(folder / "a");
  std::filesystem::create_directories(folder / "b");
  write_structures(folder / "a" / "ar.vasp", {crystal(5.3, fcc_sites, {18, 18, 18, 18})});
  write_structures(folder / "b" / "ar.vasp", {crystal(5.4, fcc_sites, {18, 18, 18, 18})});
  const std::string relax =
      " --relax-with '" + strong + "' --relaxed-dir " + quoted(folder / "new" / "relaxed");
  // Two inputs of one id: refused before any relaxation wrote a file, naming both paths.
  const auto twice = run_otfgp("hull " + quoted(folder / "a" / "ar.vasp") + " " +
                               quoted(folder / "b" / "ar.vasp") + relax);
  CHECK(twice.exit_code == 1);
  CHECK_THAT(twice.output, Contains("entry id 'ar' is used twice") &&
                               Contains((folder / "a" / "ar.vasp").string()) &&
                               Contains((folder / "b" / "ar.vasp").string()));
  CHECK(std::filesystem::is_empty(folder / "new" / "relaxed"));
  // Pressures that 6 digits would give one name get more digits.
  const auto close = run_otfgp("hull " + quoted(folder / "a" / "ar.vasp") + relax +
                               " --pressure 1:1.000002:0.000001");
  INFO(close.output);
  REQUIRE(close.exit_code == 0);
  for (const char* name : {"ar_1GPa.xyz", "ar_1.000001GPa.xyz", "ar_1.000002GPa.xyz"}) {
    INFO(name);
    CHECK(std::filesystem::exists(folder / "new" / "relaxed" / name));
  }
  // A structure with atoms fixed by selective dynamics: every relaxation
  // refuses it (hull --relax-with too), naming the input.
  std::ofstream(folder / "fixed.vasp")
      << "Ar4\n1.0\n5.3 0 0\n0 5.3 0\n0 0 5.3\nAr\n4\nSelective dynamics\nDirect\n"
         "0 0 0 F F F\n0.5 0.5 0 T T T\n0.5 0 0.5 T T T\n0 0.5 0.5 T T T\n";
  const auto fixed =
      run_otfgp("hull " + quoted(folder / "fixed.vasp") + " --relax-with '" + strong + "'");
  CHECK(fixed.exit_code == 1);
  CHECK_THAT(fixed.output, Contains("fixed.vasp: relax") &&
                               Contains("fix 3 coordinate(s), but a relaxation moves every atom"));
  // relax: several frames into one POSCAR are refused before relaxing any.
  write_structures(folder / "two.xyz", {crystal(5.3, fcc_sites, {18, 18, 18, 18}),
                                        crystal(5.4, fcc_sites, {18, 18, 18, 18})});
  const auto poscar = run_otfgp("relax " + quoted(folder / "two.xyz") + " -p '" + strong + "' -o " +
                                quoted(folder / "out.vasp"));
  CHECK(poscar.exit_code == 1);
  CHECK_THAT(poscar.output, Contains("holds 2 structures, and the POSCAR -o"));
  CHECK_FALSE(std::filesystem::exists(folder / "out.vasp"));
}

TEST_CASE("otfgp hull and relax refuse bad structure labels and unwritable outputs up front",
          "[hull][relax][cli]") {
  testing::TemporaryDirectory folder("otfgp-hull-cli");
  Structure argon = crystal(5.3, fcc_sites, {18, 18, 18, 18});
  write_structures(folder / "ar.xyz", {argon});
  argon.energy = -0.3;
  argon.info.emplace_back("std", "large");
  write_structures(folder / "ar-std.xyz", {argon});
  const std::string lj = " lj:eps=0.0104,sigma=3.4,rc=8.0";
  // With and without relaxation: one clear message, not an internal error.
  for (const std::string& relax : {std::string(), " --relax-with" + lj}) {
    const auto result = run_otfgp("hull " + quoted(folder / "ar-std.xyz") + relax);
    INFO(result.output);
    CHECK(result.exit_code == 1);
    CHECK_THAT(result.output, Contains("info 'std'") && Contains("large"));
  }
  const auto missing_folder = folder / "no-such-folder";
  const auto hull = run_otfgp("hull " + quoted(folder / "ar.xyz") + " --relax-with" + lj +
                              " --json " + quoted(missing_folder / "h.json"));
  CHECK(hull.exit_code == 1);
  CHECK_THAT(hull.output, Contains("no-such-folder") && !Contains("relaxed"));
  const auto relax = run_otfgp("relax " + quoted(folder / "ar.xyz") + " -p" + lj + " -o " +
                               quoted(missing_folder / "out.xyz"));
  CHECK(relax.exit_code == 1);
  CHECK_THAT(relax.output, Contains("no-such-folder") && !Contains("frame 0"));
}

TEST_CASE("otfgp relax relaxes at pressure and writes the structure and trajectory",
          "[relax][cli]") {
  testing::TemporaryDirectory folder("otfgp-relax-cli");
  Structure argon = crystal(5.5, fcc_sites, {18, 18, 18, 18});
  write_structures(folder / "ar.vasp", {argon});
  const auto result = run_otfgp(
      "relax " + quoted(folder / "ar.vasp") + " -p lj:eps=0.0104,sigma=3.4,rc=8.0 -P 0.5 -o " +
      quoted(folder / "out.xyz") + " --trajectory " + quoted(folder / "traj.xyz"));
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  CHECK_THAT(result.output, Contains("converged"));
  const auto relaxed = read_structures(folder / "out.xyz");
  REQUIRE(relaxed.size() == 1);
  REQUIRE(relaxed[0].stress);
  const auto& sigma = *relaxed[0].stress;
  CHECK(-(sigma[0] + sigma[1] + sigma[2]) / 3 * units::ev_per_a3_in_gpa ==
        Approx(0.5).margin(0.005));
  CHECK(read_structures(folder / "traj.xyz").size() > 2);
  // Relaxing the output again replaces its labels rather than repeating them.
  const auto again =
      run_otfgp("relax " + quoted(folder / "out.xyz") +
                " -p lj:eps=0.0104,sigma=3.4,rc=8.0 -P 1 -o " + quoted(folder / "again.xyz"));
  REQUIRE(again.exit_code == 0);
  std::ifstream again_file(folder / "again.xyz");
  std::string count_line, comment;
  std::getline(again_file, count_line);
  std::getline(again_file, comment);
  INFO(comment);
  for (const std::string key : {" enthalpy=", " converged=", " target_pressure_gpa="}) {
    const auto first = comment.find(key);
    CHECK(first != std::string::npos);
    CHECK(comment.find(key, first + 1) == std::string::npos);
  }
  CHECK_THAT(comment, Contains(" target_pressure_gpa=1.0 "));

  // An earlier calculation's per-atom results (an eval's GP columns) are not
  // carried into the relaxed structure, where they would contradict its own.
  Structure evaluated = argon;
  evaluated.extra_properties.push_back({"force_std", 'R', 1, {"0.1", "0.1", "0.1", "0.1"}});
  evaluated.extra_properties.push_back({"novel", 'R', 1, {"0", "0", "0", "1"}});
  evaluated.extra_properties.push_back({"tags", 'I', 1, {"1", "2", "3", "4"}});
  write_structures(folder / "evaluated.xyz", {evaluated});
  REQUIRE(run_otfgp("relax " + quoted(folder / "evaluated.xyz") +
                    " -p lj:eps=0.0104,sigma=3.4,rc=8.0 -o " + quoted(folder / "fresh.xyz"))
              .exit_code == 0);
  const Structure fresh = read_structures(folder / "fresh.xyz").at(0);
  std::vector<std::string> columns;
  for (const auto& column : fresh.extra_properties) columns.push_back(column.name);
  CHECK(columns == std::vector<std::string>{"tags"});

  const auto limited = run_otfgp("relax " + quoted(folder / "ar.vasp") +
                                 " -p lj:eps=0.0104,sigma=3.4,rc=8.0 -P 0.5 --max-steps 1");
  CHECK(limited.exit_code == 1);
  CHECK_THAT(limited.output, Contains("NOT converged") && Contains("--max-steps"));

  // A structure that fails (two atoms on one site) keeps those relaxed before it.
  Structure broken = argon;
  broken.positions.row(1) = broken.positions.row(0);
  write_structures(folder / "two.xyz", {argon, broken});
  const auto failed =
      run_otfgp("relax " + quoted(folder / "two.xyz") + " -p lj:eps=0.0104,sigma=3.4,rc=8.0 -o " +
                quoted(folder / "two_out.xyz"));
  CHECK(failed.exit_code == 1);
  CHECK_THAT(failed.output,
             Contains("structure 2:") && Contains("the 1 structure(s) relaxed before it are in"));
  REQUIRE(read_structures(folder / "two_out.xyz").size() == 1);
}

TEST_CASE("otfgp relax without -o says that it writes nothing", "[relax][cli]") {
  testing::TemporaryDirectory folder("otfgp-relax-cli");
  write_structures(folder / "ar.vasp", {crystal(5.3, fcc_sites, {18, 18, 18, 18})});
  const std::string relax =
      "relax " + quoted(folder / "ar.vasp") + " -p lj:eps=0.0104,sigma=3.4,rc=8.0";
  const auto bare = run_otfgp(relax);
  INFO(bare.output);
  CHECK(bare.exit_code == 0);
  CHECK_THAT(bare.output, Contains("no -o: the relaxed structures are not written") &&
                              Contains("frame 0: converged"));
  const auto written = run_otfgp(relax + " -o " + quoted(folder / "out.xyz"));
  CHECK(written.exit_code == 0);
  CHECK_THAT(written.output, !Contains("no -o"));
}

TEST_CASE("otfgp relax and hull refuse a pressure in the wrong unit, naming -P",
          "[hull][relax][cli]") {
  testing::TemporaryDirectory folder("otfgp-pressure-cli");
  write_structures(folder / "ar.xyz", {crystal(5.3, fcc_sites, {18, 18, 18, 18})});
  std::ofstream(folder / "t.csv") << "id,formula,energy,volume\nLi_a,Li,-1.9,20\n";
  const std::string argon = quoted(folder / "ar.xyz"), table = quoted(folder / "t.csv");
  const std::string lj = " lj:eps=0.0104,sigma=3.4,rc=8.0";
  const std::string beyond =
      " GPa is not below ±10000 GPa, far past what any structure survives; the unit is GPa (1 GPa "
      "= 10 kbar = 1e4 bar = 1e9 Pa)";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"relax " + argon + " -p" + lj + " -P 100000", "100000"},
      {"relax " + argon + " -p" + lj + " -P 1e9 -o " + quoted(folder / "out.xyz"), "1e+09"},
      {"hull " + table + " -P 100000", "100000"},
      {"hull " + table + " -P 1e9", "1e+09"},  // was blamed on the table's energies
      {"hull " + table + " -P 0:20000:10000", "20000"},
      {"hull " + table + " --pressure=-20000:0:10000", "-20000"},
      {"hull " + argon + " --relax-with" + lj + " -P 100000", "100000"},
  };
  for (const auto& [arguments, pressure] : cases) {
    const auto result = run_otfgp(arguments);
    INFO(arguments << "\n" << result.output);
    CHECK(result.exit_code == 1);
    CHECK_THAT(result.output, Contains("-P/--pressure: the target pressure " + pressure + beyond) &&
                                  !Contains("frame 0") && !Contains("corrupt table"));
  }
  CHECK_FALSE(std::filesystem::exists(folder / "out.xyz"));
  // Above 1000 GPa: a warning naming the option, and the run goes on.
  const auto high = run_otfgp("hull " + table + " -P 2000");
  INFO(high.output);
  CHECK(high.exit_code == 0);
  CHECK_THAT(high.output, Contains("-P/--pressure: the target pressure 2000 GPa is above 1000 GPa: "
                                   "the unit is GPa"));
}

TEST_CASE("the Ba-Rh-O example relaxes and builds its hull on the BaO-RhO2 join",
          "[hull][cli][example]") {
  const std::filesystem::path structures =
      std::filesystem::path(OTFGP_SOURCE_DIR) / "examples/hull-barho/structures";
  std::string inputs;
  for (const auto& file : std::filesystem::directory_iterator(structures))
    inputs += quoted(file.path()) + " ";
  testing::TemporaryDirectory folder("otfgp-hull-barho");
  const auto result = run_otfgp(
      "hull " + inputs + "--references BaO RhO2 --relax-with buck:BaRhO.buck " +
      "--relax-algorithm lbfgs --fmax 0.005 --pressure 10 --json " + quoted(folder / "h.json"));
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  CHECK_THAT(result.output, !Contains("did not converge"));
  const auto hull = read_json(folder / "h.json")["hulls"][0];
  CHECK(hull["entries"].size() == 8);
  for (const std::string id : {"BaO", "RhO2", "Ba2RhO4", "BaRhO3-cubic"})
    CHECK(entry_of(hull, id)["stable"] == true);
  CHECK(entry_of(hull, "BaRhO3-2H")["stable"] == false);
  CHECK(entry_of(hull, "BaRhO3-2H")["duplicate_of"] == "BaRhO3-cubic");
}
