// Regression tests for issue 8: bad input gives a clear otfgp::Error (or exit 1
// with "otfgp: error:" at the command line), never a wrong result or a crash.
// One section per class of defect found by the hostile-input survey.

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "otfgp/error.hpp"
#include "otfgp/evaluate.hpp"
#include "otfgp/io.hpp"
#include "otfgp/relax.hpp"
#include "support/cli.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::testing;
using Catch::Matchers::Contains;

namespace {
const std::string silicon_sw = "sw:/usr/share/lammps/potentials/Si.sw";
const std::string argon_lj = "lj:eps=0.0104,sigma=3.4,rc=8.5";

[[maybe_unused]] std::string text_of(const std::filesystem::path& path) {
  std::ifstream input(path, std::ios::binary);
  std::ostringstream text;
  text << input.rdbuf();
  return text.str();
}
}  // namespace

// Class 1: a cell nearly flat along one direction, or a cutoff that needs an
// absurd number of periodic images, is an error before any list is built.
TEST_CASE("thin cells and huge cutoffs are an error up front", "[reliability][neighbor]") {
  Structure silicon = diamond(14, 5.431, 1);
  auto potential = make_potential(silicon_sw);
  const Evaluation reference = evaluate(*potential, silicon);
  CHECK(reference.energy < -30.0);

  Structure flat = silicon;
  flat.cell.row(1) = flat.cell.row(0) + Eigen::RowVector3d(0, 1e-9, 0);
  CHECK_THROWS_WITH(evaluate(*potential, flat), Contains("too thin"));
  for (double width : {1e-4, 1e-6, 1e-8}) {
    Structure thin = silicon;
    thin.cell.row(2) = Eigen::RowVector3d(0, 0, width);
    thin.positions.col(2).setZero();
    CHECK_THROWS_WITH(evaluate(*potential, thin), Contains("too thin"));
  }
  for (const char* spec : {"lj:eps=0.0104,sigma=3.4,rc=1e4", "lj:eps=0.0104,sigma=3.4,rc=1e6"}) {
    auto wide = make_potential(spec);
    CHECK_THROWS_WITH(evaluate(*wide, fcc(18, 5.26, 1)), Contains("periodic images"));
  }
  // A small cell with an ordinary cutoff still works (many images, all fine).
  auto argon = make_potential(argon_lj);
  CHECK(std::isfinite(evaluate(*argon, fcc(18, 5.26, 1)).energy));

  // relax never reports convergence on such a cell.
  RelaxOptions options;
  CHECK_THROWS_WITH(relax(*potential, flat, options), Contains("too thin"));
}

// Class 2: coincident atoms are named; non-finite results are never returned.
TEST_CASE("eval rejects coincident atoms and never returns non-finite results",
          "[reliability][eval]") {
  Structure silicon = diamond(14, 5.431, 1);
  silicon.positions.row(1) = silicon.positions.row(0);
  for (const std::string& spec : {silicon_sw, argon_lj}) {
    auto potential = make_potential(spec);
    CHECK_THROWS_WITH(evaluate(*potential, silicon), Contains("atoms 0 (Si) and 1 (Si)"));
  }
  TemporaryDirectory dir;
  write_structures(dir / "in.xyz", {silicon});
  const CommandResult run = run_otfgp("eval -p " + silicon_sw + " " + (dir / "in.xyz").string() +
                                      " -o " + (dir / "out.xyz").string());
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.output, Contains("otfgp: error:") && Contains("apart"));
  CHECK_FALSE(std::filesystem::exists(dir / "out.xyz"));
}

// Class 3: coordinates so large that wrapping loses them are an error.
TEST_CASE("absurd coordinates are an error, not wrapped to zero", "[reliability][structure]") {
  Structure silicon = diamond(14, 5.431, 1);
  silicon.positions(3, 0) = 1e30;
  CHECK_THROWS_WITH(silicon.validate(), Contains("atom 3") && Contains("1e+30"));
  auto potential = make_potential(silicon_sw);
  CHECK_THROWS_AS(evaluate(*potential, silicon), Error);
  Structure huge_cell = diamond(14, 5.431, 1);
  huge_cell.cell(0, 0) = 1e300;
  CHECK_THROWS_WITH(huge_cell.validate(), Contains("cell"));
}
