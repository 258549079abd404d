// The `lammps` oracle: Debian's lmp on the same frame equals otfgp's own
// Stillinger–Weber and Tersoff potentials (energy, forces, stress) to 1e-8,
// in a skewed cell that LAMMPS sees rotated; bad set-ups are named.
#include <catch2/catch.hpp>

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
}
