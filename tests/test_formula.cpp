#include <catch2/catch.hpp>

#include "otfgp/core/error.hpp"
#include "otfgp/core/formula.hpp"

using otfgp::Composition;
using otfgp::parse_formula;

TEST_CASE("formulas parse into element amounts", "[formula]") {
  const Composition ba2rho4 = parse_formula("Ba2RhO4");
  CHECK(ba2rho4.amount(56) == 2.0);
  CHECK(ba2rho4.amount(45) == 1.0);
  CHECK(ba2rho4.amount(8) == 4.0);
  CHECK(ba2rho4.total() == 7.0);

  const Composition bao2 = parse_formula("(BaO)2");
  CHECK(bao2.amount(56) == 2.0);
  CHECK(bao2.amount(8) == 2.0);

  const Composition phosphate = parse_formula("Ca3(PO4)2");
  CHECK(phosphate.amount(20) == 3.0);
  CHECK(phosphate.amount(15) == 2.0);
  CHECK(phosphate.amount(8) == 8.0);

  const Composition nested = parse_formula("K4[Fe(CN)6]");
  CHECK(nested.amount(26) == 1.0);
  CHECK(nested.amount(6) == 6.0);
  CHECK(nested.amount(7) == 6.0);

  const Composition repeated = parse_formula("OBaO");
  CHECK(repeated.amount(8) == 2.0);

  const Composition decimal = parse_formula("Li0.5CoO2");
  CHECK(decimal.amount(3) == Approx(0.5));
  CHECK(parse_formula("Ba Rh O3").amount(8) == 3.0);
  CHECK(parse_formula("CO").amount(6) == 1.0);
  CHECK(parse_formula("Co").amount(27) == 1.0);
}

TEST_CASE("formulas print reduced, in electronegativity order", "[formula]") {
  CHECK(parse_formula("Ba2Rh2O6").reduced_formula() == "BaRhO3");
  CHECK(parse_formula("O4RhBa2").formula() == "Ba2RhO4");
  CHECK(parse_formula("(BaO)2").reduced_formula() == "BaO");
  CHECK(parse_formula("Ba0.25O0.25").reduced_formula() == "BaO");
  CHECK(parse_formula("Li0.5CoO2").reduced_formula() == "LiCo2O4");
  CHECK(parse_formula("Si").formula() == "Si");
  CHECK(Composition::from_numbers({8, 56, 8, 45, 8}).formula() == "BaRhO3");
  CHECK(parse_formula("BaO").same_fractions(parse_formula("Ba2O2")));
  CHECK_FALSE(parse_formula("BaO").same_fractions(parse_formula("BaO2")));
}

TEST_CASE("junk formulas are rejected with a message that says why", "[formula]") {
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(parse_formula(""), Contains("empty"));
  CHECK_THROWS_WITH(parse_formula("   "), Contains("empty"));
  CHECK_THROWS_WITH(parse_formula("Xx2O"), Contains("unknown element 'Xx'"));
  CHECK_THROWS_WITH(parse_formula("bao"), Contains("capital letter"));
  CHECK_THROWS_WITH(parse_formula("Ba2-O"), Contains("unexpected character '-'"));
  CHECK_THROWS_WITH(parse_formula("(BaO2"), Contains("never closed"));
  CHECK_THROWS_WITH(parse_formula("BaO)2"), Contains("never opened"));
  CHECK_THROWS_WITH(parse_formula("(BaO]"), Contains("expected ')'"));
  CHECK_THROWS_WITH(parse_formula("()"), Contains("empty brackets"));
  CHECK_THROWS_WITH(parse_formula("2BaO"), Contains("count must follow"));
  CHECK_THROWS_WITH(parse_formula("Ba0O"), Contains("must be positive"));
  CHECK_THROWS_WITH(parse_formula("Ba1.2.3"), Contains("malformed count"));
  CHECK_THROWS_WITH(parse_formula("Ba1."), Contains("malformed count"));
  CHECK_THROWS_WITH(parse_formula("CX"), Contains("unknown element 'X'"));
  CHECK_THROWS_WITH(parse_formula("Mn3o4"), Contains("Mn3o4"));
  CHECK_THROWS_AS(parse_formula("Uuo"), otfgp::Error);
  // The case hint only where both letters are elements ("CO" for "Co").
  CHECK_THROWS_WITH(parse_formula("Og"), !Contains("case-sensitive"));
  CHECK_THROWS_WITH(parse_formula("Ox"), !Contains("case-sensitive"));
  CHECK_THROWS_WITH(parse_formula("Nq"), !Contains("case-sensitive"));
  CHECK_THROWS_WITH(parse_formula("Bk"), Contains("Z = 97"));
  CHECK_THROWS_WITH(parse_formula("Cf"), Contains("Z = 98") && !Contains("case-sensitive"));
  CHECK_THROWS_WITH(parse_formula("Cx"), !Contains("Z ="));
}

TEST_CASE("actinides parse and order as pymatgen orders them", "[formula]") {
  CHECK(parse_formula("UO2").reduced_formula() == "UO2");
  CHECK(parse_formula("O2Th").reduced_formula() == "ThO2");
  // pymatgen 2023: PuCmNp (Pu 1.28 < Cm 1.30 < Np 1.36), AmCm (a tie: by Z), FrRaO2.
  CHECK(parse_formula("CmPuNp").reduced_formula() == "PuCmNp");
  CHECK(parse_formula("CmAm").reduced_formula() == "AmCm");
  CHECK(parse_formula("O2RaFr").reduced_formula() == "FrRaO2");
}
