// Time and size of a GP model file's save and load: the full save (`otfgp
// train`, the otf loop's final model.h5), the save without frames (each of the
// otf loop's checkpoints) and the load, each the best of REPEATS, with the
// sizes of the files written. docs/BENCHMARKS.md "Saving a GP model".
//
//   bench_gp_model_file MODEL.h5 [REPEATS]
//       MODEL.h5: a model saved with its training frames (e.g. the Ba-Rh-O
//       campaign's out/otf/model.h5). Writes its copies to the system's
//       temporary directory and removes them. Prints one JSON line.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "otfgp/core/error.hpp"
#include "otfgp/gp/model_file.hpp"

using namespace otfgp;

namespace {

// The shortest of `repeats` runs of `work`, seconds.
double best_seconds(int repeats, const std::function<void()>& work) {
  double best = 1e300;
  for (int k = 0; k < repeats; ++k) {
    const auto start = std::chrono::steady_clock::now();
    work();
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  try {
    if (argc < 2) throw Error("usage: bench_gp_model_file MODEL.h5 [REPEATS]");
    const std::filesystem::path source = argv[1];
    const int repeats = argc > 2 ? std::stoi(argv[2]) : 3;
    if (repeats < 1) throw Error("REPEATS must be at least 1");
    const auto directory = std::filesystem::temp_directory_path();
    const auto full = directory / "bench_gp_model_file_full.h5";
    const auto without = directory / "bench_gp_model_file_without_frames.h5";
    SparseGp gp = load_gp_model(source);
    nlohmann::json out;
    out["sparse"] = gp.num_sparse();
    out["frames"] = gp.num_frames();
    out["descriptor_size"] = gp.descriptor().size();
    out["load_seconds"] = best_seconds(repeats, [&] { gp = load_gp_model(source); });
    out["save_seconds"] = best_seconds(repeats, [&] { save_gp_model(full, gp); });
    out["save_without_frames_seconds"] =
        best_seconds(repeats, [&] { save_gp_model_without_frames(without, gp); });
    out["reload_seconds"] = best_seconds(repeats, [&] { gp = load_gp_model(full); });
    out["source_bytes"] = std::filesystem::file_size(source);
    out["save_bytes"] = std::filesystem::file_size(full);
    out["save_without_frames_bytes"] = std::filesystem::file_size(without);
    std::filesystem::remove(full);
    std::filesystem::remove(without);
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_gp_model_file: %s\n", error.what());
    return 1;
  }
}
