// What `otfgp otf` must refuse before it spends an oracle call (a DFT call is
// expensive): broken starting structures, checked as the MD engine checks
// them; npt on a slab; held-out frames with an element the model lacks; a
// descriptor cutoff that sees no neighbour; an output that is a file; an
// oracle that cannot work (before anything is written). Also: the oracle's
// parameter files are found beside the config, interval defaults follow
// check_interval, and the messages of keys that otf replaces say what to do.

#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <spdlog/sinks/ostream_sink.h>

#include <array>
#include <fstream>
#include <sstream>

#include "otfgp/core/error.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/oracle/oracle.hpp"
#include "otfgp/otf/otf_config.hpp"
#include "otfgp/otf/otf_loop.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "support/files.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::otf;
using Catch::Contains;
using namespace otfgp::testing;

namespace {

const std::string si64 = quickstart_si64();
const std::string& sw = si_sw_file;

// The 64-atom Si crystal with atom 63 moved to `shift` from atom 0, in a cell
// with periodicity `pbc`.
void write_si(const std::filesystem::path& path, const Eigen::RowVector3d& shift,
              const std::string& pbc = "T T T") {
  Structure s = read_structure(si64);
  s.positions.row(63) = s.positions.row(0) + shift;
  s.pbc = {pbc[0] == 'T', pbc[2] == 'T', pbc[4] == 'T'};
  write_structure(path, s);
}

std::string otf_text(const std::string& structure, const std::string& output,
                     const std::string& md_extra = "", const std::string& extra = "",
                     const std::string& oracle = "{kind: potential, potential: 'sw:" + sw + "'}",
                     const std::string& ensemble = "nvt") {
  return "structure: " + structure + "\nmd:\n  ensemble: " + ensemble +
         "\n  temperature: 1000\n  steps: 100\n  thermostat: {type: langevin, damping: 100}\n" +
         md_extra + "model:\n  descriptor: {n_max: 4, l_max: 2, cutoff: 4.5}\noracle: " + oracle +
         "\n" + extra + "output: " + output + "\n";
}

OtfConfig read(const TemporaryDirectory& dir, const std::string& text,
               const std::string& name = "otf.yaml") {
  std::ofstream(dir / name) << text;
  return read_otf_config(dir / name);
}

std::string config_text_with_check(long check, const std::string& output,
                                   const std::string& otf_extra = "") {
  return otf_text(si64, output, "",
                  "otf:\n  check_interval: " + std::to_string(check) + "\n" + otf_extra);
}

// An oracle that counts its calls and always fails them.
class FailingOracle final : public oracle::Oracle {
 public:
  std::string kind() const override { return "failing"; }
  void check(const std::vector<int>&) const override {}
  Structure label(const Structure&, const std::filesystem::path&, int) override {
    ++calls;
    throw oracle::OracleFailure(oracle::FailureKind::nonzero_exit,
                                "pw.x exited with status 1: Error in routine readpp");
  }
  int calls = 0;
};

// One hyperparameter search as the log reports it (hyperparameter_optimizer.cpp).
struct LoggedSearch {
  bool improved = false;
  double start_likelihood = 0, end_likelihood = 0;
  std::array<std::string, 4> start, end;  // σ, σ_e, σ_f, σ_s as printed
};

// The searches of one update (one, or two starts) up to its "hyperparameters
// re-optimised" line, and which of them was kept.
struct HyperparameterUpdate {
  std::vector<LoggedSearch> searches;
  int kept = -1;  // with two starts: 0 the current values', 1 the configured start's
  const std::array<std::string, 4>& kept_end() const {
    return searches[searches.size() == 1 ? 0 : static_cast<std::size_t>(kept)].end;
  }
};

std::vector<HyperparameterUpdate> hyperparameter_updates(const std::string& log) {
  const std::array<std::string, 4> names = {"signal_std", "energy_noise", "force_noise",
                                            "stress_noise"};
  std::vector<HyperparameterUpdate> updates(1);
  std::istringstream stream(log);
  for (std::string line; std::getline(stream, line);) {
    HyperparameterUpdate& update = updates.back();
    if (line.find("likelihood evaluations in") != std::string::npos) {
      update.searches.emplace_back();
    } else if (line.find("kept the current's") != std::string::npos) {
      update.kept = 0;
    } else if (line.find("kept the configured start's") != std::string::npos) {
      update.kept = 1;
    } else if (const auto at = line.find("  log likelihood "); at != std::string::npos) {
      LoggedSearch& search = update.searches.at(update.searches.size() - 1);
      search.improved = line.find("log likelihood improved from ") != std::string::npos;
      std::istringstream words(line.substr(line.find(" from ", at) + 6));
      std::string to;
      words >> search.start_likelihood >> to >> search.end_likelihood;
    } else if (line.find("hyperparameters re-optimised") != std::string::npos) {
      updates.emplace_back();
    } else {
      for (std::size_t k = 0; k < names.size(); ++k)
        if (const auto at = line.find("  " + names[k] + " "); at != std::string::npos) {
          std::istringstream words(line.substr(at + names[k].size() + 2));
          std::string arrow;
          LoggedSearch& search = update.searches.at(update.searches.size() - 1);
          words >> search.start[k] >> arrow >> search.end[k];
        }
    }
  }
  if (updates.back().searches.empty()) updates.pop_back();
  return updates;
}

}  // namespace

TEST_CASE("otf set-up: broken starting structures are refused before any oracle call",
          "[otf][setup]") {
  TemporaryDirectory dir;
  const std::string out = (dir / "out").string();
  struct Case {
    const char* name;
    Eigen::RowVector3d shift;
    std::string expected;
  };
  // Overlapping (0.6 Å), all but coincident (0.005 Å), coincident through a
  // periodic image (moved by a lattice vector).
  const std::vector<Case> cases = {
      {"overlap.xyz", {0.6, 0.0, 0.0}, "0.600 Å apart"},
      {"coincident.xyz", {0.005, 0.0, 0.0}, "0.005 Å apart"},
      {"image.xyz", {10.862, 0.0, 0.0}, "0.000 Å apart"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    write_si(dir / c.name, c.shift);
    CHECK_THROWS_WITH(read(dir, otf_text((dir / c.name).string(), out)),
                      Contains("otf.yaml") && Contains("stage 1") && Contains(c.name) &&
                          Contains(c.expected) && Contains("atoms 1 (Si) and 64 (Si)"));
  }
  // An atom on its own periodic image: a one-atom cell 0.5 Å wide.
  std::ofstream(dir / "thin.xyz") << "1\nLattice=\"0.5 0 0 0 5 0 0 0 5\" "
                                     "Properties=species:S:1:pos:R:3 pbc=\"T T T\"\nSi 0 0 0\n";
  CHECK_THROWS_WITH(read(dir, otf_text((dir / "thin.xyz").string(), out)),
                    Contains("thin.xyz") && Contains("its own periodic image"));
  // md.checks.min_distance is the engine's, and the loop's.
  write_si(dir / "close.xyz", {1.6, 0.0, 0.0});
  CHECK_NOTHROW(read(dir, otf_text((dir / "close.xyz").string(), out)));
  CHECK_THROWS_WITH(
      read(dir, otf_text((dir / "close.xyz").string(), out, "  checks: {min_distance: 1.8}\n")),
      Contains("1.600 Å apart") && Contains("1.800"));
  // Constant pressure on a slab; the same structure is fine at constant volume.
  write_si(dir / "slab.xyz", {0.0, 0.0, 2.0}, "T T F");
  const std::string npt = "  barostat: {pressure: 1}\n";
  CHECK_THROWS_WITH(read(dir, otf_text((dir / "slab.xyz").string(), out, npt, "",
                                       "{kind: potential, "
                                       "potential: 'sw:" +
                                           sw + "'}",
                                       "npt")),
                    Contains("slab.xyz") && Contains("stage 1") && Contains("npt") &&
                        Contains("periodic in all three directions") && Contains("T T F"));
  CHECK_NOTHROW(read(dir, otf_text((dir / "slab.xyz").string(), out)));
  // A later stage of a campaign is checked too.
  const std::string campaign = "campaign:\n  - {structure: " + si64 +
                               "}\n  - {structure: " + (dir / "overlap.xyz").string() + "}\n";
  std::string text = otf_text(si64, out);
  text.replace(0, text.find("md:"), campaign);
  CHECK_THROWS_WITH(read(dir, text), Contains("stage 2") && Contains("overlap.xyz"));
  // A starting structure that cannot be read is named with its stage.
  std::filesystem::create_directory(dir / "afolder");
  CHECK_THROWS_WITH(read(dir, otf_text((dir / "afolder").string(), out)),
                    Contains("stage 1") && Contains("afolder"));
}

TEST_CASE("otf set-up: held-out frames, descriptor cutoff and output are checked up front",
          "[otf][setup]") {
  TemporaryDirectory dir;
  const std::string out = (dir / "out").string();
  // Held-out frames with an element the model does not describe.
  Structure ge = read_structure(si64);
  ge.numbers[5] = 32;
  auto potential = make_potential("lj:eps=0.01,sigma=2.1,rc=5");
  attach_labels(ge, evaluate(*potential, ge));
  write_structure(dir / "held_out.xyz", ge);
  CHECK_THROWS_WITH(read(dir, otf_text(si64, out, "", "held_out: held_out.xyz\n")),
                    Contains("held_out") && Contains("held_out.xyz") && Contains("Ge") &&
                        Contains("does not describe") && Contains("Si"));
  CHECK_THROWS_WITH(read(dir, otf_text(si64, out, "", "held_out: " + si64 + "\n")),
                    Contains("held_out") && Contains("si64.xyz frame 1 has no forces"));
  // An empty file, a frame without atoms, a folder: named with the key.
  std::ofstream(dir / "empty.xyz").flush();
  CHECK_THROWS_WITH(read(dir, otf_text(si64, out, "", "held_out: empty.xyz\n")),
                    Contains("key 'held_out'") && Contains("empty.xyz holds no frame"));
  std::ofstream(dir / "zero.xyz") << "0\nLattice=\"5 0 0 0 5 0 0 0 5\" "
                                     "Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n";
  CHECK_THROWS_WITH(read(dir, otf_text(si64, out, "", "held_out: zero.xyz\n")),
                    Contains("key 'held_out'") && Contains("zero.xyz frame 1 has no atoms"));
  std::filesystem::create_directory(dir / "afolder");
  CHECK_THROWS_WITH(read(dir, otf_text(si64, out, "", "held_out: afolder\n")),
                    Contains("key 'held_out'") && Contains("afolder"));
  // A descriptor cutoff shorter than every bond.
  std::string text = otf_text(si64, out);
  text.replace(text.find("cutoff: 4.5"), 11, "cutoff: 0.45");
  CHECK_THROWS_WITH(read(dir, text), Contains("64 of the 64 atoms") &&
                                         Contains("no neighbour within model.descriptor.cutoff") &&
                                         Contains("0.45 Å"));
  // … or a pair cutoff shorter than every bond of its pair.
  text = otf_text(si64, out);
  text.replace(text.find("cutoff: 4.5"), 11, "cutoff: 4.5, pair_cutoffs: {Si-Si: 0.45}");
  CHECK_THROWS_WITH(read(dir, text),
                    Contains("64 of the 64 atoms") && Contains("or their pair_cutoffs"));
  // Descriptor values out of range: named with their key and line.
  for (const auto& [from, to, key] : std::vector<std::array<std::string, 3>>{
           {"cutoff: 4.5", "cutoff: 0", "key 'model.descriptor.cutoff'"},
           {"n_max: 4", "n_max: 0", "key 'model.descriptor.n_max'"},
           {"l_max: 2", "l_max: -1", "key 'model.descriptor.l_max'"},
           {"cutoff: 4.5", "r_min: 9", "key 'model.descriptor.r_min': must be below the cutoff"}}) {
    text = otf_text(si64, out);
    text.replace(text.find(from), from.size(), to);
    INFO(to);
    CHECK_THROWS_WITH(read(dir, text), Contains(key) && Contains(", line "));
  }
  // An output that is a file, or lies under one.
  std::ofstream(dir / "afile") << "x";
  CHECK_THROWS_WITH(
      read(dir, otf_text(si64, (dir / "afile").string())),
      Contains("key 'output'") && Contains("must be a directory") && Contains("afile is a file"));
  CHECK_THROWS_WITH(read(dir, otf_text(si64, (dir / "afile" / "run").string())),
                    Contains("key 'output'") && Contains("afile is a file"));
  CHECK_NOTHROW(read(dir, otf_text(si64, (dir / "new" / "run").string())));
}

TEST_CASE("otf set-up: an oracle that cannot work stops the run before anything is written",
          "[otf][setup]") {
  TemporaryDirectory dir;
  // GaN.tersoff has no Si: LAMMPS refuses it at pair_coeff, so every frame would fail.
  const std::string oracle =
      "{kind: lammps, pair_style: tersoff, pair_coeff: '* * GaN.tersoff {elements}'}";
  const OtfConfig config = read(dir, otf_text(si64, (dir / "out").string(), "", "", oracle));
  CHECK_THROWS_WITH(run_otf(config, false),
                    Contains("oracle") && Contains("test frame") && Contains("Si"));
  CHECK_FALSE(std::filesystem::exists(dir / "out"));
  // An element the oracle lacks: the config, the element and the structure
  // holding it are named, not only the potential's message.
  Structure silicon_carbon = read_structure(si64);
  silicon_carbon.numbers[0] = 6;
  write_structure(dir / "sic.xyz", silicon_carbon);
  const OtfConfig mixed = read(dir, otf_text((dir / "sic.xyz").string(), (dir / "out").string(), "",
                                             "", "{kind: potential, potential: 'sw:" + sw + "'}"));
  CHECK_THROWS_WITH(run_otf(mixed, false),
                    Contains("otf.yaml: the oracle (oracle.kind: potential) cannot label C of "
                             "structure (" +
                             (dir / "sic.xyz").string() + ")") &&
                        Contains("sw: element C is not in"));
  CHECK_FALSE(std::filesystem::exists(dir / "out"));
  // A missing key is named once (it was: "key 'oracle.potential': …, line 12:
  // missing required key 'oracle.potential'").
  try {
    read(dir, otf_text(si64, (dir / "out").string(), "", "", "{kind: potential}"));
    FAIL("a potential oracle without its potential was read");
  } catch (const Error& error) {
    const std::string message = error.what();
    CHECK_THAT(message, Contains("missing required key 'oracle.potential'"));
    CHECK(message.find("oracle.potential") == message.rfind("oracle.potential"));
  }
}

TEST_CASE("otf: when no starting structure can be labelled, the error says why", "[otf][setup]") {
  TemporaryDirectory dir;
  OtfConfig config = read(dir, otf_text(si64, (dir / "out").string()));
  auto oracle = std::make_shared<FailingOracle>();
  config.oracle = oracle;
  CHECK_THROWS_WITH(run_otf(config, false), Contains("could not label any starting structure") &&
                                                Contains("Error in routine readpp"));
  CHECK(oracle->calls == 2);  // the call and its retry
}

TEST_CASE("otf: structure and held-out files are read once, by the config reader", "[otf][setup]") {
  TemporaryDirectory dir;
  std::filesystem::copy_file(si64, dir / "start.xyz");
  Structure held = read_structure(si64);
  rattle(held, 0.05, 4);
  attach_labels(held, evaluate(*make_potential("sw:" + sw), held));
  write_structure(dir / "held.xyz", held);
  OtfConfig config = read(dir, otf_text((dir / "start.xyz").string(), (dir / "out").string(), "",
                                        "held_out: held.xyz\n"));
  REQUIRE(config.stages.size() == 1);
  CHECK(config.stages[0].start.positions == read_structure(si64).positions);
  REQUIRE(config.held_out_frames.size() == 1);
  CHECK(*config.held_out_frames[0].forces == *held.forces);
  // The loop works from what the reader read: with both files gone it gets as
  // far as the oracle.
  std::filesystem::remove(dir / "start.xyz");
  std::filesystem::remove(dir / "held.xyz");
  auto oracle = std::make_shared<FailingOracle>();
  config.oracle = oracle;
  CHECK_THROWS_WITH(run_otf(config, false), Contains("could not label any starting structure"));
  CHECK(oracle->calls == 2);
}

TEST_CASE("otf oracle: a potential's parameter file is taken from the config's folder",
          "[otf][setup]") {
  TemporaryDirectory dir, elsewhere;
  std::filesystem::copy_file(sw, dir / "mySi.sw");
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(elsewhere.path());
  struct Restore {
    std::filesystem::path cwd;
    ~Restore() { std::filesystem::current_path(cwd); }
  } restore{cwd};
  const std::string out = (dir / "out").string();
  for (const std::string spec : {"sw:mySi.sw", "sw:./mySi.sw"}) {
    INFO(spec);
    const OtfConfig config =
        read(dir, otf_text(si64, out, "", "", "{kind: potential, potential: '" + spec + "'}"));
    const Structure labelled = config.oracle->label(read_structure(si64), dir / "work", 0);
    auto reference = make_potential("sw:" + sw);
    CHECK(*labelled.energy == Approx(evaluate(*reference, read_structure(si64)).energy));
  }
  // Not there: every place looked at is named, the config's folder among them.
  const std::string folder = std::filesystem::absolute(dir.path()).lexically_normal().string();
  CHECK_THROWS_WITH(
      read(dir, otf_text(si64, out, "", "", "{kind: potential, potential: 'sw:none.sw'}")),
      Contains("oracle.potential") && Contains("none.sw") &&
          Contains("/usr/share/lammps/potentials/none.sw") &&
          Contains("looked at " + folder + "/none.sw (the config's folder), "));
  CHECK_THROWS_WITH(
      read(dir, otf_text(si64, out, "", "", "{kind: potential, potential: 'sw:./none.sw'}")),
      Contains("oracle.potential") && Contains("looked at " + folder + "/none.sw"));
  // A path relative to the working directory lists where it looked, too.
  CHECK_THROWS_WITH(
      make_potential("sw:./none.sw"),
      Contains("looked at " +
               std::filesystem::absolute(elsewhere.path()).lexically_normal().string() +
               "/none.sw"));
}

TEST_CASE("otf config: interval defaults follow a long check_interval", "[otf][setup]") {
  TemporaryDirectory dir;
  const std::string out = (dir / "out").string();
  OtfConfig config = read(dir, config_text_with_check(500, out));
  CHECK(config.otf.log_interval == 500);
  CHECK(config.otf.checkpoint_interval == 1000);
  CHECK(config.md.output.trajectory_interval == 1000);
  config = read(dir, config_text_with_check(300, out));
  CHECK(config.otf.log_interval == 300);
  CHECK(config.otf.checkpoint_interval == 1200);
  CHECK(config.md.output.trajectory_interval == 1200);
  // Values given are kept, and must still be multiples.
  CHECK_THROWS_WITH(
      read(dir, config_text_with_check(300, out, "  log_interval: 100\n")),
      Contains("otf.log_interval (100) must be a multiple of otf.check_interval (300)"));
}

TEST_CASE("otf config: sparse environments per frame default to 10 per species", "[otf][setup]") {
  TemporaryDirectory dir;
  const std::string out = (dir / "out").string();
  CHECK(read(dir, config_text_with_check(5, out)).otf.max_sparse_per_frame == 10);
  std::string two = config_text_with_check(5, out);
  two.replace(two.find("model:\n"), 7, "model:\n  species: [C, Si]\n");
  CHECK(read(dir, two).otf.max_sparse_per_frame == 20);
  // A value given is kept.
  CHECK(read(dir, config_text_with_check(5, out, "  max_sparse_per_frame: 7\n"))
            .otf.max_sparse_per_frame == 7);
}

TEST_CASE("otf config: keys of the other verbs say what otf does instead", "[otf][setup]") {
  TemporaryDirectory dir;
  const std::string out = (dir / "out").string();
  CHECK_THROWS_WITH(read(dir, otf_text(si64, out, "  potential: 'sw:Si.sw'\n")),
                    Contains("md.potential") && Contains("model:") && Contains("oracle:"));
  CHECK_THROWS_WITH(read(dir, otf_text(si64, out, "  restart: md.h5\n")),
                    Contains("md.restart") && Contains("--resume"));
  CHECK_THROWS_WITH(read(dir, otf_text(si64, out, "  structure: {file: x.xyz}\n")),
                    Contains("md.structure") && Contains("top level"));
  CHECK_THROWS_WITH(read(dir, "potential: 'sw:Si.sw'\n" + otf_text(si64, out)),
                    Contains("key 'potential'") && Contains("model:") && Contains("oracle:"));
  CHECK_THROWS_WITH(read(dir, "restart: md.h5\n" + otf_text(si64, out)),
                    Contains("key 'restart'") && Contains("--resume"));
}

TEST_CASE("otf config: md.initial_temperature sets the velocities, not the thermostat's target",
          "[otf][setup]") {
  TemporaryDirectory dir;
  const std::string out = (dir / "out").string();
  const OtfConfig one = read(dir, otf_text(si64, out, "  initial_temperature: 300\n"));
  CHECK(one.stages.at(0).temperature == 1000);
  CHECK(one.stages.at(0).initial_temperature == 300);
  // Starting at rest under a thermostat is a valid run.
  const OtfConfig rest = read(dir, otf_text(si64, out, "  initial_temperature: 0\n"));
  CHECK(rest.stages.at(0).temperature == 1000);
  CHECK(rest.stages.at(0).initial_temperature == 0);
  CHECK(read(dir, otf_text(si64, out)).stages.at(0).initial_temperature == 1000);
  // A stage's temperature sets both unless it gives initial_temperature too.
  std::string campaign = otf_text(si64, out, "  initial_temperature: 300\n");
  campaign.replace(0, campaign.find("md:"),
                   "campaign:\n  - {structure: " + si64 + "}\n  - {structure: " + si64 +
                       ", temperature: 600}\n  - {structure: " + si64 +
                       ", temperature: 600, initial_temperature: 100}\n");
  const std::vector<CampaignStage> stages = read(dir, campaign).stages;
  REQUIRE(stages.size() == 3);
  CHECK((stages[0].temperature == 1000 && stages[0].initial_temperature == 300));
  CHECK((stages[1].temperature == 600 && stages[1].initial_temperature == 600));
  CHECK((stages[2].temperature == 600 && stages[2].initial_temperature == 100));
  std::string relax = campaign;
  const std::string third = ", temperature: 600, initial_temperature: 100}";
  relax.replace(relax.find(third), third.size(), ", relax: true, initial_temperature: 100}");
  CHECK_THROWS_WITH(read(dir, relax),
                    Contains("initial_temperature") && Contains("a relax stage runs no MD"));
}

TEST_CASE("otf config: md may leave steps, temperature and pressure to a campaign that sets them",
          "[otf][setup]") {
  TemporaryDirectory dir;
  const std::string out = (dir / "out").string();
  const std::string oracle = "{kind: potential, potential: 'sw:" + sw + "'}";
  // md: without the three keys; `stages` replaces the top-level structure.
  auto config = [&](const std::string& ensemble, const std::string& stages) {
    std::string text = otf_text(si64, out, "", "", oracle, ensemble);
    for (const std::string key : {"  temperature: 1000\n", "  steps: 100\n"})
      text.erase(text.find(key), key.size());
    if (ensemble == "nve")
      text.erase(text.find("  thermostat:"), text.find("model:") - text.find("  thermostat:"));
    if (ensemble == "npt") text.replace(text.find("model:"), 0, "  barostat: {damping: 500}\n");
    text.replace(0, text.find("md:"), "campaign:\n" + stages);
    return text;
  };
  const std::string s = "  - {structure: " + si64;
  const OtfConfig nvt =
      read(dir, config("nvt", s + ", temperature: 600, steps: 50}\n" + s + ", relax: true}\n" + s +
                                  ", temperature: 900, initial_temperature: 100, steps: 70}\n"));
  REQUIRE(nvt.stages.size() == 3);
  CHECK((nvt.stages[0].temperature == 600 && nvt.stages[0].initial_temperature == 600 &&
         nvt.stages[0].steps == 50));
  CHECK((nvt.stages[1].relax && nvt.stages[1].steps == 0));
  CHECK((nvt.stages[2].temperature == 900 && nvt.stages[2].initial_temperature == 100 &&
         nvt.stages[2].steps == 70));
  // nve: the velocities' temperature is all a stage needs.
  const OtfConfig nve = read(dir, config("nve", s + ", initial_temperature: 300, steps: 10}\n" + s +
                                                    ", temperature: 500, steps: 10}\n"));
  CHECK((nve.stages[0].initial_temperature == 300 && nve.stages[1].initial_temperature == 500));
  // npt: every stage, relax stages included, gives its pressure.
  const OtfConfig npt =
      read(dir, config("npt", s + ", temperature: 600, steps: 10, pressure: 5}\n" + s +
                                  ", relax: true, pressure: 2}\n"));
  CHECK((npt.stages[0].pressure == 5.0 && npt.stages[1].pressure == 2.0));
  // One stage without it: the error names md's key, the stages' alternative
  // and the first stage that lacks it.
  CHECK_THROWS_WITH(
      read(dir,
           config("nvt", s + ", temperature: 600, steps: 50}\n" + s + ", temperature: 600}\n")),
      Contains("missing required key 'md.steps'") &&
          Contains("every MD stage of the campaign its 'steps': campaign[2] has none"));
  CHECK_THROWS_WITH(
      read(dir, config("nvt", s + ", steps: 50}\n" + s + ", temperature: 600, steps: 5}\n")),
      Contains("missing required key 'md.temperature'") &&
          Contains("every MD stage of the campaign its 'temperature': campaign[1] has none"));
  CHECK_THROWS_WITH(
      read(dir, config("nve", s + ", steps: 50}\n" + s + ", temperature: 600, steps: 5}\n")),
      Contains("missing required key 'md.temperature'") &&
          Contains("its 'temperature' or 'initial_temperature': campaign[1] has none"));
  CHECK_THROWS_WITH(
      read(dir, config("npt", s + ", temperature: 600, steps: 10, pressure: 5}\n" + s +
                                  ", relax: true}\n")),
      Contains("missing required key 'md.barostat.pressure'") &&
          Contains("every stage of the campaign its 'pressure': campaign[2] has none"));
  // A key left empty has no value, in a stage or in md:.
  CHECK_THROWS_WITH(read(dir, config("nvt", s + ", temperature: 600, steps: 50}\n" + s +
                                                ", temperature: 600, steps: ~}\n")),
                    Contains("campaign[2].steps") && Contains("has no value"));
  std::string empty_md = config("nvt", s + ", temperature: 600, steps: 50}\n");
  empty_md.replace(empty_md.find("md:\n"), 4, "md:\n  steps: ~\n");
  CHECK_THROWS_WITH(read(dir, empty_md), Contains("md.steps") && Contains("has no value"));
  std::string empty_temperature = otf_text(si64, out);
  empty_temperature.replace(empty_temperature.find("temperature: 1000"), 17, "temperature: ~");
  CHECK_THROWS_WITH(read(dir, empty_temperature),
                    Contains("md.temperature") && Contains("has no value: remove the key"));
  // One run (structure:) needs them in md: as before.
  std::string one = otf_text(si64, out);
  one.erase(one.find("  steps: 100\n"), 13);
  CHECK_THROWS_WITH(read(dir, one),
                    Contains("missing required key 'md.steps'") && !Contains("campaign"));
}

TEST_CASE("otf config: train's sparse selection and calibration keys say what otf uses",
          "[otf][setup]") {
  TemporaryDirectory dir;
  const std::string out = (dir / "out").string();
  auto with_model = [&](const std::string& keys) {
    std::string text = otf_text(si64, out);
    text.replace(text.find("model:\n"), 7, "model:\n" + keys);
    return text;
  };
  CHECK_THROWS_WITH(read(dir, with_model("  sparse: {method: random, count: 5}\n")),
                    Contains("sparse.method") && Contains("otf.max_sparse_per_frame"));
  CHECK_THROWS_WITH(read(dir, with_model("  sparse: {min_residual: 1.0e-6, count: 5}\n")),
                    Contains("sparse.count") && Contains("otf.sparse_residual_threshold"));
  CHECK_THROWS_WITH(read(dir, with_model("  calibration: {holdout: 0.2}\n")),
                    Contains("calibration") && Contains("otf.calibration_frames"));
  CHECK(read(dir, with_model("  sparse: {min_residual: 1.0e-6}\n")).training.min_residual ==
        1.0e-6);
  // A species no stage holds is never learnt: a warning says so.
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  logger().sinks().push_back(sink);
  read(dir, with_model("  species: [Si, C]\n"));
  logger().sinks().pop_back();
  CHECK_THAT(log.str(), Contains("model.species C in no stage's structure"));
}

TEST_CASE("md config: a pressure in the wrong unit and a time step in seconds are named",
          "[otf][setup]") {
  TemporaryDirectory dir;
  const std::string out = (dir / "out").string();
  const std::string oracle = "{kind: potential, potential: 'sw:" + sw + "'}";
  CHECK_THROWS_WITH(
      read(dir, otf_text(si64, out, "  barostat: {pressure: 5.0e9}\n", "", oracle, "npt")),
      Contains("md.barostat.pressure") && Contains("GPa"));
  CHECK_NOTHROW(read(dir, otf_text(si64, out, "  barostat: {pressure: 50}\n", "", oracle, "npt")));
  std::string campaign = otf_text(si64, out, "  barostat: {pressure: 1}\n", "", oracle, "npt");
  campaign.replace(0, campaign.find("md:"),
                   "campaign:\n  - {structure: " + si64 + ", pressure: 1.0e10}\n");
  CHECK_THROWS_WITH(read(dir, campaign),
                    Contains("campaign") && Contains("pressure") && Contains("GPa"));
  // A time step in seconds passes every check but is warned about.
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  logger().sinks().push_back(sink);
  read(dir, otf_text(si64, out, "  timestep: 1.0e-15\n"));
  read(dir, otf_text(si64, out, "  timestep: 0.5\n"));
  logger().sinks().pop_back();
  CHECK_THAT(log.str(),
             Contains("md.timestep") && Contains("1e-15 fs") && Contains("the unit is fs"));
  CHECK(log.str().find("0.5 fs") == std::string::npos);
}

TEST_CASE("otf log: the hyperparameter search reports what the optimiser did", "[otf][setup]") {
  // Cu with EAM, as a new user's first run: L-BFGS often ends in NLopt's
  // generic failure after improving the likelihood, and the values are used.
  TemporaryDirectory dir;
  Structure cu = testing::fcc(29, 3.615, 2);
  testing::rattle(cu, 0.05, 1);
  write_structure(dir / "cu32.xyz", cu);
  std::string text =
      otf_text((dir / "cu32.xyz").string(), (dir / "out").string(), "",
               "otf: {check_interval: 5}\n", "{kind: potential, potential: 'eam:Cu_u3.eam'}");
  text.replace(text.find("steps: 100"), 10, "steps: 200");
  text.replace(text.find("temperature: 1000"), 17, "temperature: 600");
  text.replace(text.find("n_max: 4, l_max: 2"), 18, "n_max: 6, l_max: 3");
  const OtfConfig config = read(dir, text);
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  logger().sinks().push_back(sink);
  nlohmann::json summary;
  try {
    summary = run_otf(config, false);
  } catch (...) {
    logger().sinks().pop_back();
    throw;
  }
  logger().sinks().pop_back();
  const std::string lines = log.str();
  CHECK_THAT(lines, Contains("hyperparameters: ") && Contains("log likelihood improved from"));
  const std::vector<HyperparameterUpdate> updates = hyperparameter_updates(lines);
  REQUIRE(updates.size() >= 2);
  const std::array<std::string, 4> names = {"signal_std", "energy_noise", "force_noise",
                                            "stress_noise"};
  for (std::size_t u = 0; u < updates.size(); ++u) {
    INFO("update " << u + 1);
    const HyperparameterUpdate& update = updates[u];
    REQUIRE((update.searches.size() == 1 || update.searches.size() == 2));
    for (const LoggedSearch& search : update.searches) {
      // The best point seen is the result (the start is one of them), and the
      // word says which way the likelihood went.
      CHECK(search.end_likelihood >= search.start_likelihood);
      CHECK(search.improved == (search.end_likelihood > search.start_likelihood));
    }
    // Of two starts the higher likelihood is kept, and said so.
    if (update.searches.size() == 2) {
      REQUIRE(update.kept >= 0);
      CHECK(update.searches[update.kept].end_likelihood >=
            update.searches[1 - update.kept].end_likelihood);
    }
    // The values kept are the model's: the next search starts from them.
    if (u + 1 < updates.size()) CHECK(updates[u + 1].searches[0].start == update.kept_end());
  }
  // ... and the run ends with the last ones.
  const nlohmann::json& h = summary.at("hyperparameters");
  for (std::size_t k = 0; k < names.size(); ++k)
    CHECK(fmt::format("{:.6g}", h.at(names[k]).get<double>()) == updates.back().kept_end()[k]);
  // On the Serial build this run has three such ends (NLOPT_FAILURE), each
  // with the likelihood improved; other backends may round their way past it.
  if (lines.find("stopped by the optimiser (L-BFGS could make no further progress)") ==
      std::string::npos)
    WARN("no search of this run ended in NLopt's generic failure");
}
