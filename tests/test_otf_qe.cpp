// The on-the-fly loop with real DFT: examples/otf-si-qe as it ships (Si8 at
// 1000 K, pw.x with Si.pbe-rrkj.UPF at 20 Ry, kspacing giving 2×2×2), run in a
// scratch copy. The run completes, calls pw.x only when the calibrated std (or
// an audit) asks — far fewer calls than checks — and the learnt model predicts
// five fresh pw.x frames of an independent MD run to a force MAE below
// 0.2 eV/Å. Needs pw.x (scripts/install-deps installs quantum-espresso).

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "otfgp/core/io.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using otfgp::testing::TemporaryDirectory;

namespace {

TEST_CASE("otf with pw.x: Si8 learnt on the fly predicts fresh QE frames within 0.2 eV/A",
          "[otf][qe]") {
  TemporaryDirectory dir;
  const std::filesystem::path example = std::string(OTFGP_SOURCE_DIR) + "/examples/otf-si-qe";
  for (const char* file : {"run.sh", "otf.yaml", "sample_fresh.yaml", "si8.xyz"})
    std::filesystem::copy_file(example / file, dir / file);
  const std::filesystem::path build = std::filesystem::path(OTFGP_CLI_PATH).parent_path();
  const std::string command = "bash '" + (dir / "run.sh").string() + "' '" + build.string() +
                              "' > '" + (dir / "run.log").string() + "' 2>&1";
  const int status = std::system(command.c_str());
  if (status != 0) {
    std::ifstream log(dir / "run.log");
    std::stringstream text;
    text << log.rdbuf();
    FAIL("run.sh failed:\n"
         << text.str().substr(text.str().size() > 4000 ? text.str().size() - 4000 : 0));
  }
  std::ifstream summary_file(dir / "out" / "otf" / "summary.json");
  const nlohmann::json summary = nlohmann::json::parse(summary_file);
  const int calls = summary["oracle_calls"];
  INFO("pw.x calls " << calls);
  CHECK(summary["finished"] == true);
  CHECK(summary["steps"] == 500);
  CHECK(summary["skipped_calls"] == 0);
  CHECK(calls >= 3);   // the starting structure and the warm-up
  CHECK(calls <= 30);  // of 500 checks (check_interval 1)

  const auto reference = read_structures(dir / "out" / "fresh_qe.xyz");
  const auto predicted = read_structures(dir / "out" / "fresh_predicted.xyz");
  REQUIRE(reference.size() == 5);
  REQUIRE(predicted.size() == 5);
  double sum = 0.0;
  int count = 0;
  for (std::size_t f = 0; f < reference.size(); ++f) {
    REQUIRE(reference[f].forces);
    REQUIRE(predicted[f].forces);
    sum += (*reference[f].forces - *predicted[f].forces).cwiseAbs().sum();
    count += 3 * reference[f].size();
  }
  const double mae = sum / count;
  // Printed on success too (`ctest -V -R "otf with pw.x"`): the run's figures.
  WARN("pw.x calls " << calls << " (of 500 checks), sparse size " << summary["sparse_size"]
                     << ", force MAE on the 5 fresh pw.x frames " << mae << " eV/Å");
  CHECK(mae < 0.2);
}

}  // namespace
