// otfgp train end to end: frames in, model out, the model in every verb
// through gp:MODEL.h5, and clear errors for bad configs.

#include <catch2/catch.hpp>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "otfgp/core/extra_property.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/gp/model_file.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/gp/train_config.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"
#include "support/python.hpp"
#include "support/repeatability.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using otfgp::testing::write_text;
using namespace otfgp::testing;

namespace {

std::vector<Structure> silicon_frames(int count, std::uint64_t seed) {
  auto sw = make_potential("sw:Si.sw");
  std::vector<Structure> frames;
  for (int f = 0; f < count; ++f) {
    Structure s = diamond(14, 5.431, 1);
    rattle(s, 0.08 + 0.04 * (f % 3), seed * 100 + f);
    attach_labels(s, evaluate(*sw, s));
    frames.push_back(s);
  }
  return frames;
}

const std::string config = R"(# a small model
descriptor: {n_max: 4, l_max: 3, cutoff: 3.9}
kernel: {power: 2}
sparse: {method: uncertain, count: 4}
hyperparameters:
  signal_std: 1.0
  force_noise: 0.05
  max_evaluations: 50
calibration: {holdout: 0.25}
reference_energies: fit
)";

}  // namespace

TEST_CASE("otfgp train writes a model that gp:MODEL.h5 evaluates", "[cli][train]") {
  TemporaryDirectory dir;
  write_structures(dir / "train.xyz", silicon_frames(8, 1));
  write_structures(dir / "test.xyz", silicon_frames(3, 2));
  write_text(dir / "train.yaml", config);
  const CommandResult run =
      run_otfgp("train --data " + (dir / "train.xyz").string() + " --config " +
                (dir / "train.yaml").string() + " -o " + (dir / "model.h5").string() + " --test " +
                (dir / "test.xyz").string() + " --summary " + (dir / "summary.json").string());
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.output, Catch::Contains("hyperparameters:") && Catch::Contains("timings:") &&
                             Catch::Contains("held-out") && Catch::Contains("training:"));
  std::ifstream summary_file(dir / "summary.json");
  const nlohmann::json summary = nlohmann::json::parse(summary_file);
  CHECK(summary["frames"] == 8);
  CHECK(summary["labels"]["force"] == 8 * 8 * 3);
  CHECK(summary["test"]["force_mae_ev_per_a"].get<double>() > 0);
  CHECK(summary["test"].contains("uncertainty_force_error_spearman"));
  REQUIRE(summary.contains("calibration"));
  CHECK(summary["calibration"]["frames"] == 2);
  CHECK(summary["test"].contains("force_std_coverage_2sigma"));

  // The same model in eval, mapped (default) and direct, with an uncertainty column.
  for (const std::string& spec :
       {"gp:" + (dir / "model.h5").string(), "gp:" + (dir / "model.h5").string() + ",mapped=no"}) {
    const CommandResult eval = run_otfgp("eval -p " + spec + " " + (dir / "test.xyz").string() +
                                         " -o " + (dir / "out.xyz").string());
    INFO(eval.output);
    REQUIRE(eval.exit_code == 0);
    const auto out = read_structures(dir / "out.xyz");
    REQUIRE(out.size() == 3);
    // The std in eV and the normalised std, related by the model's signal std.
    const Eigen::MatrixXd std_ev = real_property(out[0], "uncertainty");
    const Eigen::MatrixXd normalised = real_property(out[0], "uncertainty_normalised");
    REQUIRE(std_ev.rows() == out[0].size());
    REQUIRE(normalised.rows() == out[0].size());
    const double sigma = load_gp_model(dir / "model.h5").hyperparameters().signal_std;
    CHECK((std_ev - sigma * normalised).cwiseAbs().maxCoeff() <= 1e-6 * sigma);
    CHECK(normalised.maxCoeff() <= 1.0);
    CHECK(normalised.maxCoeff() > 0.0);
    // Calibrated on 2 of the 8 frames: a per-atom force std in eV/Å, the same both ways.
    const Eigen::MatrixXd force_std = real_property(out[0], "force_std");
    REQUIRE(force_std.rows() == out[0].size());
    CHECK(force_std.minCoeff() >= summary["calibration"]["floor_ev_per_a"].get<double>() * 0.999);
    CHECK_THAT(eval.output, Catch::Contains("force std vs errors: coverage"));
  }
  // The shortest training distances travel in the file; a version-1 file (without them) gets
  // them from its stored training frames.
  const MappedGp mapped = load_mapped_gp(dir / "model.h5");
  REQUIRE(mapped.shortest_pair_distance.rows() == 1);
  CHECK(mapped.shortest_pair_distance(0, 0) > 1.5);
  CHECK(mapped.shortest_pair_distance(0, 0) < 2.4);
  REQUIRE(mapped.density_range.rows() == 1);
  CHECK(mapped.density_range(0, 0) > 0.0);
  CHECK(mapped.density_range(0, 0) < mapped.density_range(0, 1));
  // A current file copied without its checksum (h5py keeps no otfgp header):
  // loaded, since such copies are legitimate, but its content is not checked,
  // and the log says so (an edited number would otherwise pass silently).
  python_output(R"(
import sys, h5py
with h5py.File(sys.argv[1], "r") as source, h5py.File(sys.argv[2], "w") as target:
    for name in source:
        source.copy(name, target)
    for key, value in source.attrs.items():
        if key not in ("checksum", "checksum_algorithm"):
            target.attrs[key] = value
)",
                {(dir / "model.h5").string(), (dir / "copy.h5").string()});
  const CommandResult copied =
      run_otfgp("eval -p gp:" + (dir / "copy.h5").string() + " " + (dir / "test.xyz").string() +
                " -o " + (dir / "copy.xyz").string());
  CHECK(copied.exit_code == 0);
  CHECK_THAT(copied.output, Catch::Contains("copy.h5 has no checksum"));
  // A version-1 file as older otfgp wrote it: no novelty group, no checksummed header
  // (copied object by object into a plain HDF5 file).
  python_output(R"(
import os, sys, h5py
path = sys.argv[1]
with h5py.File(path, "r") as source, h5py.File(path + ".v1", "w") as target:
    for name in source:
        if name != "novelty":
            source.copy(name, target)
    for key, value in source.attrs.items():
        if key not in ("checksum", "checksum_algorithm"):
            target.attrs[key] = value
    target.attrs["format_version"] = 1
os.replace(path + ".v1", path)
)",
                {(dir / "model.h5").string()});
  const MappedGp old = load_mapped_gp(dir / "model.h5");
  CHECK(old.shortest_pair_distance(0, 0) == mapped.shortest_pair_distance(0, 0));
  CHECK(repeats(old.density_range, mapped.density_range));
  // The file names its descriptor settings as given.
  const SparseGp gp = load_gp_model(dir / "model.h5");
  CHECK(gp.shortest_pair_distance()(0, 0) == mapped.shortest_pair_distance(0, 0));
  CHECK(repeats(gp.density_range(), mapped.density_range));
  CHECK(gp.descriptor().cutoff() == 3.9);
  CHECK(gp.num_frames() == 8);
}

TEST_CASE("otfgp train refuses a cutoff that leaves every atom without a neighbour",
          "[cli][train]") {
  // Si's nearest neighbours sit at 2.35 Å: a 1 Å cutoff, or a 0.3 Å pair
  // cutoff, sees none, and the model would give zero forces and zero
  // uncertainty everywhere.
  TemporaryDirectory dir;
  write_structures(dir / "train.xyz", silicon_frames(6, 1));
  for (const auto& [config, cutoffs] : std::vector<std::pair<std::string, std::string>>{
           {"descriptor: {cutoff: 1.0}\n", "(1 Å)"},
           {"descriptor: {pair_cutoffs: {Si-Si: 0.3}}\n", "(0.3 Å)"}}) {
    write_text(dir / "short.yaml", config);
    const CommandResult run =
        run_otfgp("train --data " + (dir / "train.xyz").string() + " --config " +
                  (dir / "short.yaml").string() + " -o " + (dir / "model.h5").string());
    INFO(run.output);
    CHECK(run.exit_code == 1);
    CHECK_THAT(run.output,
               Catch::Contains("none of the 48 atoms of the training frames has a neighbour "
                               "within the descriptor's cutoffs " +
                               cutoffs) &&
                   Catch::Contains("the model would see no environment at all"));
    CHECK_FALSE(std::filesystem::exists(dir / "model.h5"));
  }
}

TEST_CASE("otfgp train rejects bad input with one clear message", "[cli][train]") {
  TemporaryDirectory dir;
  write_structures(dir / "train.xyz", silicon_frames(2, 3));
  const auto train = [&](const std::string& yaml) {
    write_text(dir / "bad.yaml", yaml);
    return run_otfgp("train --data " + (dir / "train.xyz").string() + " --config " +
                     (dir / "bad.yaml").string() + " -o " + (dir / "model.h5").string());
  };
  CommandResult r = train("descriptor: {n_max: 4, lmax: 3}\n");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("bad.yaml, line 1") && Catch::Contains("descriptor.lmax") &&
                           Catch::Contains("unknown key"));
  r = train("sparse:\n  method: uncertian\n");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("line 2") && Catch::Contains("sparse.method") &&
                           Catch::Contains("uncertian"));
  r = train("hyperparameters: {force_noise: -0.1}\n");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output,
             Catch::Contains("hyperparameters.force_noise") && Catch::Contains("positive"));
  r = train("species: [O]\n");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("contain Si"));
  r = train("reference_energies: {Si: -4.3, O: 1}\n");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("O is not among the species"));
  r = train("descriptor: {cutoff: 0.0}\n");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("cutoff"));
  // Without energy labels the energies are free up to a constant per species: said.
  r = train("labels: {energy: false}\n");
  CHECK_THAT(r.output, Catch::Contains("no energy label was learnt"));
  std::filesystem::remove(dir / "model.h5");
  r = train("labels: {energy: false, forces: false, stress: false}\n");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("bad.yaml, line 1") && Catch::Contains("learn nothing"));
  // Held-out frames with an element the model lacks: refused before training.
  Structure carbon = diamond(6, 3.57, 1);
  carbon.energy = -50.0;
  write_structures(dir / "held_out.xyz", {carbon});
  r = run_otfgp("train --data " + (dir / "train.xyz").string() + " -o " +
                (dir / "model.h5").string() + " --test " + (dir / "held_out.xyz").string());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("held_out.xyz' frame 1: element C is not among the "
                                       "model's species"));
  CHECK_FALSE(std::filesystem::exists(dir / "model.h5"));

  // Frames without labels.
  Structure bare = diamond(14, 5.431, 1);
  write_structures(dir / "bare.xyz", {bare});
  r = run_otfgp("train --data " + (dir / "bare.xyz").string() + " -o " +
                (dir / "model.h5").string());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("no labels"));
  // GAP's names for the labels: named, since a user means them as labels.
  Structure gap = silicon_frames(1, 9)[0];
  set_real_property(gap, "REF_forces", Eigen::MatrixXd(*gap.forces));
  gap.clear_results();
  gap.set_info_value("REF_energy", "-34.0");
  write_structures(dir / "gap.xyz", {gap});
  r = run_otfgp("train --data " + (dir / "gap.xyz").string() + " -o " +
                (dir / "model.h5").string());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("no labels") &&
                           Catch::Contains("found REF_energy, REF_forces, not read"));
  // Beside energies, a `force` column: trained on the energies, with a warning.
  std::vector<Structure> energies_only = silicon_frames(4, 11);
  for (auto& frame : energies_only) {
    set_real_property(frame, "force", Eigen::MatrixXd(*frame.forces));
    frame.forces.reset();
  }
  write_structures(dir / "force_column.xyz", energies_only);
  r = run_otfgp("train --data " + (dir / "force_column.xyz").string() + " -o " +
                (dir / "model.h5").string());
  CHECK_THAT(r.output, Catch::Contains("not read, though named like labels: force"));
  std::filesystem::remove(dir / "model.h5");
  // A missing model in a potential spec.
  r = run_otfgp("eval -p gp:" + (dir / "missing.h5").string() + " " + (dir / "train.xyz").string() +
                " -o " + (dir / "out.xyz").string());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output,
             Catch::Contains("cannot find the model file") && Catch::Contains("missing.h5"));
}

TEST_CASE("train config: defaults and values", "[train_config]") {
  const GpTrainConfig defaults = default_gp_train_config({56, 8});
  CHECK(defaults.descriptor.species == std::vector<int>{8, 56});
  CHECK(defaults.kernel_power == 2);
  CHECK(defaults.training.optimize_hyperparameters);
  CHECK(defaults.training.sparse.method == SparseSelectionMethod::uncertain);
  CHECK(defaults.sparse_count_auto);
  // The descriptor's defaults follow the number of species: D = 144 for one,
  // 312 for two (species-resolved, n_max 6, l_max 3), 180 for three or more
  // (two embedded channels, n_max 4, l_max 4): the size no longer grows as species².
  const auto size = [](const GpTrainConfig& c) { return make_gp_descriptor(c)->size(); };
  CHECK(size(default_gp_train_config({14})) == 144);
  CHECK(size(defaults) == 312);
  CHECK_FALSE(defaults.descriptor.embedded());
  const GpTrainConfig ternary = default_gp_train_config({56, 45, 8});
  CHECK(ternary.descriptor.embedded());
  CHECK(ternary.descriptor.channels() == 2);
  CHECK(size(ternary) == 180);
  CHECK(size(default_gp_train_config({48, 30, 80, 52, 34})) == 180);
  // A `species:` list sets the defaults for its own length; given keys win.
  const GpTrainConfig listed = parse_gp_train_config("species: [Ba, Rh, O]", "s.yaml", {8, 56});
  CHECK(listed.descriptor.channels() == 2);
  const GpTrainConfig given = parse_gp_train_config(
      "descriptor: {n_max: 6, embedding: {type: resolved}}\nsparse: {count: 7}", "g.yaml",
      {8, 45, 56});
  CHECK(given.descriptor.n_max == 6);
  CHECK(given.descriptor.l_max == 4);  // the three-species default
  CHECK_FALSE(given.descriptor.embedded());
  CHECK(given.training.sparse.count == 7);
  CHECK_FALSE(given.sparse_count_auto);
  // sparse.count by default: 10 per species and frame, at most 600 per species
  // over all frames, at least one per species.
  CHECK(auto_sparse_count(2, 50) == 20);
  CHECK(auto_sparse_count(2, 200) == 6);
  CHECK(auto_sparse_count(3, 10) == 30);
  CHECK(auto_sparse_count(1, 5000) == 1);
  CHECK(auto_sparse_count(5, 0) == 50);
  const GpTrainConfig c = parse_gp_train_config(R"(
species: [Ba, Rh, O]
descriptor: {n_max: 6, l_max: 4, r_min: 0.5, cutoff: 5.123456789012345, pair_cutoffs: {O-O: 4.5, Ba-O: 5.75}}
kernel: {power: 1}
labels: {stress: false}
sparse: {method: threshold, count: 5, threshold: 0.05, seed: 7, min_residual: 1e-6}
hyperparameters: {signal_std: 2, optimize: true, lower: {force_noise: 0.01}, upper: {signal_std: 50}}
reference_energies: {Ba: -1.5, Rh: -7.25, O: -4.75}
)",
                                                "c.yaml", {8, 56});
  CHECK(c.descriptor.species == std::vector<int>{8, 45, 56});
  CHECK(c.descriptor.cutoff == 5.123456789012345);
  CHECK(c.descriptor.pair_cutoffs.at({8, 8}) == 4.5);
  CHECK(c.descriptor.pair_cutoffs.at({8, 56}) == 5.75);
  CHECK(c.kernel_power == 1);
  CHECK_FALSE(c.training.labels.stress);
  CHECK(c.training.sparse.method == SparseSelectionMethod::threshold);
  CHECK(c.training.sparse.threshold == 0.05);
  CHECK(c.training.sparse.seed == 7);
  CHECK(c.training.min_residual == 1e-6);
  CHECK(c.training.hyperparameters.signal_std == 2.0);
  CHECK(c.training.optimize_hyperparameters);
  CHECK(c.training.optimization.lower.force_noise == 0.01);
  CHECK(c.training.optimization.upper.signal_std == 50.0);
  CHECK(c.reference_energies.at(45) == -7.25);
  CHECK_THROWS_WITH(parse_gp_train_config("sparse: {method: random, replay: true}", "r.yaml", {8}),
                    Catch::Contains("sparse.replay") && Catch::Contains("does not apply"));
  CHECK_THROWS_WITH(
      parse_gp_train_config("sparse: {method: random, threshold: 0.1}", "t.yaml", {8}),
      Catch::Contains("sparse.threshold") && Catch::Contains("with sparse method random"));
  CHECK_THROWS_WITH(
      parse_gp_train_config("hyperparameters: {optimize: false, upper: {signal_std: 5}}", "h.yaml",
                            {8}),
      Catch::Contains("hyperparameters.upper") && Catch::Contains("optimize: false"));
  CHECK_THROWS_WITH(parse_gp_train_config("descriptor: {n_max: 4, nmax: 5}", "d.yaml", {8}),
                    Catch::Contains("did you mean 'descriptor.n_max'"));
  CHECK_THROWS_WITH(parse_gp_train_config("kernel: {power: 3}", "k.yaml", {8}),
                    Catch::Contains("kernel.power"));
}

TEST_CASE("train config: species embedding", "[train_config][embedding]") {
  const GpTrainConfig resolved = parse_gp_train_config("descriptor: {n_max: 4}", "r.yaml", {8, 56});
  CHECK_FALSE(resolved.descriptor.embedded());
  const GpTrainConfig elements = parse_gp_train_config(
      "species: [Ba, Rh, O]\ndescriptor: {embedding: {type: elements, channels: 2, contrast: "
      "0.5}}",
      "e.yaml", {8, 56});
  CHECK(elements.descriptor.embedding == species_embedding("elements", {8, 45, 56}, 2, 0.5));
  CHECK_THAT(describe_gp_config(elements), Catch::Contains("species embedding of 2 channels"));
  const GpTrainConfig weights = parse_gp_train_config(
      "descriptor:\n  embedding:\n    type: weights\n    weights: {Ba: [1, 0.5], O: [1, -2]}\n",
      "w.yaml", {8, 56});
  Eigen::MatrixXd expected(2, 2);
  expected << 1, 1, -2, 0.5;  // columns O, Ba
  CHECK(weights.descriptor.embedding == expected);
  CHECK_THROWS_WITH(
      parse_gp_train_config("descriptor: {embedding: {type: elements, channels: 3}}", "c.yaml",
                            {8, 56}),
      Catch::Contains("descriptor.embedding.channels") && Catch::Contains("between 1 and"));
  CHECK_THROWS_WITH(
      parse_gp_train_config("descriptor: {embedding: {channels: 1}}", "d.yaml", {8, 56}),
      Catch::Contains("does not apply with embedding type resolved"));
  CHECK_THROWS_WITH(parse_gp_train_config(
                        "descriptor: {embedding: {type: weights, weights: {O: [1, 2], Ba: [1]}}}",
                        "n.yaml", {8, 56}),
                    Catch::Contains("same number of channel weights"));
  CHECK_THROWS_WITH(
      parse_gp_train_config("descriptor: {embedding: {type: weights, weights: {O: [1]}}}", "m.yaml",
                            {8, 56}),
      Catch::Contains("no weights for Ba"));
  CHECK_THROWS_WITH(
      parse_gp_train_config("descriptor: {embedding: {type: weights, weights: {Fe: [1]}}}",
                            "f.yaml", {8, 56}),
      Catch::Contains("not among the model's species"));
}

TEST_CASE(
    "train config: a sparse GP from a config is the one its descriptor, kernel and "
    "settings train",
    "[train_config]") {
  const std::vector<Structure> frames = silicon_frames(4, 11);
  const GpTrainConfig c = parse_gp_train_config(R"(
descriptor: {n_max: 4, l_max: 2, cutoff: 3.9}
sparse: {method: uncertain, count: 4}
hyperparameters: {signal_std: 1.0, force_noise: 0.05, optimize: false}
reference_energies: {Si: -4.25}
)",
                                                "c.yaml", {14});
  GpTrainingReport from_config, from_parts;
  const SparseGp gp = train_sparse_gp(c, frames, &from_config);
  const SparseGp parts = train_sparse_gp(make_gp_descriptor(c), make_gp_kernel(c), frames,
                                         gp_training_settings(c), &from_parts);
  // The given reference energy is used, not fitted.
  REQUIRE(from_config.reference_energies.size() == 1);
  CHECK(from_config.reference_energies[0] == -4.25);
  CHECK(from_config.sparse == from_parts.sparse);
  // Bit for bit on Serial; to rounding where threads order the sums (repeatability.hpp).
  CHECK(repeats(gp.log_marginal_likelihood().value, parts.log_marginal_likelihood().value));
  Structure test = diamond(14, 5.431, 1);
  rattle(test, 0.1, 99);
  CHECK(repeats(gp.predict(test).energy, parts.predict(test).energy));
}

TEST_CASE("train config: without sparse.count, training takes the default count per frame",
          "[train_config]") {
  // Zincblende SiC, 8 frames of 64 atoms: auto_sparse_count(2, 8) = 20 per
  // frame (not the 10 of a bare SparseSelection); a given count is kept.
  auto tersoff = make_potential("tersoff:SiC.tersoff");
  std::vector<Structure> frames;
  for (int f = 0; f < 8; ++f) {
    Structure s = diamond(14, 4.36, 2);
    for (int i = 0; i < s.size(); i += 2) s.numbers[i] = 6;
    rattle(s, 0.1, 300 + f);
    attach_labels(s, evaluate(*tersoff, s));
    frames.push_back(s);
  }
  GpTrainConfig c = parse_gp_train_config(
      "descriptor: {cutoff: 3.5}\nhyperparameters: {optimize: false}\ncalibration: {holdout: 0}",
      "d.yaml", {6, 14});
  GpTrainingReport report;
  train_sparse_gp(c, frames, &report);
  CHECK(report.sparse == 8 * 20);
  c.training.sparse.count = 3;
  c.sparse_count_auto = false;
  train_sparse_gp(c, frames, &report);
  CHECK(report.sparse == 8 * 3);
}

TEST_CASE("train config: the kernel's two-body part", "[train_config][two_body]") {
  const GpTrainConfig plain = parse_gp_train_config("kernel: {power: 2}", "p.yaml", {8, 56});
  CHECK_FALSE(plain.descriptor.two_body);
  CHECK(make_gp_kernel(plain)->two_body_columns() == 0);
  const GpTrainConfig fixed = parse_gp_train_config(
      "descriptor: {n_max: 4}\nkernel: {two_body: 2.5e-4}", "f.yaml", {8, 56});
  CHECK(fixed.descriptor.two_body);
  CHECK(fixed.two_body_weight == 2.5e-4);
  CHECK(make_gp_kernel(fixed)->two_body_columns() == 8);
  CHECK(make_gp_descriptor(fixed)->size() == fixed.descriptor.power_spectrum_size() + 8);
  CHECK_THAT(describe_gp_config(fixed), Catch::Contains("0.00025 q·q'"));
  const GpTrainConfig automatic = parse_gp_train_config("kernel: {two_body: auto}", "a.yaml", {8});
  CHECK(automatic.two_body_auto);
  CHECK(automatic.descriptor.two_body);
  CHECK_THAT(describe_gp_config(automatic), Catch::Contains("w chosen by the marginal likelihood"));
  CHECK_FALSE(parse_gp_train_config("kernel: {two_body: 0}", "z.yaml", {8}).descriptor.two_body);
  CHECK_THROWS_WITH(parse_gp_train_config("kernel: {two_body: -1}", "n.yaml", {8}),
                    Catch::Contains("kernel.two_body") && Catch::Contains("non-negative"));
  CHECK_THROWS_WITH(parse_gp_train_config("kernel: {two_body: lots}", "l.yaml", {8}),
                    Catch::Contains("kernel.two_body"));
}

TEST_CASE("train config: the kernel's three-body part", "[train_config][three_body]") {
  const GpTrainConfig plain = parse_gp_train_config("kernel: {power: 2}", "p.yaml", {8, 56});
  CHECK(make_gp_kernel(plain)->three_body_weight() == 0.0);
  const GpTrainConfig three = parse_gp_train_config(
      "descriptor: {n_max: 4}\nkernel: {three_body: 0.02, two_body: 1e-3}", "t.yaml", {8, 56});
  CHECK(three.three_body_weight == 0.02);
  CHECK(make_gp_kernel(three)->three_body_weight() == 0.02);
  CHECK(make_gp_kernel(three)->has_quadratic_map());
  CHECK_THAT(describe_gp_config(three), Catch::Contains("0.02 b·b'"));
  CHECK_THROWS_WITH(parse_gp_train_config("kernel: {three_body: -1}", "n.yaml", {8}),
                    Catch::Contains("kernel.three_body") && Catch::Contains("non-negative"));
  CHECK_THROWS_WITH(parse_gp_train_config("kernel: {three_body: auto}", "a.yaml", {8}),
                    Catch::Contains("kernel.three_body"));
}

TEST_CASE("two_body: auto picks the weight of the highest marginal likelihood",
          "[train_config][two_body]") {
  // Frames of a pair potential (Lennard-Jones argon), which a pair term describes exactly.
  auto potential = make_potential("lj:eps=0.0104,sigma=3.4,rc=7.0");
  std::vector<Structure> frames;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Structure s = random_structure(triclinic_cell(10.0, 9.7, 10.3, 0.1, 0.0, -0.1),
                                   std::vector<int>(16, 18), 3.0, seed);
    attach_labels(s, evaluate(*potential, s));
    frames.push_back(s);
  }
  const GpTrainConfig config = parse_gp_train_config(
      "descriptor: {n_max: 4, l_max: 2, cutoff: 6.0}\nkernel: {two_body: auto}\n"
      "sparse: {method: uncertain, count: 6}\n"
      "hyperparameters: {optimize: false, signal_std: 1.0, energy_noise: 0.001, force_noise: 0.01}",
      "a.yaml", {18});
  std::optional<SparseGp> best;
  const auto trials = choose_two_body_weight(config, frames, best, nullptr);
  REQUIRE(trials.size() == 7);
  REQUIRE(best);
  double highest = -std::numeric_limits<double>::infinity();
  for (const auto& t : trials) highest = std::max(highest, t.log_likelihood);
  CHECK(best->log_marginal_likelihood_value() == highest);
  CHECK(best->kernel().two_body_columns() == 4);
  // Consecutive decades: w grows ×10; the best is not the smallest (a pair potential's data
  // want the pair term).
  CHECK(trials[1].weight == Approx(10 * trials[0].weight));
  CHECK(best->kernel().two_body_weight() > trials[0].weight);
  const SparseGp trained = train_sparse_gp(config, frames);
  CHECK(trained.kernel().two_body_weight() == best->kernel().two_body_weight());
}

namespace {

// `otfgp eval` of dir/model.h5 on dir/test.xyz, mapped (the default) and
// direct (`mapped=no`): the same energies and forces.
void check_mapped_equals_direct(const std::filesystem::path& dir) {
  for (const std::string options : {"", ",mapped=no"}) {
    const CommandResult eval = run_otfgp("eval -p gp:" + (dir / "model.h5").string() + options +
                                         " " + (dir / "test.xyz").string() + " -o " +
                                         (dir / ("out" + options + ".xyz")).string());
    INFO(eval.output);
    REQUIRE(eval.exit_code == 0);
  }
  const auto mapped = read_structures(dir / "out.xyz"),
             direct = read_structures(dir / "out,mapped=no.xyz");
  CHECK((*mapped[0].forces - *direct[0].forces).norm() <= 1e-8 * direct[0].forces->norm());
  CHECK(*mapped[0].energy == Approx(*direct[0].energy).epsilon(1e-10));
}

}  // namespace

TEST_CASE("otfgp train with two_body: auto writes a model that eval runs mapped and directly",
          "[cli][train][two_body]") {
  TemporaryDirectory dir;
  write_structures(dir / "train.xyz", silicon_frames(4, 1));
  write_structures(dir / "test.xyz", silicon_frames(1, 2));
  write_text(dir / "train.yaml",
             "descriptor: {n_max: 4, l_max: 2, cutoff: 4.0}\nkernel: {two_body: auto}\n"
             "sparse: {method: uncertain, count: 4}\nhyperparameters: {max_evaluations: 20}\n");
  const CommandResult run =
      run_otfgp("train --data " + (dir / "train.xyz").string() + " --config " +
                (dir / "train.yaml").string() + " -o " + (dir / "model.h5").string());
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.output, Catch::Contains("w chosen by the marginal likelihood") &&
                             Catch::Contains("two-body weight: chose"));
  const GpModelKernel kernel = gp_model_kernel(dir / "model.h5");
  CHECK(kernel.two_body_weight > 0.0);
  CHECK(kernel.mappable());
  check_mapped_equals_direct(dir.path());
}

TEST_CASE(
    "otfgp train with a three-body part writes a model that eval runs mapped and direct alike",
    "[cli][train][three_body]") {
  TemporaryDirectory dir;
  write_structures(dir / "train.xyz", silicon_frames(3, 1));
  write_structures(dir / "test.xyz", silicon_frames(1, 2));
  write_text(dir / "train.yaml",
             "descriptor: {n_max: 4, l_max: 2, cutoff: 4.0}\nkernel: {three_body: 0.01}\n"
             "sparse: {method: uncertain, count: 4}\nhyperparameters: {optimize: false}\n");
  const CommandResult run =
      run_otfgp("train --data " + (dir / "train.xyz").string() + " --config " +
                (dir / "train.yaml").string() + " -o " + (dir / "model.h5").string());
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const GpModelKernel kernel = gp_model_kernel(dir / "model.h5");
  CHECK(kernel.three_body_weight == 0.01);
  CHECK(kernel.mappable());
  check_mapped_equals_direct(dir.path());
}
