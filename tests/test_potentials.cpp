// The contract every analytic potential keeps, whatever its physics: per-atom
// energies that add up to the total, and a clear error (not a crash or silently
// missing pairs) when compute() comes before bind() or the neighbour list is
// shorter than the potential's reach.

#include <catch2/catch.hpp>

#include "otfgp/core/error.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "otfgp/potentials/potential.hpp"
#include "support/structures.hpp"

using namespace otfgp;
using namespace otfgp::testing;

namespace {

struct Case {
  std::string spec;
  std::vector<int> numbers;  // atoms of a test structure
  double min_distance;       // Å, between atoms of that structure
};

std::vector<Case> cases() {
  return {
      {"lj:eps=0.0104,sigma=3.4,rc=6.5", alternating(16, 18, 18), 2.8},
      {"sw:Si.sw", alternating(16, 14, 14), 2.1},
      {"tersoff:SiC.tersoff", alternating(16, 14, 6), 1.6},
      {"eam/alloy:CuNi.eam.alloy", alternating(16, 29, 28), 2.1},
      {"buck:NaCl.buck", alternating(16, 11, 17), 2.2},
  };
}

}  // namespace

TEST_CASE("per-atom energies of every potential add up to the total", "[potential]") {
  for (const Case& test : cases()) {
    INFO(test.spec);
    auto potential = make_potential(test.spec);
    const Structure structure = random_structure(triclinic_cell(9.5, 9.0, 9.2, 0.2, -0.1, 0.15),
                                                 test.numbers, test.min_distance, 7);
    ComputeRequest request;
    request.per_atom_energy = true;
    const Evaluation evaluation = evaluate(*potential, structure, request);
    REQUIRE(evaluation.per_atom_energy.has_value());
    CHECK(evaluation.per_atom_energy->size() == structure.size());
    CHECK(evaluation.per_atom_energy->sum() ==
          Approx(evaluation.energy).epsilon(1e-12).margin(1e-12));
    // Without the request there is no per-atom view, and the same energy.
    const Evaluation plain = evaluate(*potential, structure);
    CHECK_FALSE(plain.per_atom_energy.has_value());
    CHECK(plain.energy == Approx(evaluation.energy).epsilon(1e-14));
  }
}

TEST_CASE("compute() refuses to run unbound or with a neighbour list that is too short",
          "[potential]") {
  for (const Case& test : cases()) {
    INFO(test.spec);
    auto potential = make_potential(test.spec);
    const Structure structure =
        random_structure(Eigen::Matrix3d::Identity() * 9.0, test.numbers, test.min_distance, 8);
    AtomState state = AtomState::from_structure(structure);

    NeighborList full(potential->cutoff(), 0.5);
    full.build(state);
    REQUIRE_THROWS_AS(potential->compute(state, full, {}), Error);
    REQUIRE_THROWS_WITH(potential->compute(state, full, {}), Catch::Contains("bind()"));

    potential->bind(state.species);
    CHECK_NOTHROW(potential->compute(state, full, {}));
    NeighborList short_list(0.5 * potential->cutoff(), 0.5);
    short_list.build(state);
    REQUIRE_THROWS_WITH(potential->compute(state, short_list, {}),
                        Catch::Contains("neighbour list") && Catch::Contains("shorter"));
  }
}
