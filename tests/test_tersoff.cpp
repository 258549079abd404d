#include <spdlog/sinks/ostream_sink.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "otfgp/core/error.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "otfgp/potentials/potential.hpp"
#include "support/checks.hpp"
#include "support/environment.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::testing;

namespace {

const std::string potentials = "/usr/share/lammps/potentials/";

LammpsSetup tersoff_setup(const std::string& file) {
  return {{"pair_style tersoff", "pair_coeff * * " + file + " {elements}"}, {}};
}

}  // namespace

TEST_CASE("Tersoff forces and stress are derivatives of the energy", "[tersoff]") {
  SECTION("Si.tersoff, cubic cell shorter than twice the cutoff") {
    auto potential = make_potential("tersoff:" + potentials + "Si.tersoff");
    check_derivatives(*potential, random_structure(Eigen::Matrix3d::Identity() * 6.6,
                                                   std::vector<int>(16, 14), 2.0, 41));
  }
  SECTION("SiC.tersoff, strongly skewed triclinic cell") {
    auto potential = make_potential("tersoff:" + potentials + "SiC.tersoff");
    check_derivatives(*potential, random_structure(triclinic_cell(6.5, 6.2, 6.8, 0.5, -0.45, 0.4),
                                                   alternating(20, 14, 6), 1.6, 42));
  }
  SECTION("GaN.tersoff (m = 1), rattled crystal") {
    auto potential = make_potential("tersoff:" + potentials + "GaN.tersoff");
    Structure crystal = diamond(31, 4.5, 2);
    for (int i = 4; i < crystal.size(); i += 8)
      for (int k = 0; k < 4; ++k) crystal.numbers[i + k] = 7;  // zincblende GaN
    rattle(crystal, 0.15, 43);
    check_derivatives(*potential, crystal);
  }
}

TEST_CASE("Tersoff matches LAMMPS pair_style tersoff", "[tersoff][lammps]") {
  SECTION("SiC.tersoff") {
    const std::string file = potentials + "SiC.tersoff";
    auto potential = make_potential("tersoff:" + file);
    check_lammps_parity(*potential,
                        random_structure(triclinic_cell(9, 8.5, 9.5, 0.3, -0.25, 0.2),
                                         alternating(48, 14, 6), 1.6, 51),
                        tersoff_setup(file));
    std::vector<int> carbon_rich(24, 6);
    for (int i = 0; i < 24; i += 3) carbon_rich[i] = 14;
    check_lammps_parity(
        *potential,
        random_structure(triclinic_cell(5.6, 5.9, 5.4, -0.45, 0.3, 0.35), carbon_rich, 1.4, 52),
        tersoff_setup(file));
  }
  SECTION("Si.tersoff") {
    const std::string file = potentials + "Si.tersoff";
    auto potential = make_potential("tersoff:" + file);
    check_lammps_parity(*potential,
                        random_structure(triclinic_cell(10, 9.5, 10.5, 0.2, 0.3, -0.25),
                                         std::vector<int>(44, 14), 2.0, 53),
                        tersoff_setup(file));
    check_lammps_parity(*potential,
                        random_structure(triclinic_cell(6.0, 6.3, 5.9, 0.45, -0.3, 0.4),
                                         std::vector<int>(11, 14), 2.0, 54),
                        tersoff_setup(file));
    Structure crystal = diamond(14, 5.431, 2);
    rattle(crystal, 0.2, 55);
    check_lammps_parity(*potential, crystal, tersoff_setup(file));
  }
  SECTION("GaN.tersoff, m = 1") {
    const std::string file = potentials + "GaN.tersoff";
    auto potential = make_potential("tersoff:" + file);
    check_lammps_parity(*potential,
                        random_structure(triclinic_cell(8.5, 8, 9, 0.25, -0.3, 0.3),
                                         alternating(36, 31, 7), 1.8, 56),
                        tersoff_setup(file));
  }
}

TEST_CASE("Tersoff per-atom energies sum to the total", "[tersoff]") {
  auto potential = make_potential("tersoff:SiC.tersoff");
  const Structure s = random_structure(triclinic_cell(7, 7.5, 7.2, 0.2, -0.3, 0.1),
                                       alternating(24, 14, 6), 1.6, 61);
  ComputeRequest request;
  request.per_atom_energy = true;
  const Evaluation evaluation = evaluate(*potential, s, request);
  REQUIRE(evaluation.per_atom_energy.has_value());
  CHECK(evaluation.per_atom_energy->sum() == Approx(evaluation.energy).epsilon(1e-12));
}

namespace {

// Bytes allocated under `label` while one fresh Tersoff potential, made under
// OTFGP_MANYBODY_FORM=form, evaluates each of `structures` in turn, per call.
std::vector<std::uint64_t> allocated_bytes(const std::vector<Structure>& structures,
                                           const std::string& label, const char* form = "rows") {
  static std::string watched;
  static std::uint64_t bytes;
  watched = label;
  auto potential = [&] {
    const ScopedEnvironment setting("OTFGP_MANYBODY_FORM", form);
    return make_potential("tersoff:SiC.tersoff");
  }();
  // Taken out again however this ends.
  struct Watch {
    Watch() {
      Kokkos::Tools::Experimental::set_allocate_data_callback(
          [](Kokkos::Profiling::SpaceHandle, const char* name, const void*, std::uint64_t size) {
            if (watched == name) bytes += size;
          });
    }
    ~Watch() { Kokkos::Tools::Experimental::set_allocate_data_callback(nullptr); }
  } watch;
  std::vector<std::uint64_t> per_call;
  for (const Structure& structure : structures) {
    bytes = 0;
    evaluate(*potential, structure);
    per_call.push_back(bytes);
  }
  return per_call;
}

std::uint64_t scratch_row_bytes(const Structure& structure) {
  return allocated_bytes({structure}, "ScratchRows").front();
}

}  // namespace

TEST_CASE("Tersoff keeps no more scratch rows than atoms", "[tersoff]") {
  // One row per thread that can run at once would be about 2×10⁵ rows on a
  // GPU whatever the system; the rows are at most one per atom. A lone atom
  // (no neighbour: rows of one slot) gets one row, a dimer (one neighbour
  // each) one per atom up to the threads that run at once.
  Structure atom;
  atom.cell = Eigen::Matrix3d::Identity() * 20.0;
  atom.pbc = {false, false, false};
  atom.positions = Positions::Zero(1, 3);
  atom.numbers = {14};
  Structure dimer = atom;
  dimer.positions = Positions::Zero(2, 3);
  dimer.positions(1, 0) = 2.3;
  dimer.numbers = {14, 6};
  const std::uint64_t one = scratch_row_bytes(atom), two = scratch_row_bytes(dimer);
  const int concurrency = static_cast<int>(ExecSpace().concurrency());
  INFO("one atom " << one << " B, dimer " << two << " B, " << concurrency << " threads");
  REQUIRE(one > 0);
  CHECK(two == one * static_cast<std::uint64_t>(std::min(2, concurrency)));
}

TEST_CASE("Tersoff's short-list form keeps no scratch rows, an int per list entry of each atom",
          "[tersoff]") {
  // OTFGP_MANYBODY_FORM=short: no per-thread rows of legs (112 B each) but a
  // row of list entries (4 B each) per atom, allocated once and reused, and
  // made anew only for a system with more atoms or a longer list.
  Structure crystal = diamond(14, 5.431, 2);
  rattle(crystal, 0.1, 3);
  Structure larger = diamond(14, 5.431, 3);
  rattle(larger, 0.1, 4);
  CHECK(allocated_bytes({crystal, crystal}, "ScratchRows", "short") ==
        std::vector<std::uint64_t>{0, 0});
  const std::vector<std::uint64_t> lists =
      allocated_bytes({crystal, crystal, larger, crystal}, "ManyBodyShortLists", "short");
  const auto row = [](const Structure& s) { return sizeof(int) * std::uint64_t(s.size()); };
  INFO(lists[0] << " B for " << crystal.size() << " atoms, " << lists[2] << " B for "
                << larger.size());
  // Diamond Si: four first neighbours within the 3 Å cutoff.
  CHECK(lists[0] >= 4 * row(crystal));
  CHECK(lists[0] % row(crystal) == 0);
  CHECK(lists[1] == 0);
  CHECK(lists[2] >= 4 * row(larger));
  CHECK(lists[2] % row(larger) == 0);
  CHECK(lists[3] == 0);
  CHECK(allocated_bytes({crystal}, "ManyBodyShortLists", "rows").front() == 0);
}

TEST_CASE("Tersoff spec, look-up and file errors", "[tersoff]") {
  SECTION("bare names, elements and cutoff") {
    auto potential = make_potential("tersoff:SiC.tersoff");
    CHECK(potential->spec() == "tersoff:SiC.tersoff");
    CHECK(potential->elements() == std::vector<int>{6, 14});
    CHECK(potential->cutoff() == Approx(3.0));
    potential->bind({6});
    CHECK(potential->cutoff() == Approx(2.1));
  }
  SECTION("a species the file lacks names the element and the file") {
    auto potential = make_potential("tersoff:" + potentials + "SiC.tersoff");
    REQUIRE_THROWS_WITH(potential->bind({6, 8, 14}),
                        Catch::Contains("element O") && Catch::Contains("SiC.tersoff"));
  }
  SECTION("labels that are not element symbols need an alias") {
    auto plain = make_potential("tersoff:SiCGe.tersoff");
    REQUIRE_THROWS_WITH(plain->bind({14}), Catch::Contains("element Si"));
    auto aliased = make_potential("tersoff:SiCGe.tersoff,Si=Si(D)");
    CHECK(aliased->elements() == std::vector<int>{6, 14, 32});
    // SiCGe's Si(D) Si(D) Si(D) entry is SiC.tersoff's Si Si Si, written to fewer digits.
    Structure crystal = diamond(14, 5.431, 1);
    rattle(crystal, 0.1, 5);
    auto reference = make_potential("tersoff:SiC.tersoff");
    CHECK(evaluate(*aliased, crystal).energy ==
          Approx(evaluate(*reference, crystal).energy).epsilon(1e-3));
  }
  SECTION("illegal parameters name the file and line") {
    {
      TemporaryFile file(
          "test.tersoff",
          "# Si\n\nSi Si Si 2.0 1.0 1.3258 4.8381 2.0417 0.0 22.956\n 0.33675 1.3258 95.373 3.0 "
          "0.2 3.2394 3264.7\n");
      REQUIRE_THROWS_WITH(make_potential("tersoff:" + file.path.string()),
                          Catch::Contains(file.path.string()) && Catch::Contains("line 3") &&
                              Catch::Contains("m must be 1 or 3"));
    }
    {
      TemporaryFile file(
          "test.tersoff",
          "Si Si Si 3.0 1.0 1.3258 4.8381 2.0417 0.0 22.956\n 0.33675 1.3258 95.373 0.1 0.2 3.2394 "
          "3264.7\n");
      REQUIRE_THROWS_WITH(make_potential("tersoff:" + file.path.string()),
                          Catch::Contains("line 1") && Catch::Contains("D is larger than R"));
    }
    {
      TemporaryFile file(
          "test.tersoff",
          "Si Si Si 3.0 1.0 1.3258 4.8381 2.0417 0.0 22.956\n 0.33675 1.3258 95.373 3.0 0.2 "
          "3.2394\n");
      REQUIRE_THROWS_WITH(make_potential("tersoff:" + file.path.string()),
                          Catch::Contains("ends inside"));
    }
  }
}

TEST_CASE("a Tersoff file's asymmetric parameters are warned about once, however often bound",
          "[tersoff]") {
  // SiC_1994.tersoff gives Si-C and C-Si different repulsive parameters; a
  // search's re-check binds its oracle afresh for each minimum and said so 5 times.
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  logger().sinks().push_back(sink);
  for (int k = 0; k < 3; ++k) {
    auto tersoff = make_potential("tersoff:/usr/share/lammps/potentials/SiC_1994.tersoff");
    tersoff->bind({14, 6});
  }
  logger().sinks().pop_back();
  const std::string text = log.str();
  const auto count = [&](const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  CHECK(count("different repulsive parameters for Si-C and C-Si") == 1);
}
