// CIF reading (symmetry operations, _atom_site_ loops) and writing, element
// substitution in templates, and a template search that relaxes substituted
// rocksalt and rutile.

#include <catch2/catch.hpp>

#include <fstream>

#include "otfgp/core/cif.hpp"
#include "otfgp/core/config.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/search/search.hpp"
#include "otfgp/search/space_group.hpp"
#include "otfgp/search/template.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::search;

namespace {
const std::string templates = std::string(OTFGP_TEST_DATA_DIR) + "/templates";
}

TEST_CASE("CIF files expand their asymmetric unit by the symmetry operations", "[search]") {
  // Written by pymatgen's CifWriter (symmetrised): one Na and one Cl site in
  // Fm-3m, one Ti and one O site in P4_2/mnm.
  const Structure nacl = read_cif(templates + "/NaCl_rocksalt.cif");
  CHECK(nacl.size() == 8);
  CHECK(nacl.formula() == "Cl4Na4");
  CHECK(nacl.volume() == Approx(5.64 * 5.64 * 5.64));
  CHECK(find_symmetry(nacl, 1e-3)->number == 225);
  const Structure rutile = read_cif(templates + "/TiO2_rutile.cif");
  CHECK(rutile.size() == 6);
  CHECK(find_symmetry(rutile, 1e-3)->number == 136);

  testing::TemporaryDirectory directory;
  write_cif(directory / "rutile.cif", rutile);
  const Structure again = read_cif(directory / "rutile.cif");
  CHECK(again.numbers == rutile.numbers);
  CHECK(again.positions.isApprox(rutile.positions, 1e-8));
  CHECK(again.cell.isApprox(rutile.cell, 1e-8));

  CHECK_THROWS_WITH(parse_cif("data_x\n_cell_length_a 3\n", "bad.cif"), Catch::Contains("bad.cif"));
  CHECK_THROWS_WITH(parse_cif("data_x\n_cell_length_a 3\n_cell_length_b 3\n_cell_length_c 3\n"
                              "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
                              "loop_\n_atom_site_type_symbol\n_atom_site_fract_x\n"
                              "_atom_site_fract_y\n_atom_site_fract_z\n_atom_site_occupancy\n"
                              "Na 0 0 0 0.5\n",
                              "partial.cif"),
                    Catch::Contains("partial occupancy"));
}

TEST_CASE("templates get the target elements by electronegativity and a rescaled volume",
          "[search]") {
  const Structure nacl = read_cif(templates + "/NaCl_rocksalt.cif");
  const auto mgo = substitute(nacl, Stoichiometry::parse("MgO"));
  REQUIRE(mgo);
  for (int i = 0; i < nacl.size(); ++i)
    CHECK(mgo->numbers[static_cast<std::size_t>(i)] ==
          (nacl.numbers[static_cast<std::size_t>(i)] == 11 ? 12 : 8));  // Na→Mg, Cl→O
  const auto kcl = substitute(nacl, Stoichiometry::parse("KCl"));
  REQUIRE(kcl);
  CHECK(kcl->volume() > nacl.volume());  // K is larger than Na
  CHECK(find_symmetry(*kcl, 1e-3)->number == 225);
  // A 1:1 template cannot hold a 1:2 compound, and rutile not a 1:1 one.
  CHECK_FALSE(substitute(nacl, Stoichiometry::parse("RhO2")));
  const Structure rutile = read_cif(templates + "/TiO2_rutile.cif");
  const auto rho2 = substitute(rutile, Stoichiometry::parse("RhO2"));
  REQUIRE(rho2);
  CHECK(rho2->formula() == "O4Rh2");
  CHECK_FALSE(substitute(rutile, Stoichiometry::parse("BaO")));
}

TEST_CASE("a template search relaxes the matching templates", "[search]") {
  testing::TemporaryDirectory directory;
  for (const auto& [formula, group] : {std::pair<std::string, int>{"BaO", 225}, {"RhO2", 136}}) {
    INFO(formula);
    const std::string text = "composition: " + formula +
                             "\npotential: buck:BaRhO.buck\nalgorithm: template\ntemplates: [" +
                             templates + "]\noutput:\n  plots: false\n";
    SearchConfig config = parse_search_config(ConfigSection::parse(text, "template.yaml"));
    config.output = (directory / formula).string();
    const SearchResult result = run_search(config, false);
    REQUIRE(result.candidates.size() == 1);  // only one of the two templates matches
    const auto& c = result.candidates.front();
    CHECK(c.status == CandidateStatus::converged);
    CHECK(c.origin.find(formula == "BaO" ? "NaCl_rocksalt.cif" : "TiO2_rutile.cif") !=
          std::string::npos);
    CHECK(c.space_group == group);
    CHECK(std::filesystem::exists(directory / formula / "top" / "rank01_candidate0000.cif"));
  }
}
