// The HDF5 model file: round trip bit for bit, continued training, h5py, errors.

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "otfgp/core/error.hpp"
#include "otfgp/gp/b2_descriptor.hpp"
#include "otfgp/gp/factor_journal.hpp"
#include "otfgp/gp/model_file.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/gp/training.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "support/python.hpp"
#include "support/radial_descriptor.hpp"
#include "support/repeatability.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::testing;

namespace {

// The test descriptor's settings in a model file.
class RadialFormat final : public DescriptorFormat {
 public:
  std::string type() const override { return "radial_test"; }
  void write(const Descriptor& descriptor, const hdf5::Group& group) const override {
    const auto* radial = dynamic_cast<const RadialDescriptor*>(&descriptor);
    if (!radial) throw Error("not a radial test descriptor");
    if (fail_) throw Error("simulated failure while writing");
    group.set_attribute("type", type());
    group.write("species", radial->species());
    group.set_attribute("radial_functions", radial->radial_functions());
    group.set_attribute("cutoff", radial->cutoff());
    group.set_attribute("two_body", radial->two_body_size());
  }
  std::shared_ptr<const Descriptor> read(const hdf5::Group& group) const override {
    return std::make_shared<RadialDescriptor>(
        group.read_ints("species"), group.int_attribute("radial_functions"),
        group.double_attribute("cutoff"), group.int_attribute("two_body"));
  }
  bool fail_ = false;
};

const std::string reference_spec =
    "lj:eps=0.0104,sigma=3.4,rc=7.0,eps.Ar-Kr=0.0125,sigma.Ar-Kr=3.55,eps.Kr-Kr=0.0141,sigma.Kr-Kr="
    "3.65";

Structure frame(std::uint64_t seed) {
  std::vector<int> numbers(9, 18);
  for (int i = 0; i < 9; i += 3) numbers[i] = 36;
  Structure s =
      random_structure(triclinic_cell(9.0, 8.5, 9.2, 0.1, -0.15, 0.05), numbers, 3.0, seed);
  auto potential = make_potential(reference_spec);
  attach_labels(s, evaluate(*potential, s));
  return s;
}

// two_body_columns > 0: the kernel's two-body part on the descriptor's last columns.
SparseGp trained(int power, int two_body_columns = 0, double three_body_weight = 0.0) {
  GpTrainingSettings settings;
  settings.sparse = {SparseSelectionMethod::random, 4};
  settings.hyperparameters = {0.3, 0.002, 0.02, 0.002};
  std::vector<Structure> frames = {frame(1), frame(2), frame(3)};
  frames[1].stress.reset();  // a frame without stress
  frames[2].pbc = {true, true, true};
  // Irrational-looking cutoff: must come back to the last bit.
  auto descriptor = std::make_shared<RadialDescriptor>(std::vector<int>{18, 36}, 8,
                                                       6.123456789012345, two_body_columns);
  return train_sparse_gp(
      descriptor,
      std::make_shared<NormalizedDotProductKernel>(
          power, two_body_columns, two_body_columns > 0 ? 0.0123456789 : 0.0, three_body_weight),
      frames, settings);
}

// Rewrites the model file without otfgp's checksummed header (as an older
// version, or a hand edit, leaves it), running `edit` (Python, with the open
// h5py file as `target`) on the copy.
void rewrite_without_checksum(const std::filesystem::path& path, const std::string& edit) {
  python_output(R"(
import os, sys, h5py
path = sys.argv[1]
with h5py.File(path, "r") as source, h5py.File(path + ".edit", "w") as target:
    for name in source:
        source.copy(name, target)
    for key, value in source.attrs.items():
        if key not in ("checksum", "checksum_algorithm"):
            target.attrs[key] = value
)" + edit + R"(
os.replace(path + ".edit", path)
)",
                {path.string()});
}

// The stored model is exact, so the predictions differ only by the order of
// the descriptor sums: bit for bit on Serial, to rounding on threaded backends
// (the OpenMP neighbour list orders entries by thread schedule).
void require_identical(const GpPrediction& a, const GpPrediction& b) {
  CHECK(repeats(a.energy, b.energy));
  CHECK(repeats(a.forces, b.forces));
  CHECK(repeats(*a.stress, *b.stress));
  CHECK(repeats(a.atom_std, b.atom_std));
  CHECK(repeats(*a.energy_std, *b.energy_std));
}

}  // namespace

TEST_CASE("a saved and loaded GP predicts bit for bit the same", "[gp_model_file]") {
  TemporaryDirectory directory;
  RadialFormat format;
  for (const auto& [power, two_body] : {std::pair{1, 0}, {2, 0}, {2, 3}}) {
    const SparseGp gp = trained(power, two_body);
    const auto path =
        directory / ("model" + std::to_string(power) + "_" + std::to_string(two_body) + ".h5");
    save_gp_model(path, gp, format);
    const SparseGp loaded = load_gp_model(path, format);
    CHECK(loaded.num_frames() == gp.num_frames());
    CHECK(loaded.num_sparse() == gp.num_sparse());
    CHECK(loaded.descriptor().cutoff() == gp.descriptor().cutoff());
    CHECK(loaded.kernel().power() == power);
    CHECK(loaded.kernel().two_body_columns() == two_body);
    CHECK(loaded.kernel().two_body_weight() == gp.kernel().two_body_weight());
    CHECK(gp_model_kernel(path).mappable() == (power == 2));
    CHECK_FALSE(loaded.frame(1).stress.has_value());
    const Structure test = frame(9);
    require_identical(loaded.predict(test, true), gp.predict(test, true));
    CHECK(loaded.log_marginal_likelihood().value == gp.log_marginal_likelihood().value);
    CHECK((loaded.alpha().array() == gp.alpha().array()).all());
    if (power == 2) {
      const MappedGp a = gp.mapped(), b = loaded.mapped();
      for (std::size_t s = 0; s < a.beta.size(); ++s) {
        CHECK((a.beta[s].array() == b.beta[s].array()).all());
        if (two_body > 0) CHECK((a.two_body[s].array() == b.two_body[s].array()).all());
      }
      CHECK(a.two_body.size() == (two_body > 0 ? a.beta.size() : 0));
    }
  }
}

TEST_CASE("a GP with a three-body kernel part round-trips and is mappable",
          "[gp_model_file][three_body]") {
  TemporaryDirectory directory;
  RadialFormat format;
  for (int two_body : {0, 3}) {
    const SparseGp gp = trained(2, two_body, 0.0987654321);
    const auto path = directory / ("three_body_" + std::to_string(two_body) + ".h5");
    save_gp_model(path, gp, format);
    const SparseGp loaded = load_gp_model(path, format);
    CHECK(loaded.kernel().three_body_weight() == gp.kernel().three_body_weight());
    CHECK(loaded.kernel().two_body_weight() == gp.kernel().two_body_weight());
    const GpModelKernel kind = gp_model_kernel(path);
    CHECK(kind.three_body_weight == 0.0987654321);
    CHECK(kind.mappable());
    CHECK_THAT(kind.description(), Catch::Contains("three-body weight 0.0987654"));
    const Structure test = frame(9);
    require_identical(loaded.predict(test, true), gp.predict(test, true));
  }
  // Without the part the attribute is not written at all.
  const auto path = directory / "plain.h5";
  save_gp_model(path, trained(2), format);
  CHECK(gp_model_kernel(path).three_body_weight == 0.0);
  CHECK(gp_model_kernel(path).mappable());
}

TEST_CASE("a model whose kernel and descriptor disagree on the two-body block is refused",
          "[gp_model_file][two_body][python]") {
  TemporaryDirectory directory;
  RadialFormat format;
  const auto path = directory / "model.h5";
  save_gp_model(path, trained(2, 3), format);
  rewrite_without_checksum(path,
                           "    target['kernel'].attrs['two_body_columns'] = 0\n"
                           "    target['kernel'].attrs['two_body_weight'] = 0.0\n");
  CHECK_THROWS_WITH(load_gp_model(path, format),
                    Catch::Contains(path.string()) && Catch::Contains("two-body block has 3"));
}

TEST_CASE("training continues from a loaded model as if it had never been saved",
          "[gp_model_file]") {
  TemporaryDirectory directory;
  RadialFormat format;
  SparseGp gp = trained(2);
  save_gp_model(directory / "model.h5", gp, format);
  SparseGp loaded = load_gp_model(directory / "model.h5", format);
  std::mt19937_64 rng_a(3), rng_b(3);
  const SparseSelection selection{SparseSelectionMethod::uncertain, 3};
  add_frame_with_sparse_selection(gp, frame(20), selection, rng_a);
  add_frame_with_sparse_selection(loaded, frame(20), selection, rng_b);
  REQUIRE(loaded.num_sparse() == gp.num_sparse());
  CHECK((loaded.alpha() - gp.alpha()).norm() <= 1e-8 * gp.alpha().norm());
  const Structure test = frame(21);
  CHECK(loaded.predict(test).energy == Approx(gp.predict(test).energy).epsilon(1e-10));
}

namespace {

// A checkpoint as the on-the-fly loop writes it: the model without frames.
SparseGp reload(const std::filesystem::path& path, const SparseGp& gp,
                const DescriptorFormat& format) {
  std::vector<Structure> frames;
  std::vector<LabelSelection> labels;
  for (int f = 0; f < gp.num_frames(); ++f) {
    frames.push_back(gp.frame(f));
    labels.push_back(gp.frame_labels(f));
  }
  return load_gp_model(path, std::move(frames), std::move(labels), format);
}

}  // namespace

TEST_CASE("a checkpoint with its factor blocks grows as if it had never been saved",
          "[gp_model_file]") {
  TemporaryDirectory directory;
  RadialFormat format;
  SparseGp gp = trained(2, 3);
  // Two checkpoints, the second with only the blocks added after the first.
  write_factor_increment(directory / "f1.h5", gp, {});
  const FactorBlockCounts first = factor_block_counts(gp);
  std::mt19937_64 rng_a(5), rng_b(5);
  const SparseSelection selection{SparseSelectionMethod::uncertain, 3};
  add_frame_with_sparse_selection(gp, frame(20), selection, rng_a);
  rng_b = rng_a;
  save_gp_model_without_frames(directory / "model.h5", gp, format);
  write_factor_increment(directory / "f2.h5", gp, first);
  write_factor_increment(directory / "all.h5", gp, {});  // the two merged, as long runs do

  SparseGp loaded = reload(directory / "model.h5", gp, format);
  SparseGp wrong = reload(directory / "model.h5", gp, format);
  SparseGp fewer = reload(directory / "model.h5", gp, format);
  SparseGp merged = reload(directory / "model.h5", gp, format);
  SparseGp fallback = reload(directory / "model.h5", gp, format);
  const std::mt19937_64 rng_fallback = rng_b;
  loaded.resume_factors(read_factor_increments({directory / "f1.h5", directory / "f2.h5"}));
  merged.resume_factors(read_factor_increments({directory / "all.h5"}));
  for (int g = 0; g < SparseGp::Factors::factor_count; ++g)
    CHECK(loaded.factors().factor(g).can_grow());
  add_frame_with_sparse_selection(gp, frame(21), selection, rng_a);
  std::mt19937_64 rng_c = rng_b;
  add_frame_with_sparse_selection(loaded, frame(21), selection, rng_b);
  add_frame_with_sparse_selection(merged, frame(21), selection, rng_c);
  REQUIRE(loaded.num_sparse() == gp.num_sparse());
  CHECK(repeats(merged.alpha(), gp.alpha()));
  // The same arithmetic on the same numbers: every factor and α bit for bit
  // (on threaded backends the new frame's descriptor sums round by schedule).
  for (int g = 0; g < SparseGp::Factors::factor_count; ++g) {
    CHECK(repeats(loaded.factors().factor(g).r(), gp.factors().factor(g).r()));
    CHECK(repeats(loaded.factors().factor(g).z(), gp.factors().factor(g).z()));
  }
  CHECK(repeats(loaded.alpha(), gp.alpha()));

  // Without the blocks the first update rebuilds the factors instead (in
  // another order); with the wrong ones, a clear error.
  CHECK_THROWS_WITH(wrong.resume_factors(read_factor_increments({directory / "f2.h5"})),
                    Catch::Contains("f2.h5") || Catch::Contains("cannot be resumed"));
  CHECK_THROWS_WITH(read_factor_increments({directory / "f2.h5"}),
                    Catch::Contains("f2.h5") && Catch::Contains("starts at block"));
  CHECK_THROWS_WITH(read_factor_increments({directory / "f1.h5", directory / "f1.h5"}),
                    Catch::Contains("starts at block"));
  CHECK_THROWS_WITH(fewer.resume_factors(read_factor_increments({directory / "f1.h5"})),
                    Catch::Contains("cannot be resumed"));
  // Through the journal a run resuming with a missing increment loses only the
  // bit-for-bit continuation: a warning, and the model rebuilds at its first update.
  {
    FactorJournal journal;
    journal.resume(directory.path(), {"f2.h5"}, fallback);
    CHECK(journal.files().empty());
    CHECK_FALSE(fallback.factors().factor(0).can_grow());
    std::mt19937_64 rng_d = rng_fallback;
    add_frame_with_sparse_selection(fallback, frame(21), selection, rng_d);
    CHECK(fallback.factors().factor(0).can_grow());
    CHECK((fallback.alpha() - gp.alpha()).norm() <= 1e-6 * gp.alpha().norm());
  }
  // A damaged increment is refused by its checksum.
  {
    std::fstream file(directory / "f2.h5", std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(-64, std::ios::end);
    file.put('\x5a');
  }
  CHECK_THROWS_WITH(read_factor_increments({directory / "f1.h5", directory / "f2.h5"}),
                    Catch::Contains("f2.h5"));
}

TEST_CASE("the model file is plain HDF5 that h5py reads", "[gp_model_file][python]") {
  TemporaryDirectory directory;
  RadialFormat format;
  const SparseGp gp = trained(2);
  const auto path = directory / "model.h5";
  save_gp_model(path, gp, format);
  const std::string script = R"(
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    assert f.attrs["format_version"] == int(sys.argv[2])
    assert f["novelty/shortest_pair_distance"].shape == (2, 2)
    assert f.attrs["kind"] == "otfgp sparse GP model"
    assert list(f["species"][:]) == [18, 36]
    d = f["descriptor"]
    assert d.attrs["type"] == "radial_test"
    assert d.attrs["cutoff"] == 6.123456789012345, repr(d.attrs["cutoff"])
    assert f["kernel"].attrs["type"] == "normalized_dot_product" and f["kernel"].attrs["power"] == 2
    assert f["kernel"].attrs["two_body_columns"] == 0 and f["kernel"].attrs["two_body_weight"] == 0
    h = f["hyperparameters"].attrs
    m, dim = f["sparse/descriptors"].shape
    assert f["solution/alpha"].shape == (m,)
    assert f["factors/kernel_factor"].shape == (m, m)
    assert f["mapped/Ar/beta"].shape == (dim, dim)
    beta = f["mapped/Ar/beta"][:]
    assert np.allclose(beta, beta.T, atol=0)
    assert f["training/cells"].shape == (3, 3, 3)
    assert np.isnan(f["training/stress"][1]).all()
    print(len(f["training/natoms"]), m, h["signal_std"], h["force_noise"])
)";
  const std::string output =
      python_output(script, {path.string(), std::to_string(gp_model_format_version)});
  std::istringstream in(output);
  int frames = 0, sparse = 0;
  double signal = 0, force_noise = 0;
  in >> frames >> sparse >> signal >> force_noise;
  CHECK(frames == 3);
  CHECK(sparse == gp.num_sparse());
  CHECK(signal == Approx(gp.hyperparameters().signal_std).epsilon(1e-12));
  CHECK(force_noise == Approx(gp.hyperparameters().force_noise).epsilon(1e-12));
}

// The packed storage of hdf5.hpp: what is packed, bit-for-bit reading, the
// numpy recipe of docs/gp.md, and files of earlier versions (2-D, compressed).
TEST_CASE("square triangular and symmetric matrices are stored packed and read back exactly",
          "[gp_model_file][python]") {
  TemporaryDirectory directory;
  const auto path = directory / "packed.h5";
  const int n = 260;  // 67 600 numbers: format 7 compressed every dataset above 65 536
  const Eigen::MatrixXd general = Eigen::MatrixXd::Random(n, n);
  const Eigen::MatrixXd upper = general.triangularView<Eigen::Upper>();
  const Eigen::MatrixXd lower = general.triangularView<Eigen::Lower>();
  const Eigen::MatrixXd symmetric = general + general.transpose();
  Eigen::MatrixXd signed_zero = upper;  // a −0.0 below the diagonal: kept whole
  signed_zero(5, 2) = -0.0;
  const Eigen::MatrixXd small = upper.topLeftCorner(63, 63);  // under 64 rows: kept whole
  const std::vector<std::pair<std::string, Eigen::MatrixXd>> matrices = {
      {"general", general},         {"upper", upper}, {"lower", lower}, {"symmetric", symmetric},
      {"signed_zero", signed_zero}, {"small", small}};
  {
    hdf5::File file = hdf5::File::create(path);
    for (const auto& [name, m] : matrices) {
      file.write(name, m);
      // The same numbers as a plain row-major dataset, for the numpy check.
      const hdf5::RowMajorMatrix row_major = m;
      file.write("plain_" + name,
                 std::vector<double>(row_major.data(), row_major.data() + row_major.size()),
                 {hsize_t(m.rows()), hsize_t(m.cols())});
    }
    file.close();
  }
  const hdf5::File file = hdf5::File::open(path);
  for (const auto& [name, m] : matrices) {
    INFO(name);
    const Eigen::MatrixXd read = file.read_matrix(name);
    REQUIRE(read.rows() == m.rows());
    REQUIRE(read.cols() == m.cols());
    CHECK(std::memcmp(read.data(), m.data(), sizeof(double) * m.size()) == 0);
  }
  const std::string script = R"(
import sys, h5py, numpy as np
def unpack(d):  # docs/gp.md, "The model file"
    v = d[...]
    if v.ndim == 1:
        n = int(round(((8 * v.size + 1) ** 0.5 - 1) / 2))
        m = np.zeros((n, n))
        packing = d.attrs["packing"]
        m[np.tril_indices(n) if packing == "lower" else np.triu_indices(n)] = v
        if packing == "symmetric":
            m += np.triu(m, 1).T
        return m
    return v
with h5py.File(sys.argv[1], "r") as f:
    for name in ["general", "upper", "lower", "symmetric", "signed_zero", "small"]:
        d = f[name]
        assert d.compression is None, name
        assert np.array_equal(unpack(d), f["plain_" + name][...]), name
        print(name, d.ndim, d.attrs.get("packing", "-"))
# a file of format 7: 2-D and compressed; and damaged packings
with h5py.File(sys.argv[2], "w") as f:
    f.create_dataset("upper", data=np.triu(np.arange(1.0, 4901.0).reshape(70, 70)),
                     compression="gzip", shuffle=True, chunks=(10, 70))
    f["not_a_triangle"] = np.arange(11.0)
    f["not_a_triangle"].attrs["packing"] = "upper"
    f["unknown"] = np.arange(10.0)
    f["unknown"].attrs["packing"] = "diagonal"
)";
  const auto older = directory / "older.h5";
  const std::string output = python_output(script, {path.string(), older.string()});
  CHECK(output ==
        "general 2 -\nupper 1 upper\nlower 1 lower\nsymmetric 1 symmetric\nsigned_zero 2 -\n"
        "small 2 -\n");
  const Eigen::MatrixXd old_upper = hdf5::File::open(older).read_matrix("upper");
  REQUIRE(old_upper.rows() == 70);
  CHECK(old_upper(0, 69) == 70.0);
  CHECK(old_upper(69, 69) == 4900.0);
  CHECK(old_upper(69, 0) == 0.0);
  CHECK_THROWS_WITH(hdf5::File::open(older).read_matrix("not_a_triangle"),
                    Catch::Contains("not_a_triangle") &&
                        Catch::Contains("11 numbers are not the triangle of a square matrix"));
  CHECK_THROWS_WITH(hdf5::File::open(older).read_matrix("unknown"),
                    Catch::Contains("unknown packing \"diagonal\""));
}

TEST_CASE("the force-std calibration keeps its layout in the model file",
          "[gp_model_file][python]") {
  TemporaryDirectory directory;
  RadialFormat format;
  SparseGp gp = trained(2);
  ForceUncertaintyCalibration calibration;
  calibration.pooled = {2.5, 0.03, 0.125, 0.75};
  calibration.species = {{1.5, 0.02, 0.25, 0.5}, calibration.pooled};
  calibration.frames = 4;
  calibration.atoms = 96;
  calibration.coverage_1 = 0.625;
  calibration.coverage_2 = 0.875;
  calibration.spearman = 0.375;
  gp.set_force_calibration(calibration);
  const auto path = directory / "model.h5";
  save_gp_model(path, gp, format);
  // The attributes and dataset of /calibration, by name, as h5py sees them;
  // then a file of before the neighbours' term (no neighbour_scale, no
  // species_terms), as h5py writes it.
  const std::string script = R"(
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    c = f["calibration"]
    print(*(c.attrs[k] for k in ("energy_scale", "floor", "relative", "neighbour_scale",
                                  "frames", "atoms", "coverage_1", "coverage_2", "spearman")))
    print(*c["species_terms"][0], *c["species_terms"][1])
# Such files were plain HDF5, written before the otfgp header and checksum, too.
with h5py.File(sys.argv[1], "r") as f, h5py.File(sys.argv[2], "w") as g:
    for key in f:
        f.copy(key, g)
    for key, value in f.attrs.items():
        if key != "checksum":
            g.attrs[key] = value
    del g["calibration"].attrs["neighbour_scale"]
    del g["calibration/species_terms"]
)";
  const auto older = directory / "older.h5";
  std::istringstream in(python_output(script, {path.string(), older.string()}));
  std::vector<double> numbers;
  for (double x; in >> x;) numbers.push_back(x);
  CHECK(numbers == std::vector<double>{2.5, 0.03, 0.125, 0.75, 4, 96, 0.625, 0.875, 0.375,  //
                                       1.5, 0.02, 0.25, 0.5, 2.5, 0.03, 0.125, 0.75});
  const ForceUncertaintyCalibration loaded = load_gp_model(path, format).force_calibration();
  CHECK(loaded.pooled.energy_scale == 2.5);
  CHECK(loaded.pooled.floor == 0.03);
  CHECK(loaded.pooled.relative == 0.125);
  CHECK(loaded.pooled.neighbour_scale == 0.75);
  REQUIRE(loaded.species.size() == 2);
  CHECK(loaded.species[0].energy_scale == 1.5);
  CHECK(loaded.species[0].neighbour_scale == 0.5);
  CHECK(loaded.species[1].floor == 0.03);
  CHECK(loaded.frames == 4);
  CHECK(loaded.atoms == 96);
  CHECK(loaded.spearman == 0.375);
  const ForceUncertaintyCalibration old = load_gp_model(older, format).force_calibration();
  CHECK(old.pooled.energy_scale == 2.5);
  CHECK(old.pooled.neighbour_scale == 0.0);
  CHECK(old.species.empty());
  CHECK(old.force_std(2.0, 1.0, 4.0, 0) == Approx(std::hypot(5.0, 0.03, 0.5)).epsilon(1e-14));
}

TEST_CASE("model files are written atomically and read with clear errors", "[gp_model_file]") {
  TemporaryDirectory directory;
  RadialFormat format;
  const SparseGp gp = trained(2);
  const auto path = directory / "model.h5";
  save_gp_model(path, gp, format);
  const auto size = std::filesystem::file_size(path);
  // A failure half-way leaves the old file and no temporary behind.
  RadialFormat failing;
  failing.fail_ = true;
  CHECK_THROWS_WITH(save_gp_model(path, gp, failing), Catch::Contains("simulated failure"));
  CHECK(std::filesystem::file_size(path) == size);
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(directory.path()))
    ++entries;
  CHECK(entries == 1);
  CHECK_THROWS_WITH(save_gp_model(directory / "missing" / "model.h5", gp, format),
                    Catch::Contains("missing"));

  CHECK_THROWS_WITH(load_gp_model(directory / "nothing.h5", format),
                    Catch::Contains("no such file"));
  std::ofstream(directory / "text.h5") << "not hdf5\n";
  CHECK_THROWS_WITH(load_gp_model(directory / "text.h5", format),
                    Catch::Contains("not an HDF5 file"));
  // A radial model is not a B2 model.
  CHECK_THROWS_WITH(load_mapped_gp(path), Catch::Contains("expected 'b2'"));
  {
    hdf5::File bad = hdf5::File::create(directory / "future.h5");
    bad.set_attribute("format_version", 99);
    bad.close();  // files are built in memory and written by close()
  }
  CHECK_THROWS_WITH(load_gp_model(directory / "future.h5", format),
                    Catch::Contains("format_version 99"));
  {
    hdf5::File bad = hdf5::File::create(directory / "empty.h5");
    bad.set_attribute("format_version", 1);
    bad.set_attribute("kind", "otfgp sparse GP model");
    bad.close();
  }
  CHECK_THROWS_WITH(load_gp_model(directory / "empty.h5", format),
                    Catch::Contains("/descriptor: missing group"));
}

TEST_CASE(
    "a B2 model with a species embedding saves and loads bit for bit; files without one "
    "load as species-resolved",
    "[gp_model_file][embedding][python]") {
  TemporaryDirectory directory;
  GpTrainingSettings settings;
  settings.sparse = {SparseSelectionMethod::random, 5};
  settings.hyperparameters = {0.3, 0.002, 0.02, 0.002};
  settings.optimize_hyperparameters = false;
  const std::vector<Structure> frames = {frame(1), frame(2)};
  B2Settings b2;
  b2.species = {18, 36};
  b2.n_max = 3;
  b2.l_max = 2;
  b2.cutoff = 5.5;
  b2.pair_cutoffs[{18, 36}] = 5.25;
  B2Settings embedded = b2;
  embedded.embedding = species_embedding("elements", b2.species, 1);
  embedded.embedding(0, 1) = 0.625;  // Kr counts 0.625 of an Ar in the one channel
  const Structure test = frame(9);
  for (const B2Settings& descriptor : {embedded, b2}) {
    const SparseGp gp =
        train_sparse_gp(std::make_shared<B2Descriptor>(descriptor),
                        std::make_shared<NormalizedDotProductKernel>(2), frames, settings);
    const auto path = directory / "b2.h5";
    save_gp_model(path, gp);
    const SparseGp loaded = load_gp_model(path);
    const auto& read = dynamic_cast<const B2Descriptor&>(loaded.descriptor()).settings();
    CHECK(read.embedding == descriptor.embedding);
    CHECK(loaded.descriptor().size() == (descriptor.embedded() ? 3 * 4 / 2 * 3 : 6 * 7 / 2 * 3));
    require_identical(loaded.predict(test, true), gp.predict(test, true));
    const MappedGp mapped = load_mapped_gp(path);
    CHECK(mapped.descriptor.embedding == descriptor.embedding);
    const std::string has = python_output(R"(
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    print(f.attrs["format_version"], "embedding" in f["descriptor"])
)",
                                          {path.string()});
    CHECK(has == std::to_string(gp_model_format_version) +
                     (descriptor.embedded() ? " True\n" : " False\n"));
  }
  // The resolved file as version 2 wrote it (no embedding, format_version 2, no checksum).
  const auto path = directory / "b2.h5";
  const SparseGp current = load_gp_model(path);
  rewrite_without_checksum(path, "    target.attrs['format_version'] = 2\n");
  const SparseGp old = load_gp_model(path);
  CHECK_FALSE(dynamic_cast<const B2Descriptor&>(old.descriptor()).settings().embedded());
  require_identical(old.predict(test, true), current.predict(test, true));
  // A file without /mapped (a three-body model written before that part had a
  // mapped form) is evaluated directly by gp:, not refused.
  CHECK(gp_model_kernel(path).mappable());
  rewrite_without_checksum(path, "    del target['mapped']\n");
  CHECK_FALSE(gp_model_kernel(path).mappable());
  const Evaluation direct =
      evaluate(*make_potential("gp:" + path.string() + ",repulsion=none"), test);
  CHECK(direct.energy == Approx(current.predict(test, false).energy).epsilon(1e-10));
  CHECK_THROWS_WITH(make_potential("gp:" + path.string() + ",mapped=yes"),
                    Catch::Contains("no /mapped group"));
  // A model that is nowhere: every place looked at, the config's folder first.
  const std::string folder =
      std::filesystem::absolute(directory.path()).lexically_normal().string();
  CHECK_THROWS_AS(make_potential("gp:none.h5", directory.path()), MissingFileError);
  CHECK_THROWS_WITH(
      make_potential("gp:none.h5", directory.path()),
      Catch::Contains("cannot find the model file 'none.h5'") &&
          Catch::Contains("looked at " + folder + "/none.h5 (the config's folder), ") &&
          Catch::Contains(std::filesystem::current_path().string() + "/none.h5"));
}

TEST_CASE("per-atom force noise scales survive the model file, with and without its frames",
          "[gp_model_file]") {
  TemporaryDirectory directory;
  RadialFormat format;
  SparseGp gp = trained(2);
  LabelSelection robust;
  robust.force_noise_scale = {1, 1, 4.0, 1, 1, 1, 1, 2.5, 1};
  const int index = gp.add_frame(frame(20), robust);
  gp.add_sparse_atoms(index, {2, 5}, -1.0);
  save_gp_model(directory / "model.h5", gp, format);
  save_gp_model_without_frames(directory / "checkpoint.h5", gp, format);

  // The checkpoint's frames come from the training database, without scales.
  std::vector<Structure> frames;
  std::vector<LabelSelection> plain;
  for (int f = 0; f < gp.num_frames(); ++f) {
    frames.push_back(gp.frame(f));
    plain.push_back(LabelSelection{});
  }
  SparseGp with_frames = load_gp_model(directory / "model.h5", format);
  SparseGp checkpoint = load_gp_model(directory / "checkpoint.h5", frames, plain, format);
  for (SparseGp* loaded : {&with_frames, &checkpoint}) {
    CHECK(loaded->frame_labels(index).force_noise_scale == robust.force_noise_scale);
    CHECK(loaded->frame_labels(0).force_noise_scale.empty());
    CHECK(loaded->factors().force_log_scales == gp.factors().force_log_scales);
    CHECK(loaded->log_marginal_likelihood_value() == gp.log_marginal_likelihood_value());
    // Rebuilt from its frames (what a model without its factor blocks does at
    // its first update), the scales weight the same rows again.
    loaded->rebuild();
    CHECK(loaded->log_marginal_likelihood_value() ==
          Approx(gp.log_marginal_likelihood_value()).epsilon(1e-10));
  }
  CHECK(gp.factors().force_log_scales == Approx(6 * std::log(4.0) + 6 * std::log(2.5)));
  // Without the scales the same frames fit otherwise: the test can tell.
  SparseGp unscaled = load_gp_model(directory / "model.h5", format);
  std::vector<LabelSelection> none(gp.num_frames());
  unscaled.restore(frames, none, gp.sparse_descriptors(), gp.sparse_species(), gp.sparse_sources(),
                   gp.factors(), std::nullopt);
  unscaled.rebuild();
  CHECK(std::abs(unscaled.log_marginal_likelihood_value() - gp.log_marginal_likelihood_value()) >
        1e-3 * std::abs(gp.log_marginal_likelihood_value()));
}
