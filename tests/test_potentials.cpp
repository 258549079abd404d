// The contract every analytic potential keeps, whatever its physics: per-atom
// energies that add up to the total, and a clear error (not a crash or silently
// missing pairs) when compute() comes before bind() or the neighbour list is
// shorter than the potential's reach; and, for the many-body potentials, the
// same numbers whichever form their loop takes (OTFGP_MANYBODY_FORM).

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/device_copy.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "otfgp/potentials/potential.hpp"
#include "support/environment.hpp"
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

namespace {

// `spec` made under OTFGP_MANYBODY_FORM=form.
std::unique_ptr<Potential> make_in_form(const std::string& spec, const std::string& form) {
  const ScopedEnvironment setting("OTFGP_MANYBODY_FORM", form);
  return make_potential(spec);
}

// Everything compute() gives, on the host.
struct Computed {
  double energy;
  std::array<double, 6> virial;
  VecView::HostMirror forces;
  ScalarView::HostMirror per_atom_energy;
  VirialView::HostMirror per_atom_virial;
};

Computed compute_all(Potential& potential, const Structure& structure,
                     const std::vector<int>& centres) {
  AtomState state = AtomState::from_structure(structure);
  potential.bind(state.species);
  NeighborList list(potential.cutoff(), 1.0);
  list.build(state);
  ComputeRequest request;
  request.per_atom_energy = true;
  request.per_atom_virial = true;
  if (!centres.empty()) request.centres = to_device("centres", centres);
  const ComputeResult result = potential.compute(state, list, request);
  const auto host = [](const auto& view) {
    return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  };
  return {result.energy, result.virial, host(state.f), host(result.per_atom_energy),
          host(result.per_atom_virial)};
}

// The count of numbers in which two computations differ by more than
// tolerance · max(1, |rows|).
int differences(const Computed& rows, const Computed& other, int natoms, double tolerance) {
  const auto differ = [&](double a, double b) {
    return std::abs(a - b) > tolerance * std::max(1.0, std::abs(a));
  };
  int count = differ(rows.energy, other.energy);
  for (int c = 0; c < 6; ++c) count += differ(rows.virial[c], other.virial[c]);
  for (int i = 0; i < natoms; ++i) {
    count += differ(rows.per_atom_energy(i), other.per_atom_energy(i));
    for (int d = 0; d < 3; ++d) count += differ(rows.forces(i, d), other.forces(i, d));
    for (int c = 0; c < 6; ++c)
      count += differ(rows.per_atom_virial(i, c), other.per_atom_virial(i, c));
  }
  return count;
}

// Atoms in a cluster (not periodic) and one more beyond every other's reach:
// a centre without legs.
Structure cluster_with_loner(int first, int second) {
  Structure atoms =
      random_structure(Eigen::Matrix3d::Identity() * 7.0, alternating(12, first, second), 1.7, 7);
  atoms.pbc = {false, false, false};
  atoms.positions.conservativeResize(13, 3);
  atoms.positions.row(12) << 30.0, 30.0, 30.0;
  atoms.numbers.push_back(first);
  atoms.cell = Eigen::Matrix3d::Identity() * 40.0;
  return atoms;
}

// OTFGP_MANYBODY_FORM=short (docs/gpu.md, "Many-body potentials on a GPU")
// keeps each centre's list entries and makes a leg again whenever the terms
// read it; the arithmetic and its order are the rows form's, so on one thread
// the numbers are the same to the bit. With several threads each form's
// scatter and reduction may add in another order: then to 1e-12.
double form_tolerance() {
  return ExecSpace().concurrency() == 1 ? 0.0 : 1e-12;
}

}  // namespace

TEST_CASE("the many-body short-list form gives the rows form's numbers", "[potential]") {
  struct FormCase {
    std::string spec;
    Structure structure;
    std::vector<int> centres;  // empty: all
  };
  const std::vector<int> mask = {1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1,
                                 0, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1};
  const std::vector<FormCase> cases = {
      {"sw:Si.sw",
       random_structure(triclinic_cell(9.5, 9.0, 9.2, 0.2, -0.1, 0.15), alternating(24, 14, 14),
                        2.1, 3),
       {}},
      {"sw:GaN.sw",
       random_structure(triclinic_cell(8.0, 8.5, 8.2, -0.2, 0.1, 0.1), alternating(24, 31, 7), 1.8,
                        4),
       mask},
      // A cell narrower than twice the cutoff: one neighbour met as two images.
      {"tersoff:SiC.tersoff",
       random_structure(triclinic_cell(4.6, 4.8, 4.7, 0.3, -0.2, 0.1), alternating(8, 14, 6), 1.6,
                        5),
       {}},
      {"tersoff:GaN.tersoff",
       random_structure(triclinic_cell(8.0, 8.5, 8.2, 0.1, 0.2, -0.1), alternating(24, 31, 7), 1.8,
                        6),
       mask},
      {"tersoff:SiC.tersoff", cluster_with_loner(14, 6), {}},
      {"sw:Si.sw", cluster_with_loner(14, 14), {}},
  };
  for (const FormCase& test : cases) {
    INFO(test.spec << ", " << test.structure.size() << " atoms");
    const Computed rows =
        compute_all(*make_in_form(test.spec, "rows"), test.structure, test.centres);
    const Computed short_list =
        compute_all(*make_in_form(test.spec, "short"), test.structure, test.centres);
    REQUIRE(rows.energy != 0.0);
    CHECK(differences(rows, short_list, test.structure.size(), form_tolerance()) == 0);
  }
}

TEST_CASE("one short-list potential follows systems that grow and shrink", "[potential]") {
  // The short lists only grow (atoms and the longest list): a potential that
  // meets a small cell, a larger and denser one, then the small one again and
  // a cluster gives each the numbers of a rows-form potential that met them
  // in the same order.
  Structure crystal = diamond(14, 5.431, 3);
  rattle(crystal, 0.15, 9);
  Structure dense = crystal;
  dense.cell *= 0.93;
  dense.positions *= 0.93;
  const std::vector<Structure> systems = {
      random_structure(triclinic_cell(5.6, 5.5, 5.7, 0.1, 0.0, -0.1), alternating(8, 14, 14), 2.1,
                       11),
      crystal, dense,
      random_structure(triclinic_cell(5.6, 5.5, 5.7, 0.1, 0.0, -0.1), alternating(8, 14, 14), 2.1,
                       11),
      cluster_with_loner(14, 14)};
  for (const std::string spec : {"sw:Si.sw", "tersoff:Si.tersoff"}) {
    auto rows = make_in_form(spec, "rows");
    auto short_list = make_in_form(spec, "short");
    for (const Structure& system : systems) {
      INFO(spec << ", " << system.size() << " atoms");
      CHECK(differences(compute_all(*rows, system, {}), compute_all(*short_list, system, {}),
                        system.size(), form_tolerance()) == 0);
    }
  }
}

TEST_CASE("OTFGP_MANYBODY_FORM takes rows or short and refuses anything else", "[potential]") {
  for (const char* bad : {"Short", "short ", "row", "1"}) {
    INFO(bad);
    const ScopedEnvironment setting("OTFGP_MANYBODY_FORM", bad);
    CHECK_THROWS_WITH(make_potential("sw:Si.sw"),
                      Catch::Contains("OTFGP_MANYBODY_FORM") && Catch::Contains("rows or short"));
    CHECK_THROWS_WITH(make_potential("tersoff:SiC.tersoff"),
                      Catch::Contains("OTFGP_MANYBODY_FORM"));
  }
  // The value as given, bytes outside printable ASCII as '?', cut after 64.
  {
    const ScopedEnvironment setting("OTFGP_MANYBODY_FORM", "sh\x1bort\n\xff");
    CHECK_THROWS_WITH(make_potential("sw:Si.sw"), Catch::EndsWith("not 'sh?ort?\?'"));
  }
  {
    const ScopedEnvironment setting("OTFGP_MANYBODY_FORM", std::string(5000, 'x'));
    CHECK_THROWS_WITH(make_potential("sw:Si.sw"),
                      Catch::EndsWith("not '" + std::string(64, 'x') + "... (5000 bytes)'"));
  }
  for (const char* good : {"rows", "short", ""}) {
    const ScopedEnvironment setting("OTFGP_MANYBODY_FORM", good);
    CHECK_NOTHROW(make_potential("sw:Si.sw"));
  }
}
