#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <tuple>

#include "otfgp/core/neighbor_list.hpp"
#include "support/structures.hpp"

using namespace otfgp;
using otfgp::testing::random_structure;
using otfgp::testing::triclinic_cell;

namespace {

using Pair = std::tuple<int, long, long, long>;

// Every atom's neighbours as (j, pair vector rounded to 1e-8 Å), sorted.
std::vector<std::vector<Pair>> pairs_of(const NeighborList& list, const AtomState& state) {
  const NeighborView view = list.view();
  auto offsets = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view.offsets);
  auto index = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view.index);
  auto image = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view.image);
  auto vectors = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view.image_vector);
  auto x = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state.x);
  std::vector<std::vector<Pair>> result(state.natoms);
  for (int i = 0; i < state.natoms; ++i) {
    for (int k = offsets(i); k < offsets(i + 1); ++k) {
      const int j = index(k), m = image(k);
      long r[3];
      for (int d = 0; d < 3; ++d) r[d] = std::lround((x(j, d) + vectors(m, d) - x(i, d)) * 1e8);
      result[i].emplace_back(j, r[0], r[1], r[2]);
    }
    std::sort(result[i].begin(), result[i].end());
  }
  return result;
}

void check_same_as_brute_force(const Structure& structure, double cutoff, double skin) {
  AtomState binned = AtomState::from_structure(structure);
  AtomState brute = AtomState::from_structure(structure);
  NeighborList fast(cutoff, skin), reference(cutoff, skin);
  fast.build(binned);
  reference.build_brute_force(brute);
  REQUIRE(fast.num_pairs() == reference.num_pairs());
  REQUIRE(pairs_of(fast, binned) == pairs_of(reference, brute));
}

}  // namespace

TEST_CASE("cell-list neighbour list equals the brute-force list in random triclinic cells",
          "[neighbor]") {
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> length(4.0, 14.0), tilt(-0.45, 0.45);
    const Eigen::Matrix3d cell =
        triclinic_cell(length(rng), length(rng), length(rng), tilt(rng), tilt(rng), tilt(rng));
    const int n = 10 + static_cast<int>(seed * 7 % 40);
    std::vector<int> numbers(n, 14);
    for (int i = 0; i < n; i += 3) numbers[i] = 8;
    const Structure s = random_structure(cell, numbers, 0.9, seed);
    check_same_as_brute_force(s, 3.0 + 0.25 * static_cast<double>(seed % 5), 0.5);
  }
}

TEST_CASE("cells shorter than the cutoff see many images, their own included", "[neighbor]") {
  Structure s = random_structure(triclinic_cell(2.1, 2.5, 2.3, 0.3, -0.2, 0.1), {14, 14}, 1.0, 7);
  check_same_as_brute_force(s, 6.0, 0.3);
  AtomState state = AtomState::from_structure(s);
  NeighborList list(6.0, 0.0);
  list.build(state);
  // About (4/3 π 6³) / V neighbours per atom.
  const double expected = 2 * 4.0 / 3.0 * 3.14159 * 216 / s.volume() * 2;
  REQUIRE(list.num_pairs() == Approx(expected).epsilon(0.2));
}

TEST_CASE("strongly skewed and non-periodic directions", "[neighbor]") {
  Structure skewed =
      random_structure(triclinic_cell(9, 9, 9, 0.5, 0.5, -0.5), std::vector<int>(60, 29), 1.5, 3);
  check_same_as_brute_force(skewed, 4.5, 0.4);
  Structure slab =
      random_structure(triclinic_cell(8, 8, 8, 0.2, 0.0, 0.1), std::vector<int>(40, 29), 1.5, 4);
  slab.pbc = {true, true, false};
  check_same_as_brute_force(slab, 4.0, 0.3);
  Structure cluster = slab;
  cluster.pbc = {false, false, false};
  cluster.cell.setZero();
  check_same_as_brute_force(cluster, 4.0, 0.3);
  // Atoms in one plane across a free direction of a given cell (a flat layer
  // with vacuum, a dimer): that direction's spread is zero.
  Structure layer = slab;
  layer.cell = Eigen::Matrix3d::Identity() * 12.0;
  for (int i = 0; i < layer.size(); ++i) layer.positions(i, 2) = 6.0;
  check_same_as_brute_force(layer, 4.0, 0.3);
  Structure dimer;
  dimer.cell = Eigen::Matrix3d::Identity() * 12.0;
  dimer.pbc = {false, false, false};
  dimer.positions = Positions::Zero(2, 3);
  dimer.positions.row(0) << 1.0, 1.0, 1.0;
  dimer.positions.row(1) << 4.8, 1.0, 1.0;
  dimer.numbers = {18, 18};
  check_same_as_brute_force(dimer, 7.0, 0.0);
}

TEST_CASE("Verlet skin: rebuild only after a displacement beyond half the skin", "[neighbor]") {
  Structure s =
      random_structure(Eigen::Matrix3d::Identity() * 10, std::vector<int>(50, 18), 2.0, 11);
  AtomState state = AtomState::from_structure(s);
  NeighborList list(4.0, 1.0);
  REQUIRE(list.update(state));
  REQUIRE_FALSE(list.update(state));
  auto x = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state.x);
  x(3, 0) += 0.45;
  Kokkos::deep_copy(state.x, x);
  REQUIRE_FALSE(list.update(state));
  x(3, 0) += 0.1;
  Kokkos::deep_copy(state.x, x);
  REQUIRE(list.update(state));
  REQUIRE(list.num_builds() == 2);
  // A 2 % cell strain moves pairs at the list range by 0.1 Å: still inside the skin.
  const bool periodic[3] = {true, true, true};
  state.box = Box::from_cell(s.cell * 1.02, periodic);
  REQUIRE_FALSE(list.update(state));
  state.box = Box::from_cell(s.cell * 1.12, periodic);
  REQUIRE(list.update(state));
}
