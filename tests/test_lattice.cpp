// Lattice builders: atom counts, nearest-neighbour distances, and the same
// cells, positions and order as ASE's bulk(...).repeat(...).

#include <catch2/catch.hpp>

#include <Eigen/Dense>
#include <sstream>

#include "otfgp/core/error.hpp"
#include "otfgp/core/lattice.hpp"
#include "support/python.hpp"

using namespace otfgp;
using Catch::Contains;

namespace {

double nearest_neighbour_distance(const Structure& s) {
  double best = 1e300;
  const Eigen::Matrix3d inverse = s.cell.inverse();
  for (int i = 0; i < s.size(); ++i)
    for (int j = 0; j < s.size(); ++j) {
      Eigen::RowVector3d f = (s.positions.row(j) - s.positions.row(i)) * inverse;
      for (int d = 0; d < 3; ++d) f[d] -= std::round(f[d]);
      for (int a = -1; a <= 1; ++a)
        for (int b = -1; b <= 1; ++b)
          for (int c = -1; c <= 1; ++c) {
            if (i == j && a == 0 && b == 0 && c == 0) continue;
            best = std::min(best, ((f + Eigen::RowVector3d(a, b, c)) * s.cell).norm());
          }
    }
  return best;
}

}  // namespace

TEST_CASE("lattices have the right atoms and nearest-neighbour distances", "[lattice]") {
  const double a = 4.0;
  struct Case {
    std::string lattice;
    std::vector<std::string> elements;
    int atoms;
    double nearest;
  };
  for (const Case& c : std::vector<Case>{{"sc", {"Po"}, 1, a},
                                         {"bcc", {"Fe"}, 2, a * std::sqrt(3.0) / 2},
                                         {"fcc", {"Cu"}, 4, a / std::sqrt(2.0)},
                                         {"hcp", {"Mg"}, 2, a},
                                         {"diamond", {"Si"}, 8, a * std::sqrt(3.0) / 4},
                                         {"zincblende", {"Ga", "As"}, 8, a * std::sqrt(3.0) / 4},
                                         {"rocksalt", {"Na", "Cl"}, 8, a / 2},
                                         {"perovskite", {"Sr", "Ti", "O"}, 5, a / 2}}) {
    SECTION(c.lattice) {
      const Structure s = build_lattice({c.lattice, c.elements, a, std::nullopt, {2, 3, 2}});
      CHECK(s.size() == 12 * c.atoms);
      CHECK(nearest_neighbour_distance(s) == Approx(c.nearest).epsilon(1e-12));
      s.validate();
    }
  }
  const Structure perovskite =
      build_lattice({"perovskite", {"Sr", "Ti", "O"}, 3.9, std::nullopt, {1, 1, 1}});
  CHECK(perovskite.formula() == "O3SrTi");
}

TEST_CASE("lattices match ASE's bulk().repeat()", "[lattice][ase]") {
  const std::string code = R"(
import sys
from ase.build import bulk
name, symbols, a, c = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
kw = {'cubic': True} if name != 'hcp' else {'c': float(c)}
atoms = bulk(symbols, name, a=a, **kw).repeat((2, 1, 3))
print(' '.join(str(z) for z in atoms.numbers))
for row in atoms.cell: print(' '.join(repr(x) for x in row))
for row in atoms.positions: print(' '.join(repr(x) for x in row))
)";
  struct Case {
    std::string lattice, ase_symbols;
    std::vector<std::string> elements;
  };
  for (const Case& c : std::vector<Case>{{"diamond", "Si", {"Si"}},
                                         {"zincblende", "GaAs", {"Ga", "As"}},
                                         {"rocksalt", "NaCl", {"Na", "Cl"}},
                                         {"fcc", "Cu", {"Cu"}},
                                         {"bcc", "Fe", {"Fe"}},
                                         {"hcp", "Mg", {"Mg"}}}) {
    SECTION(c.lattice) {
      LatticeSpec spec{c.lattice, c.elements, 4.1, std::nullopt, {2, 1, 3}};
      if (c.lattice == "hcp") spec.c = 6.5;
      const Structure s = build_lattice(spec);
      std::istringstream out(
          otfgp::testing::python_output(code, {c.lattice, c.ase_symbols, "4.1", "6.5"}));
      std::string numbers_line;
      std::getline(out, numbers_line);
      std::istringstream numbers(numbers_line);
      for (int z : s.numbers) {
        int ase_z = 0;
        numbers >> ase_z;
        CHECK(z == ase_z);
      }
      for (int r = 0; r < 3; ++r)
        for (int d = 0; d < 3; ++d) {
          double value;
          out >> value;
          CHECK(s.cell(r, d) == Approx(value).margin(1e-12));
        }
      double worst = 0;
      for (int i = 0; i < s.size(); ++i)
        for (int d = 0; d < 3; ++d) {
          double value;
          out >> value;
          worst = std::max(worst, std::abs(s.positions(i, d) - value));
        }
      CHECK(worst < 1e-12);
    }
  }
}

TEST_CASE("lattice errors say what is wrong", "[lattice]") {
  CHECK_THROWS_WITH(build_lattice({"diamand", {"Si"}, 5.4, std::nullopt, {1, 1, 1}}),
                    Contains("unknown lattice 'diamand'") && Contains("diamond"));
  CHECK_THROWS_WITH(build_lattice({"rocksalt", {"Na"}, 5.6, std::nullopt, {1, 1, 1}}),
                    Contains("'rocksalt' takes 2 elements, got 1"));
  CHECK_THROWS_WITH(build_lattice({"fcc", {"Xx"}, 4, std::nullopt, {1, 1, 1}}), Contains("Xx"));
  CHECK_THROWS_WITH(build_lattice({"fcc", {"Cu"}, -4, std::nullopt, {1, 1, 1}}),
                    Contains("must be positive"));
  CHECK_THROWS_WITH(build_lattice({"fcc", {"Cu"}, 4, 6.0, {1, 1, 1}}),
                    Contains("c applies to hcp only"));
  CHECK_THROWS_WITH(build_lattice({"fcc", {"Cu"}, 4, std::nullopt, {1, 0, 1}}),
                    Contains("at least 1"));
}
