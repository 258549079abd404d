// What the on-the-fly loop's bookkeeping relies on to be cheap without
// changing a number (docs/otf.md, "Cost of the bookkeeping"): the sparse GP's
// mapped form is cached per solve and follows every change of the model; the
// likelihood's value for the model file comes from the cached solve; and a
// mapped potential without its variance factors (the loop's checks and
// held-out errors) gives the full potential's energies, forces and stress; a
// checkpoint's model file leaves out the mapped form, which its solve gives.

#include <catch2/catch.hpp>

#include "otfgp/gp/b2_descriptor.hpp"
#include "otfgp/gp/gp_potential.hpp"
#include "otfgp/gp/model_file.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/gp/reference_energies.hpp"
#include "otfgp/gp/sparse_gp.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "support/repeatability.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::testing;

namespace {

const std::string lj =
    "lj:eps=0.0104,sigma=3.4,rc=7.0,eps.Ar-Kr=0.0125,sigma.Ar-Kr=3.55,eps.Kr-Kr=0.0141,sigma.Kr-Kr="
    "3.65";

B2Settings settings() {
  B2Settings s;
  s.species = {18, 36};
  s.n_max = 3;
  s.l_max = 2;
  s.cutoff = 5.0;
  return s;
}

Structure labelled_frame(std::uint64_t seed) {
  Structure s = random_structure(triclinic_cell(9.0, 8.5, 9.2, 0.1, -0.15, 0.05),
                                 alternating(12, 36, 18), 3.0, seed);
  auto potential = make_potential(lj);
  attach_labels(s, evaluate(*potential, s));
  return s;
}

// Every matrix of the mapped form equal, bit for bit.
void check_same_mapped(const MappedGp& a, const MappedGp& b) {
  CHECK(a.signal_std == b.signal_std);
  CHECK(a.reference_energy == b.reference_energy);
  REQUIRE(a.beta.size() == b.beta.size());
  for (std::size_t s = 0; s < a.beta.size(); ++s) {
    INFO("species " << s);
    CHECK(a.beta[s] == b.beta[s]);
    CHECK(a.sparse_normalised[s] == b.sparse_normalised[s]);
    CHECK(a.variance_factor[s] == b.variance_factor[s]);
  }
  CHECK(a.energy_variance_factor == b.energy_variance_factor);
  CHECK(a.shortest_pair_distance == b.shortest_pair_distance);
  CHECK(a.force_calibration.pooled.energy_scale == b.force_calibration.pooled.energy_scale);
  CHECK(a.force_calibration.frames == b.force_calibration.frames);
}

// The mapped form computed afresh: a copy whose solve is redone.
MappedGp fresh_mapped(const SparseGp& gp) {
  SparseGp copy = gp;
  copy.set_hyperparameters(copy.hyperparameters());
  return copy.mapped();
}

SparseGp small_gp(const std::vector<Structure>& frames) {
  SparseGp gp(std::make_shared<B2Descriptor>(settings()),
              std::make_shared<NormalizedDotProductKernel>(2), {0.5, 0.002, 0.02, 0.002},
              fit_reference_energies(frames, settings().species));
  return gp;
}

}  // namespace

TEST_CASE("the cached mapped form follows every change of the model", "[otf]") {
  const std::vector<Structure> frames = {labelled_frame(1), labelled_frame(2), labelled_frame(3)};
  SparseGp gp = small_gp(frames);
  gp.add_frame(frames[0]);
  gp.add_sparse_atoms(0, {0, 1, 2, 3});
  const MappedGp first = gp.mapped();
  check_same_mapped(first, gp.mapped());  // repeated: the cache
  check_same_mapped(first, fresh_mapped(gp));

  // A new frame (new α), new sparse environments, new hyperparameters, a new
  // calibration: each shows in the next mapped form.
  gp.add_frame(frames[1]);
  const MappedGp second = gp.mapped();
  CHECK(second.beta[0] != first.beta[0]);
  check_same_mapped(second, fresh_mapped(gp));

  gp.add_sparse_atoms(1, {4, 5, 6});
  const MappedGp third = gp.mapped();
  CHECK(third.sparse_normalised[0].rows() + third.sparse_normalised[1].rows() == 7);
  check_same_mapped(third, fresh_mapped(gp));

  GpHyperparameters h = gp.hyperparameters();
  h.signal_std *= 1.5;
  gp.set_hyperparameters(h);
  const MappedGp fourth = gp.mapped();
  CHECK(fourth.signal_std == h.signal_std);
  CHECK(fourth.beta[1] != third.beta[1]);
  check_same_mapped(fourth, fresh_mapped(gp));

  ForceUncertaintyCalibration calibration;
  calibration.pooled.energy_scale = 2.5;
  calibration.frames = 3;
  gp.set_force_calibration(calibration);
  CHECK(gp.mapped().force_calibration.pooled.energy_scale == 2.5);

  gp.set_split_conditioning(false);
  const MappedGp fifth = gp.mapped();
  CHECK(fifth.variance_factor[0] != fourth.variance_factor[0]);
  check_same_mapped(fifth, fresh_mapped(gp));

  gp.add_frame(frames[2]);
  gp.rebuild();
  check_same_mapped(gp.mapped(), fresh_mapped(gp));
}

TEST_CASE("the likelihood's value from the cached solve is the full evaluation's", "[otf]") {
  const std::vector<Structure> frames = {labelled_frame(4), labelled_frame(5)};
  SparseGp gp = small_gp(frames);
  gp.add_frame(frames[0]);
  gp.add_sparse_atoms(0, {0, 2, 5, 7});
  gp.add_frame(frames[1]);
  const double value = gp.log_marginal_likelihood_value();
  CHECK(std::isfinite(value));
  CHECK(value == gp.log_marginal_likelihood().value);
  GpHyperparameters h = gp.hyperparameters();
  h.force_noise *= 2;
  gp.set_hyperparameters(h);
  CHECK(gp.log_marginal_likelihood_value() != value);
  CHECK(gp.log_marginal_likelihood_value() == gp.log_marginal_likelihood().value);
}

TEST_CASE("a mapped potential without variance factors gives the same energy, forces, stress",
          "[otf]") {
  const std::vector<Structure> frames = {labelled_frame(6), labelled_frame(7), labelled_frame(8)};
  SparseGp gp = small_gp(frames);
  gp.add_frame(frames[0]);
  gp.add_sparse_atoms(0, {0, 1, 2, 3, 4, 5});
  gp.add_frame(frames[1]);
  MappedGp full = gp.mapped();
  full.descriptor = settings();
  full.variance_rank = 2;  // truncated, as in the loop's MD
  MappedGp mean = full;
  for (Eigen::MatrixXd& factor : mean.variance_factor) factor.resize(0, 0);
  mean.energy_variance_factor.resize(0, 0);
  GpPotential a(full), b(mean);
  ComputeRequest with_uncertainty;
  with_uncertainty.uncertainty = true;
  const Evaluation x = evaluate(a, frames[2], with_uncertainty);
  const Evaluation y = evaluate(b, frames[2], ComputeRequest{});
  CHECK(x.uncertainty.has_value());
  CHECK_FALSE(y.uncertainty.has_value());
  // Bit for bit on Serial; to rounding where threads order the sums (repeatability.hpp).
  CHECK(repeats(x.energy, y.energy));
  CHECK(repeats(x.forces, y.forces));
  REQUIRE(x.stress.has_value());
  CHECK(repeats(*x.stress, *y.stress));
  CHECK(std::abs(x.energy - *frames[2].energy) < 1.0);  // a model, not zeros
}

TEST_CASE("a checkpoint model has no mapped form and loads to the same model bit for bit",
          "[otf]") {
  const std::vector<Structure> frames = {labelled_frame(9), labelled_frame(10)};
  SparseGp gp = small_gp(frames);
  gp.add_frame(frames[0]);
  gp.add_sparse_atoms(0, {1, 3, 5, 7, 9});
  gp.add_frame(frames[1]);
  TemporaryDirectory dir;
  save_gp_model_without_frames(dir / "checkpoint.h5", gp);
  save_gp_model(dir / "model.h5", gp);
  CHECK(std::filesystem::file_size(dir / "checkpoint.h5") <
        std::filesystem::file_size(dir / "model.h5"));
  {
    const hdf5::File file = hdf5::File::open(dir / "checkpoint.h5");
    CHECK_FALSE(file.contains("mapped"));
    CHECK(file.open_group("solution").double_attribute("log_marginal_likelihood") ==
          gp.log_marginal_likelihood().value);
  }
  CHECK_THROWS_WITH(load_mapped_gp(dir / "checkpoint.h5"),
                    Catch::Contains("checkpoint model") && Catch::Contains("model.h5"));
  const SparseGp loaded =
      load_gp_model(dir / "checkpoint.h5", frames, {LabelSelection{}, LabelSelection{}});
  check_same_mapped(loaded.mapped(), gp.mapped());
  // The full model file's mapped form is the one the checkpoint's model gives.
  MappedGp full = load_mapped_gp(dir / "model.h5");
  const MappedGp from_checkpoint = loaded.mapped();
  for (std::size_t s = 0; s < full.beta.size(); ++s) {
    CHECK(full.beta[s] == from_checkpoint.beta[s]);
    CHECK(full.variance_factor[s] == from_checkpoint.variance_factor[s]);
  }
}
