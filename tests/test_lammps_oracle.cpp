// The `lammps` oracle: Debian's lmp on the same frame equals otfgp's own
// Stillinger–Weber and Tersoff potentials (energy, forces, stress) to 1e-8,
// in a skewed cell that LAMMPS sees rotated; bad set-ups are named.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/oracle/oracle.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "otfgp/potentials/potential.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using Catch::Matchers::Contains;
using otfgp::testing::TemporaryDirectory;

namespace {

std::unique_ptr<oracle::Oracle> lammps_oracle(const std::string& yaml) {
  return oracle::make_oracle(ConfigSection::parse(yaml, "oracle.yaml"), ".");
}

// A rattled crystal in a cell that is not lower-triangular, so that the
// rotation to LAMMPS's frame and back is exercised.
Structure skewed(Structure crystal) {
  testing::rattle(crystal, 0.12, 11);
  crystal.cell(0, 1) += 0.4;
  crystal.cell(2, 0) += 0.3;
  crystal.cell(1, 2) -= 0.2;
  return crystal;
}

void check_equal(const Structure& labelled, const Evaluation& reference) {
  REQUIRE(labelled.energy);
  REQUIRE(labelled.forces);
  REQUIRE(labelled.stress);
  REQUIRE(reference.stress);
  CHECK(*labelled.energy == Approx(reference.energy).epsilon(0).margin(1e-8));
  CHECK((*labelled.forces - reference.forces).cwiseAbs().maxCoeff() < 1e-8);
  CHECK(reference.forces.norm() > 0.1);
  CHECK((*labelled.stress - *reference.stress).cwiseAbs().maxCoeff() < 1e-8);
  CHECK(std::abs((*reference.stress)[3]) > 1e-4);
}

}  // namespace

TEST_CASE("lammps oracle equals otfgp's Stillinger-Weber on the same frame", "[oracle][lammps]") {
  TemporaryDirectory directory("otfgp-lammps");
  // A bare file name: LAMMPS finds it in /usr/share/lammps/potentials.
  auto oracle = lammps_oracle(
      "kind: lammps\npair_style: sw\npair_coeff: '* * Si.sw {elements}'\ntimeout: 60\n");
  REQUIRE(oracle->kind() == "lammps");
  const Structure si = skewed(testing::diamond(14, 5.431, 2));
  oracle->check(si.species());
  const Structure labelled = oracle->label(si, directory / "sw", 0);
  auto potential = make_potential("sw:/usr/share/lammps/potentials/Si.sw");
  check_equal(labelled, evaluate(*potential, si));
  CHECK(labelled.positions == si.positions);
}

TEST_CASE("lammps oracle equals otfgp's Tersoff for a binary with fixed types",
          "[oracle][lammps]") {
  TemporaryDirectory directory("otfgp-lammps");
  // Types fixed by `elements`: C is type 1 and Si type 2 whatever the frame holds.
  auto oracle = lammps_oracle(
      "kind: lammps\npair_style: tersoff\n"
      "pair_coeff: ['* * /usr/share/lammps/potentials/SiC.tersoff C Si']\n"
      "elements: [C, Si]\n");
  Structure sic = testing::diamond(14, 4.36, 2);
  sic.numbers = testing::alternating(sic.size(), 14, 6);
  sic = skewed(sic);
  oracle->check(sic.species());
  const Structure labelled = oracle->label(sic, directory / "tersoff", 0);
  auto potential = make_potential("tersoff:/usr/share/lammps/potentials/SiC.tersoff");
  check_equal(labelled, evaluate(*potential, sic));
}

TEST_CASE("lammps oracle names bad set-ups and reports LAMMPS errors", "[oracle][lammps]") {
  TemporaryDirectory directory("otfgp-lammps");
  CHECK_THROWS_WITH(lammps_oracle("kind: lammps\npair_style: sw\npair_coeff: '* * Si.sw Si'\n"
                                  "elements: [Si]\n")
                        ->check({8, 14}),
                    Contains("O") && Contains("elements"));
  CHECK_THROWS_WITH(lammps_oracle("kind: lammps\npair_style: sw\npair_coeff: '* * Si.sw Si'\n"
                                  "command: otfgp-no-lmp\n")
                        ->check({14}),
                    Contains("otfgp-no-lmp"));
  CHECK_THROWS_WITH(lammps_oracle("kind: lammps\npair_style: sw\n"), Contains("pair_coeff"));
  // A list where a charge belongs names the key (it was yaml-cpp's "bad conversion").
  CHECK_THROWS_WITH(lammps_oracle("kind: lammps\npair_style: sw\npair_coeff: '* * Si.sw Si'\n"
                                  "charges: {Si: [1]}\n"),
                    Contains("oracle.yaml, line 4: key 'charges.Si': expected a number"));
  // A parameter file LAMMPS cannot open: lmp exits non-zero, its error in the message.
  auto oracle =
      lammps_oracle("kind: lammps\npair_style: sw\npair_coeff: '* * Nothing.sw {elements}'\n");
  try {
    oracle->label(testing::diamond(14, 5.431, 1), directory / "bad", 0);
    FAIL("no failure");
  } catch (const oracle::OracleFailure& failure) {
    CHECK(failure.kind() == oracle::FailureKind::nonzero_exit);
    CHECK_THAT(failure.what(), Contains("Nothing.sw"));
  }
  // A `commands` line that adds atoms labels another system: refused, not
  // read as the frame's first atoms.
  auto replicated = lammps_oracle(
      "kind: lammps\npair_style: sw\npair_coeff: '* * Si.sw {elements}'\n"
      "commands: ['replicate 2 1 1']\n");
  try {
    replicated->label(testing::diamond(14, 5.431, 1), directory / "replicated", 0);
    FAIL("no failure");
  } catch (const oracle::OracleFailure& failure) {
    CHECK(failure.kind() == oracle::FailureKind::unparsable_output);
    CHECK_THAT(failure.what(), Contains("LAMMPS ran 16 atoms, the frame has 8"));
  }
}

TEST_CASE("lammps oracle: element words of pair_coeff must follow the type order",
          "[oracle][lammps]") {
  TemporaryDirectory directory("otfgp-lammps");
  // Types follow atomic number: N is type 1, Ga type 2.
  Structure gan = testing::diamond(31, 4.5, 1);
  gan.numbers = testing::alternating(gan.size(), 31, 7);
  const std::vector<int> species = gan.species();
  REQUIRE(species == std::vector<int>{7, 31});
  const std::string tersoff = "kind: lammps\npair_style: tersoff\n";
  // "Ga N" would label every frame with the elements swapped.
  CHECK_THROWS_WITH(lammps_oracle(tersoff + "pair_coeff: '* * GaN.tersoff Ga N'\n")->check(species),
                    Contains("oracle.pair_coeff") && Contains("type 1 to Ga") &&
                        Contains("type 1 is N") && Contains("{elements}") &&
                        Contains("by atomic number"));
  // label() refuses it as well (a caller that skipped check()).
  CHECK_THROWS_WITH(lammps_oracle(tersoff + "pair_coeff: '* * GaN.tersoff Ga N'\n")
                        ->label(gan, directory / "swapped", 0),
                    Contains("{elements}"));
  // The right order, {elements}, and "Ga N" with elements: [Ga, N] are accepted.
  for (const std::string coeff :
       {"pair_coeff: '* * GaN.tersoff N Ga'\n", "pair_coeff: '* * GaN.tersoff {elements}'\n",
        "pair_coeff: '* * GaN.tersoff Ga N'\nelements: [Ga, N]\n"}) {
    INFO(coeff);
    CHECK_NOTHROW(lammps_oracle(tersoff + coeff)->check(species));
  }
  // ... and all give the same labels.
  const Structure a = lammps_oracle(tersoff + "pair_coeff: '* * GaN.tersoff N Ga'\n")
                          ->label(gan, directory / "a", 0);
  const Structure b = lammps_oracle(tersoff +
                                    "pair_coeff: '* * GaN.tersoff Ga N'\n"
                                    "elements: [Ga, N]\n")
                          ->label(gan, directory / "b", 0);
  CHECK(*a.energy == Approx(*b.energy).epsilon(1e-12));
  CHECK((*a.forces - *b.forces).cwiseAbs().maxCoeff() < 1e-9);
  // Fixed types with the words in the wrong order.
  CHECK_THROWS_WITH(lammps_oracle(tersoff + "pair_coeff: '* * GaN.tersoff N Ga'\n"
                                            "elements: [Ga, N]\n")
                        ->check(species),
                    Contains("type 1 is Ga") && Contains("oracle.elements"));
  // A hybrid style's NULL words: the element words are checked, NULL is not.
  const std::string hybrid =
      "kind: lammps\npair_style: hybrid tersoff lj/cut 5.0\n"
      "pair_coeff: ['* * tersoff GaN.tersoff NULL N', '1 1 lj/cut 0.01 3.0', '1 2 lj/cut 0.01 "
      "3.0']\nelements: [N, Ga]\n";
  CHECK_THROWS_WITH(lammps_oracle(hybrid)->check(species),
                    Contains("type 2 to N") && Contains("type 2 is Ga"));
  std::string fixed = hybrid;
  fixed.replace(fixed.find("NULL N"), 6, "N NULL");
  fixed.replace(fixed.find("'1 1 lj"), 7, "'2 2 lj");
  CHECK_NOTHROW(lammps_oracle(fixed)->check(species));
}

TEST_CASE("lammps oracle: type numbers in pair_coeff need elements, which fix them in every frame",
          "[oracle][lammps]") {
  // Without `elements` the types follow each frame's species: type 1 would be
  // Na in a NaCl frame and Cl in a Cl-only one, which then got Na-Na's
  // parameters, silently (a probe's Cl8 frame: 0.15 eV off).
  const std::string lj = "kind: lammps\npair_style: lj/cut 6.0\n";
  CHECK_THROWS_WITH(
      lammps_oracle(lj + "pair_coeff: ['* * 0.01 3.0', '1 1 0.02 2.5']\n")->check({11, 17}),
      Contains("oracle.pair_coeff") && Contains("'pair_coeff 1 1 0.02 2.5'") &&
          Contains("the run has 2 elements (Na Cl)") && Contains("oracle.elements") &&
          Contains("[Na, Cl]"));
  CHECK_THROWS_WITH(lammps_oracle(lj + "pair_coeff: '* * 0.01 3.0'\n"
                                       "commands: ['pair_coeff 1*2 2 0.02 2.5']\n")
                        ->check({11, 17}),
                    Contains("oracle.commands") && Contains("oracle.elements"));
  // One element: type 1 is always it.
  CHECK_NOTHROW(lammps_oracle(lj + "pair_coeff: ['* * 0.01 3.0', '1 1 0.02 2.5']\n")->check({17}));
  CHECK_NOTHROW(lammps_oracle(lj + "pair_coeff: 'pair_coeff * * 0.01 3.0'\n")->check({11, 17}));
  // With them a Cl-only frame's Cl is type 2 and takes the `* *` parameters.
  TemporaryDirectory directory("otfgp-lammps-types");
  Structure chlorine = skewed(testing::diamond(14, 5.431, 1));
  std::fill(chlorine.numbers.begin(), chlorine.numbers.end(), 17);
  auto numbered =
      lammps_oracle(lj + "pair_coeff: ['* * 0.01 3.0', '1 1 0.02 2.5']\nelements: [Na, Cl]\n");
  auto uniform = lammps_oracle(lj + "pair_coeff: '* * 0.01 3.0'\n");
  numbered->check({11, 17});
  const Structure a = numbered->label(chlorine, directory / "numbered", 0);
  const Structure b = uniform->label(chlorine, directory / "uniform", 0);
  REQUIRE(a.energy);
  REQUIRE(b.energy);
  CHECK(*a.energy == Approx(*b.energy).epsilon(1e-12));
  CHECK(std::abs(*a.energy) > 1e-3);
}

TEST_CASE("lammps oracle: check runs LAMMPS once, so a missing element is found before any frame",
          "[oracle][lammps]") {
  // SiC.tersoff has no Ga or N: LAMMPS stops at pair_coeff.
  CHECK_THROWS_WITH(lammps_oracle("kind: lammps\npair_style: tersoff\n"
                                  "pair_coeff: '* * SiC.tersoff {elements}'\n")
                        ->check({7, 31}),
                    Contains("test frame") && Contains("N Ga") && Contains("oracle.pair_coeff") &&
                        Contains("missing an entry"));
  CHECK_THROWS_WITH(
      lammps_oracle("kind: lammps\npair_style: sw\npair_coeff: '* * Nothing.sw {elements}'\n")
          ->check({14}),
      Contains("test frame") && Contains("Nothing.sw"));
  CHECK_NOTHROW(lammps_oracle("kind: lammps\npair_style: tersoff\n"
                              "pair_coeff: '* * SiC.tersoff {elements}'\n")
                    ->check({6, 14}));
}

TEST_CASE("lammps oracle labels slabs, wires, clusters and left-handed cells as otfgp does",
          "[oracle][lammps]") {
  TemporaryDirectory directory("otfgp-lammps");
  auto oracle = lammps_oracle("kind: lammps\npair_style: sw\npair_coeff: '* * Si.sw {elements}'\n");
  auto potential = make_potential("sw:/usr/share/lammps/potentials/Si.sw");
  Structure bulk = testing::diamond(14, 5.431, 2);
  testing::rattle(bulk, 0.12, 17);
  struct Case {
    const char* name;
    Structure structure;
  };
  std::vector<Case> cases;
  {
    // Free along c, atoms 3 Å beyond the cell's top and below its bottom, c tilted.
    Structure slab = bulk;
    slab.pbc = {true, true, false};
    slab.cell.row(2) << 1.5, -0.7, 4.0;
    slab.positions.col(2).array() += 3.0;
    slab.positions(0, 2) = -1.0;
    cases.push_back({"slab", slab});
  }
  {
    // Periodic along b only, the free vectors short and skewed, atoms far outside them.
    Structure wire = bulk;
    wire.pbc = {false, true, false};
    wire.cell.row(0) << 3.0, 0.5, 0.0;
    wire.cell.row(2) << 0.2, 0.0, 2.5;
    wire.positions.col(0).array() -= 20.0;
    cases.push_back({"wire", wire});
  }
  {
    // No cell at all.
    Structure cluster = bulk;
    cluster.pbc = {false, false, false};
    cluster.cell.setZero();
    cases.push_back({"cluster", cluster});
  }
  {
    // a and b swapped: a × b · c < 0, the same lattice.
    Structure left = skewed(testing::diamond(14, 5.431, 2));
    left.cell.row(0).swap(left.cell.row(1));
    REQUIRE(left.cell.determinant() < 0);
    cases.push_back({"left-handed", left});
  }
  for (const Case& c : cases) {
    INFO(c.name);
    const Structure labelled = oracle->label(c.structure, directory / c.name, 0);
    const Evaluation reference = evaluate(*potential, c.structure);
    REQUIRE(labelled.energy);
    REQUIRE(labelled.forces);
    CHECK(*labelled.energy == Approx(reference.energy).epsilon(0).margin(1e-8));
    CHECK((*labelled.forces - reference.forces).cwiseAbs().maxCoeff() < 1e-8);
    CHECK(reference.forces.norm() > 0.1);
    CHECK(labelled.stress.has_value() == reference.stress.has_value());
    if (reference.stress)
      CHECK((*labelled.stress - *reference.stress).cwiseAbs().maxCoeff() < 1e-8);
  }
  CHECK_THROWS_WITH(lammps_oracle("kind: lammps\npair_style: sw\npair_coeff: '* * Si.sw Si'\n"
                                  "elements: [Si, C, Si]\n"),
                    Contains("Si is listed twice"));
}

TEST_CASE("lammps oracle finds bare parameter file names in LAMMPS_POTENTIALS",
          "[oracle][lammps]") {
  // A Si.sw of another energy scale in a folder named by the oracle's
  // environment: its labels, not those of Debian's Si.sw (which lmp alone,
  // ignoring the variable, would read).
  TemporaryDirectory directory("otfgp-lammps");
  std::filesystem::create_directories(directory / "pot");
  std::string text;
  {
    std::ifstream in("/usr/share/lammps/potentials/Si.sw");
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const auto at = text.find("2.1683");
  REQUIRE(at != std::string::npos);
  text.replace(at, 6, "2.3851");
  std::ofstream(directory / "pot" / "Si.sw") << text;
  auto oracle = lammps_oracle(
      "kind: lammps\npair_style: sw\npair_coeff: '* * Si.sw {elements}'\n"
      "environment: {LAMMPS_POTENTIALS: " +
      (directory / "pot").string() + "}\n");
  const Structure si = skewed(testing::diamond(14, 5.431, 2));
  const Structure labelled = oracle->label(si, directory / "run", 0);
  auto scaled = make_potential("sw:" + (directory / "pot" / "Si.sw").string());
  auto debian = make_potential("sw:/usr/share/lammps/potentials/Si.sw");
  check_equal(labelled, evaluate(*scaled, si));
  CHECK(std::abs(*labelled.energy - evaluate(*debian, si).energy) > 1.0);
}
