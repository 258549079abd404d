// Na8Cl8 with the Buckingham + DSF NaCl reference (potentials/params/NaCl.buck)
// at 0 GPa: a LAQA search of 40 symmetric random candidates finds rocksalt
// (Fm-3m) at the potential's lattice constant, in about ten seconds.

#include <catch2/catch.hpp>

#include <cmath>

#include "otfgp/core/config.hpp"
#include "otfgp/search/search.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::search;

TEST_CASE("LAQA on Na8Cl8 with Buckingham + DSF finds rocksalt at 0 GPa", "[search]") {
  testing::TemporaryDirectory directory;
  SearchConfig config = parse_search_config(ConfigSection::parse(R"(
composition: NaCl
formula_units: 8
potential: buck:NaCl.buck
seed: 1
candidates: 40
algorithm: laqa
relax:
  max_steps: 500
output:
  plots: false
)",
                                                                 "nacl8.yaml"));
  config.output = (directory / "out").string();
  const SearchResult result = run_search(config, false);
  REQUIRE_FALSE(result.ranking.empty());
  const auto& top = result.candidates[static_cast<std::size_t>(result.ranking.front())];
  CHECK(top.atoms == 16);
  CHECK(top.space_group == 225);
  // Rocksalt: a = 5.638 Å at 0 GPa (potentials/params/NaCl.buck).
  CHECK(std::cbrt(8 * top.volume_per_atom) == Approx(5.638).margin(0.005));
  // LAQA spends its first rounds on the promising candidates: rocksalt is
  // reached long before the pool is exhausted (measured 1216 of 5629 steps).
  CHECK(result.statistics.steps_to_best < result.statistics.total_steps / 2);
}
