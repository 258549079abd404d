// Wyckoff positions derived from spglib's symmetry operations, held against
// the International Tables (Vol. A) for a sample of groups.

#include <catch2/catch.hpp>

#include <map>
#include <vector>

#include "otfgp/core/error.hpp"
#include "otfgp/search/space_group.hpp"

using namespace otfgp;
using namespace otfgp::search;

namespace {

std::vector<int> multiplicities(int number) {
  std::vector<int> out;
  for (const auto& position : space_group(number).wyckoff) out.push_back(position.multiplicity);
  return out;
}

std::vector<int> dimensions(int number) {
  std::vector<int> out;
  for (const auto& position : space_group(number).wyckoff) out.push_back(position.dimension);
  return out;
}

}  // namespace

TEST_CASE("derived Wyckoff multiplicities match the International Tables", "[search]") {
  // Multiplicities in the order of the letters a, b, c, … (International Tables).
  const std::map<int, std::vector<int>> tables = {
      {1, {1}},
      {2, {1, 1, 1, 1, 1, 1, 1, 1, 2}},
      {14, {2, 2, 2, 2, 4}},
      {62, {4, 4, 4, 8}},
      {139, {2, 2, 4, 4, 4, 8, 8, 8, 8, 8, 16, 16, 16, 16, 32}},
      {141, {4, 4, 8, 8, 8, 16, 16, 16, 32}},
      {166, {3, 3, 6, 9, 9, 18, 18, 18, 36}},
      {194, {2, 2, 2, 2, 4, 4, 6, 6, 12, 12, 12, 24}},
      {221, {1, 1, 3, 3, 6, 6, 8, 12, 12, 12, 24, 24, 24, 48}},
      {225, {4, 4, 8, 24, 24, 32, 48, 48, 48, 96, 96, 192}},
      {227, {8, 8, 16, 16, 32, 48, 96, 96, 192}},
      {230, {16, 16, 24, 24, 32, 48, 48, 96}},
  };
  for (const auto& [number, expected] : tables) {
    INFO("space group " << number << " " << space_group(number).symbol);
    CHECK(multiplicities(number) == expected);
  }
  CHECK(space_group(225).symbol == "Fm-3m");
  CHECK(space_group(225).operations.size() == 192);
  // Free parameters: Fm-3m 4a 4b 8c 24d (points), 24e x00, 32f xxx, 48g x¼¼,
  // 48h 0yy, 48i ½yy, 96j 0yz, 96k xxz, 192l xyz.
  CHECK(dimensions(225) == std::vector<int>{0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 3});
  // Pnma: 4a, 4b inversion centres, 4c on the mirror (x ¼ z), 8d general.
  CHECK(dimensions(62) == std::vector<int>{0, 0, 2, 3});
  CHECK_THROWS_AS(space_group(231), Error);
}

TEST_CASE("every group's Wyckoff positions are consistent with its operations", "[search]") {
  for (int number = 1; number <= 230; ++number) {
    const SpaceGroup& group = space_group(number);
    INFO("space group " << number << " " << group.symbol);
    REQUIRE(!group.wyckoff.empty());
    const auto& general = group.wyckoff.back();
    CHECK(general.dimension == 3);
    CHECK(general.multiplicity == static_cast<int>(group.operations.size()));
    for (const auto& position : group.wyckoff) {
      // A generic point of the position has an orbit of exactly the multiplicity.
      Eigen::Vector3d point = position.origin;
      double u = 0.1372;
      for (const auto& direction : position.directions) {
        point += u * direction;
        u += 0.2113;
      }
      CHECK(static_cast<int>(orbit(group, point).size()) == position.multiplicity);
      CHECK(static_cast<int>(orbit(group, position.origin).size()) == position.multiplicity);
    }
  }
}
