// Experiment (issue 9): does the GP's exact per-component force posterior
// (SparseGp::force_std) rank held-out force errors better than the per-atom
// local-energy std? Prints one CSV row per atom: the normalised energy std,
// the norm and largest component of the force std (eV/Å ÷ σ), |ΔF| and |F|
// (eV/Å), and the frame's `run` info key, for grouping by run.
//   build/bench/bench_gp_force_variance MODEL.h5 HELD_OUT.xyz > atoms.csv
// (HELD_OUT.xyz: frames with reference forces, e.g. bench/gp_learning.py's
// held_out.xyz.)

#include <Kokkos_Core.hpp>
#include <cstdio>

#include "otfgp/core/extxyz.hpp"
#include "otfgp/gp/model_file.hpp"

using namespace otfgp;

int main(int argc, char** argv) {
  Kokkos::ScopeGuard guard(argc, argv);
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s MODEL.h5 HELD_OUT.xyz\n", argv[0]);
    return 2;
  }
  const SparseGp gp = load_gp_model(argv[1]);
  std::printf("frame,atom,atom_std,force_std,force_std_max,error,force,run\n");
  int index = 0;
  for (const Structure& frame : read_extxyz(argv[2])) {
    if (!frame.forces) {
      std::fprintf(stderr, "frame %d has no forces\n", index);
      return 1;
    }
    const DescriptorValues values = gp.describe(frame, true);
    const GpPrediction prediction = gp.predict(frame, values, true);
    const Positions force_std = gp.force_std(values);
    const std::string run = frame.info_value("run").value_or("");
    for (int i = 0; i < frame.size(); ++i)
      std::printf("%d,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%s\n", index, i, prediction.atom_std[i],
                  force_std.row(i).norm(), force_std.row(i).maxCoeff(),
                  (prediction.forces.row(i) - frame.forces->row(i)).norm(),
                  prediction.forces.row(i).norm(), run.c_str());
    ++index;
  }
}
