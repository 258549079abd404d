// The YAML config reader: typos, wrong types, missing and repeated keys are
// errors that name the key, the file and the line.

#include <catch2/catch.hpp>

#include <spdlog/sinks/ostream_sink.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "otfgp/core/config.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/target_pressure.hpp"
#include "otfgp/md/run.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using Catch::Contains;

TEST_CASE("edit distance and closest match", "[config]") {
  CHECK(edit_distance("timestep", "timestep") == 0);
  CHECK(edit_distance("timestpe", "timestep") == 2);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(closest_match("temprature", {"temperature", "timestep", "steps"}) ==
        std::optional<std::string>("temperature"));
  CHECK(!closest_match("zzzzzz", {"temperature", "timestep"}));
}

TEST_CASE("config sections read typed values and refuse unknown keys", "[config]") {
  const std::string text =
      "timestep: 0.5\n"
      "steps: 1e4\n"
      "name: run\n"
      "flag: yes\n"
      "thermostat:\n"
      "  type: langevin\n"
      "  damping: 100\n"
      "repeat: [2, 3, 4]\n";
  ConfigSection root = ConfigSection::parse(text, "run.yaml");
  root.expect_keys({"timestep", "steps", "name", "flag", "thermostat", "repeat", "missing"});
  CHECK(root.number("timestep") == 0.5);
  CHECK(root.integer("steps") == 10000);
  CHECK(root.text("name") == "run");
  CHECK(root.flag("flag", false));
  CHECK(root.number("missing", 7.0) == 7.0);
  CHECK(root.integers("repeat", 3) == std::vector<long>{2, 3, 4});
  ConfigSection thermostat = root.section("thermostat");
  thermostat.expect_keys({"type", "damping"});
  CHECK(thermostat.choice("type", {"langevin", "nose-hoover-chain"}) == "langevin");
  CHECK(thermostat.name("damping") == "thermostat.damping");
  CHECK_THROWS_WITH(thermostat.finish(), Contains("run.yaml, line 7") &&
                                             Contains("'thermostat.damping' does not apply"));
  CHECK(thermostat.number("damping") == 100.0);
  thermostat.finish();
  root.finish();

  ConfigSection typo = ConfigSection::parse("timestpe: 1\n", "md.yaml");
  CHECK_THROWS_WITH(typo.expect_keys({"timestep", "steps"}),
                    Contains("md.yaml, line 1: unknown key 'timestpe' (did you mean 'timestep'?)"));
  ConfigSection nested = ConfigSection::parse("thermostat:\n  dampnig: 3\n", "md.yaml");
  nested.expect_keys({"thermostat"});
  ConfigSection inner = nested.section("thermostat");
  CHECK_THROWS_WITH(
      inner.expect_keys({"type", "damping"}),
      Contains("line 2: unknown key 'thermostat.dampnig' (did you mean 'thermostat.damping'?)"));
  ConfigSection unrelated = ConfigSection::parse("colour: red\n", "md.yaml");
  CHECK_THROWS_WITH(unrelated.expect_keys({"timestep", "steps"}),
                    Contains("unknown key 'colour' (known keys: timestep, steps)"));

  ConfigSection types =
      ConfigSection::parse("a: abc\nb: 1.5\nc: {x: 1}\nd: maybe\ne: [1, x]\nf:\n", "t.yaml");
  types.expect_keys({"a", "b", "c", "d", "e", "f", "g"});
  CHECK_THROWS_WITH(types.number("a"),
                    Contains("t.yaml, line 1: key 'a': expected a number, got 'abc'"));
  CHECK_THROWS_WITH(types.integer("b"), Contains("key 'b': expected an integer, got '1.5'"));
  CHECK_THROWS_WITH(types.number("c"), Contains("key 'c': expected a number, got a mapping"));
  CHECK_THROWS_WITH(types.flag("d", false), Contains("key 'd': expected true or false"));
  CHECK_THROWS_WITH(types.numbers("e"), Contains("key 'e': expected numbers, got 'x'"));
  CHECK_THROWS_WITH(types.number("f"), Contains("key 'f': has no value"));
  CHECK_THROWS_WITH(types.number("g"), Contains("t.yaml") && Contains("missing required key 'g'"));
  CHECK_THROWS_WITH(types.choice("a", {"abd", "xyz"}),
                    Contains("unknown value 'abc' (did you mean 'abd'?)"));

  // Mappings whose keys are data (element → file): keys in the file's order,
  // values read through the typed readers, so a list where a word belongs
  // names its key and line instead of escaping as yaml-cpp's "bad conversion".
  ConfigSection data =
      ConfigSection::parse("files:\n  Si: Si.UPF\n  O: [O.UPF]\n  Mg: {a: 1}\n", "p.yaml");
  const ConfigSection files = data.section("files");
  CHECK(files.keys() == std::vector<std::string>{"Si", "O", "Mg"});
  CHECK(files.text("Si") == "Si.UPF");
  CHECK_THROWS_WITH(files.text("O"),
                    Contains("p.yaml, line 3: key 'files.O': expected a string, got a sequence"));
  CHECK_THROWS_WITH(files.text("Mg"), Contains("line 4: key 'files.Mg'") && Contains("mapping"));
  CHECK_THROWS_WITH(ConfigSection::parse("m: {[a, b]: 1}\n", "k.yaml").section("m").keys(),
                    Contains("k.yaml, line 1: a key of 'm' is not a plain word"));

  CHECK_THROWS_WITH(ConfigSection::parse("a: 1\nb: 2\na: 3\n", "d.yaml"),
                    Contains("d.yaml, line 3: key 'a' is given twice"));
  CHECK_THROWS_WITH(ConfigSection::parse("a: [1, 2\n", "bad.yaml"),
                    Contains("bad.yaml, line") && Contains("not valid YAML"));
  CHECK_THROWS_WITH(ConfigSection::parse("- 1\n- 2\n", "list.yaml"),
                    Contains("list.yaml: the config must be a mapping"));
  CHECK_THROWS_WITH(ConfigSection::load("/nonexistent/md.yaml"),
                    Contains("'/nonexistent/md.yaml' does not exist"));
}

TEST_CASE("YAML merge keys: a stage's settings from an anchor, its own keys first", "[config]") {
  // yaml-cpp 0.7 reads '<<' as a plain key; the config expands it.
  const std::string text =
      "campaign:\n"
      "  - &cold {structure: a.xyz, temperature: 600, steps: 200}\n"
      "  - {<<: *cold, temperature: 900}\n"
      "  - <<: [*cold, {pressure: 5}]\n"
      "    structure: b.xyz\n";
  const ConfigSection root = ConfigSection::parse(text, "otf.yaml");
  const std::vector<ConfigSection> stages = root.sections("campaign");
  REQUIRE(stages.size() == 3);
  CHECK(stages[1].number("temperature") == 900.0);
  CHECK(stages[1].text("structure") == "a.xyz");
  CHECK(stages[1].integer("steps") == 200);
  CHECK(stages[2].text("structure") == "b.xyz");
  CHECK(stages[2].number("pressure") == 5.0);
  CHECK(stages[2].number("temperature") == 600.0);
  CHECK_FALSE(stages[1].has("<<"));
  // The anchored stage itself is unchanged by the merges.
  CHECK(stages[0].number("temperature") == 600.0);
  CHECK_FALSE(stages[0].has("pressure"));
  // An unknown merged key is reported at the anchor's line.
  ConfigSection typo = ConfigSection::parse("base: &b {temperatrue: 3}\nrun: {<<: *b}\n", "t.yaml");
  CHECK_THROWS_WITH(typo.section("run").expect_keys({"temperature"}),
                    Contains("t.yaml, line 1") && Contains("temperatrue"));
  CHECK_THROWS_WITH(ConfigSection::parse("run: {<<: 3}\n", "t.yaml"),
                    Contains("t.yaml, line 1") && Contains("takes a mapping"));
}

TEST_CASE("config numbers are number_text's: whole reals count as integers, no inf or nan",
          "[config]") {
  ConfigSection values = ConfigSection::parse(
      "steps: 1e6\nneg: -3\nbig: 99999999999999999999\nfortran: 1.5d2\nsigned: +0.25\n"
      "inf: inf\nnan: nan\nhuge: 1e999\nspaced: 1 000\nlist: [1e3, 2]\n",
      "n.yaml");
  CHECK(values.integer("steps") == 1000000);
  CHECK(values.integer("neg") == -3);
  CHECK(values.number("fortran") == 150.0);
  CHECK(values.number("signed") == 0.25);
  CHECK(values.integers("list") == std::vector<long>{1000, 2});
  CHECK_THROWS_WITH(values.integer("big"), Contains("expected an integer"));
  for (const char* key : {"inf", "nan", "huge", "spaced"})
    CHECK_THROWS_WITH(values.number(key), Contains("expected a number"));
}

TEST_CASE("md configs: every mistake names the key and the file", "[config][md]") {
  const std::string base =
      "structure: {lattice: diamond, elements: [Si], a: 5.431, repeat: 2}\n"
      "potential: lj:eps=0.01,sigma=2.1,rc=5\n"
      "ensemble: nvt\n"
      "temperature: 300\n"
      "steps: 10\n"
      "thermostat: {type: langevin, damping: 50}\n";
  const md::RunConfig good = md::parse_run_config(base, "md.yaml");
  CHECK(good.lattice->repeat == std::array<int, 3>{2, 2, 2});
  CHECK(good.engine.thermostat.type == md::ThermostatType::langevin);
  CHECK(good.engine.thermostat.damping == 50.0);
  CHECK(good.initial_temperature == 300.0);
  CHECK(good.output.thermo_interval == 100);

  auto error_of = [&](const std::string& text) {
    try {
      md::parse_run_config(text, "md.yaml");
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error_of(base + "timestpe: 2\n"),
             Contains("md.yaml, line 7: unknown key 'timestpe' (did you mean 'timestep'?)"));
  CHECK_THAT(
      error_of(base + "output: {thermo_intervall: 5}\n"),
      Contains("unknown key 'output.thermo_intervall' (did you mean 'output.thermo_interval'?)"));
  CHECK_THAT(error_of(base + "timestep: fast\n"),
             Contains("key 'timestep': expected a number, got 'fast'"));
  CHECK_THAT(error_of(base + "timestep: -1\n"), Contains("key 'timestep': must be positive"));
  CHECK_THAT(error_of(base + "output: {restart_interval: 2.5}\n"),
             Contains("key 'output.restart_interval': expected an integer"));
  CHECK_THAT(
      error_of("potential: lj:eps=1,sigma=1,rc=3\nensemble: nve\nsteps: 3\ntemperature: 1\n"),
      Contains("md.yaml: missing required key 'structure'"));
  CHECK_THAT(error_of("structure: {file: a.xyz}\nensemble: nve\nsteps: 3\ntemperature: 1\n"),
             Contains("missing required key 'potential'"));
  std::string no_thermostat = base.substr(0, base.find("thermostat:"));
  CHECK_THAT(error_of(no_thermostat), Contains("missing required key 'thermostat' (ensemble nvt)"));
  CHECK_THAT(error_of(no_thermostat + "thermostat: {type: berendsen}\n"),
             Contains("key 'thermostat.type': unknown value 'berendsen'") &&
                 Contains("langevin, nose-hoover-chain"));
  CHECK_THAT(error_of(no_thermostat + "thermostat: {type: langevin, chain_length: 4}\n"),
             Contains("'thermostat.chain_length' does not apply with thermostat type langevin"));
  CHECK_THAT(error_of(base + "barostat: {pressure: 1}\n"),
             Contains("key 'barostat': does not apply to ensemble nvt"));
  CHECK_THAT(
      error_of(base.substr(0, base.find("ensemble")) +
               "ensemble: npt\ntemperature: 300\nsteps: 10\n" + "thermostat: {type: langevin}\n"),
      Contains("missing required key 'barostat' (ensemble npt)"));
  CHECK_THAT(error_of(base.substr(0, base.find("ensemble")) +
                      "ensemble: npt\ntemperature: 300\nsteps: 10\n" +
                      "thermostat: {type: langevin}\nbarostat: {pressure: 1, coupling: iso}\n"),
             Contains("key 'barostat.coupling': unknown value 'iso'"));
  CHECK_THAT(error_of(base + "output: {thermo_file: out/thermo.dat}\n"),
             Contains("key 'output.thermo_file': must be a file name"));
  CHECK_THAT(error_of("structure: {lattice: diamond, elements: [Si, C], a: 5}\npotential: "
                      "x\nensemble: nve\nsteps: 1\ntemperature: 0\n"),
             Contains("key 'structure.elements': expected 1 strings, got 2"));
  CHECK_THAT(error_of("structure: {lattice: diamond, elements: [Xx], a: 5}\npotential: "
                      "x\nensemble: nve\nsteps: 1\ntemperature: 0\n"),
             Contains("key 'structure.elements'") && Contains("Xx"));
  CHECK_THAT(error_of("structure: {lattice: diamond, file: a.xyz}\npotential: x\nensemble: "
                      "nve\nsteps: 1\ntemperature: 0\n"),
             Contains("exactly one of 'structure.file' and 'structure.lattice'"));
  CHECK_THAT(error_of("structure: {lattice: diamand, elements: [Si], a: 5}\npotential: "
                      "x\nensemble: nve\nsteps: 1\ntemperature: 0\n"),
             Contains("unknown value 'diamand' (did you mean 'diamond'?)"));
  CHECK_THAT(error_of(base + "thermostat: {type: langevin}\n"),
             Contains("line 7: key 'thermostat' is given twice"));
  CHECK_THAT(error_of(base.substr(0, base.find("thermostat:")) +
                      "thermostat: {type: langevin, damping: 0.5}\ntimestep: 1\n"),
             Contains("md.yaml: the thermostat damping") && Contains("shorter than the time step"));
}

TEST_CASE("the resolved dynamics settings name every value that shapes the trajectory",
          "[config][md]") {
  const md::RunConfig config = md::parse_run_config(
      "structure: {lattice: fcc, elements: [Ar], a: 5.3}\npotential: lj:eps=0.01,sigma=3.4,rc=7\n"
      "ensemble: npt\ntemperature: 50\nsteps: 5\nthermostat: {type: nose-hoover-chain}\n"
      "barostat: {pressure: 2.5, coupling: triclinic}\n",
      "npt.yaml");
  const std::string settings = md::dynamics_settings(config);
  for (const char* line : {"ensemble: npt\n", "timestep: 1\n", "temperature: 50\n",
                           "thermostat.type: nose-hoover-chain\n", "thermostat.damping: 100\n",
                           "barostat.pressure: 2.5\n", "barostat.coupling: triclinic\n",
                           "barostat.damping: 1000\n", "neighbor.skin: 1\n", "seed: 1\n"})
    CHECK_THAT(settings, Contains(line));
}

TEST_CASE("target pressures: one limit and one wording, naming the option or key", "[config]") {
  // Every verb's pressure goes through these (relax, hull, search, md, otf).
  CHECK_NOTHROW(check_target_pressure(9999.9, "-P/--pressure"));
  CHECK_NOTHROW(check_target_pressure(-9999.9, "-P/--pressure"));
  CHECK_THROWS_WITH(check_target_pressure(1e5, "-P/--pressure"),
                    "-P/--pressure: the target pressure 100000 GPa is not below ±10000 GPa, far "
                    "past what any structure survives; the unit is GPa (1 GPa = 10 kbar = 1e4 bar "
                    "= 1e9 Pa)");
  CHECK_THROWS_WITH(check_target_pressure(-1e4, "x"),
                    Contains("x: the target pressure -10000 GPa"));
  CHECK_THROWS_WITH(check_target_pressure(std::nan(""), "x"),
                    "x: the target pressure must be a finite number (GPa)");

  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  logger().sinks().push_back(sink);
  check_given_pressure(1000, "-P/--pressure");
  const ConfigSection root = ConfigSection::parse("seed: 1\npressure: 5000\n", "search.yaml");
  const double pressure = read_target_pressure(root, "pressure", 0.0);
  const double absent = read_target_pressure(root, "elsewhere", 2.0);
  logger().sinks().pop_back();
  CHECK(pressure == 5000.0);
  CHECK(absent == 2.0);
  CHECK_THAT(log.str(), Contains("search.yaml, line 2: key 'pressure': the target pressure 5000 "
                                 "GPa is above 1000 GPa: the unit is GPa (1 GPa = 10 kbar = 1e4 "
                                 "bar = 1e9 Pa)"));
  CHECK(log.str().find("1000 GPa is") == std::string::npos);
  CHECK_THROWS_WITH(
      read_target_pressure(ConfigSection::parse("pressure: 1e9\n", "search.yaml"), "pressure"),
      Contains("search.yaml, line 1: key 'pressure': the target pressure 1e+09 GPa is not below "
               "±10000 GPa"));
}
