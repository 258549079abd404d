#include "otfgp/gp/model_file.hpp"

#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <stdexcept>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/hdf5_checksum.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/version.hpp"
#include "otfgp/gp/b2_descriptor.hpp"

namespace otfgp {

FrameArrays FrameArrays::read(const hdf5::Group& group) {
  FrameArrays a;
  a.natoms = group.read_ints("natoms");
  a.numbers = group.read_ints("numbers");
  a.pbc = group.read_ints("pbc");
  a.labels = group.read_ints("labels_used");
  a.positions = group.read_doubles("positions");
  a.cells = group.read_doubles("cells");
  a.energy = group.read_doubles("energy");
  a.forces = group.read_doubles("forces");
  a.stress = group.read_doubles("stress");
  return a;
}

Structure FrameArrays::frame(std::size_t f, std::size_t first_atom) const {
  Structure s;
  const int n = natoms[f];
  s.numbers.assign(numbers.begin() + first_atom, numbers.begin() + first_atom + n);
  s.positions.resize(n, 3);
  Positions frame_forces(n, 3);
  bool has_forces = n > 0;
  for (int i = 0; i < n; ++i)
    for (int d = 0; d < 3; ++d) {
      s.positions(i, d) = positions[3 * (first_atom + i) + d];
      frame_forces(i, d) = forces[3 * (first_atom + i) + d];
      has_forces = has_forces && !std::isnan(frame_forces(i, d));
    }
  if (has_forces) s.forces = frame_forces;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) s.cell(a, b) = cells[9 * f + 3 * a + b];
  for (int d = 0; d < 3; ++d) s.pbc[d] = pbc[3 * f + d] != 0;
  if (!std::isnan(energy[f])) s.energy = energy[f];
  Voigt v;
  bool has_stress = true;
  for (int k = 0; k < 6; ++k) {
    v[k] = stress[6 * f + k];
    has_stress = has_stress && !std::isnan(v[k]);
  }
  if (has_stress) s.stress = v;
  return s;
}

LabelSelection FrameArrays::labels_used(std::size_t f) const {
  return {labels[3 * f] != 0, labels[3 * f + 1] != 0, labels[3 * f + 2] != 0, {}};
}

namespace {

constexpr double missing = std::numeric_limits<double>::quiet_NaN();
constexpr const char* model_kind = "otfgp sparse GP model";

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

void write_frames(const SparseGp& gp, const hdf5::Group& group) {
  const int frames = gp.num_frames();
  std::vector<int> natoms, numbers, pbc, labels;
  std::vector<double> positions, cells, energy, forces, stress;
  for (int f = 0; f < frames; ++f) {
    const Structure& s = gp.frame(f);
    natoms.push_back(s.size());
    numbers.insert(numbers.end(), s.numbers.begin(), s.numbers.end());
    for (int i = 0; i < s.size(); ++i)
      for (int d = 0; d < 3; ++d) {
        positions.push_back(s.positions(i, d));
        forces.push_back(s.forces ? (*s.forces)(i, d) : missing);
      }
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) cells.push_back(s.cell(a, b));
    for (int d = 0; d < 3; ++d) pbc.push_back(s.pbc[d] ? 1 : 0);
    energy.push_back(s.energy ? *s.energy : missing);
    for (int k = 0; k < 6; ++k) stress.push_back(s.stress ? (*s.stress)[k] : missing);
    const LabelSelection& used = gp.frame_labels(f);
    labels.insert(labels.end(), {used.energy ? 1 : 0, used.forces ? 1 : 0, used.stress ? 1 : 0});
  }
  const auto f = static_cast<hsize_t>(frames);
  const auto atoms = static_cast<hsize_t>(numbers.size());
  group.write("natoms", natoms);
  group.write("numbers", numbers);
  group.write("positions", positions, {atoms, 3});
  group.write("cells", cells, {f, 3, 3});
  group.write("pbc", pbc, {f, 3});
  group.write("energy", energy, {f});
  group.write("forces", forces, {atoms, 3});
  group.write("stress", stress, {f, 6});
  group.write("labels_used", labels, {f, 3});
}

// /training/force_noise_scale, one per atom of every frame (1 where a frame
// has none), only when some frame has them (version 7).
void write_force_noise_scales(const SparseGp& gp, const hdf5::Group& group) {
  std::vector<double> scales;
  bool any = false;
  for (int f = 0; f < gp.num_frames(); ++f) {
    const std::vector<double>& frame = gp.frame_labels(f).force_noise_scale;
    any = any || !frame.empty();
    if (frame.empty())
      scales.insert(scales.end(), gp.frame(f).size(), 1.0);
    else
      scales.insert(scales.end(), frame.begin(), frame.end());
  }
  if (any) group.write("force_noise_scale", scales, {static_cast<hsize_t>(scales.size())});
}

// Puts /training/force_noise_scale, when present, into the frames' labels.
void read_force_noise_scales(const hdf5::Group& group, const std::vector<Structure>& frames,
                             std::vector<LabelSelection>& labels) {
  if (!group.contains("force_noise_scale")) return;
  const std::vector<double> scales = group.read_doubles("force_noise_scale");
  std::size_t atoms = 0;
  for (const Structure& frame : frames) atoms += frame.size();
  if (scales.size() != atoms)
    throw Error(group.file() + ": " + group.path() + "/force_noise_scale holds " +
                std::to_string(scales.size()) + " values for " + std::to_string(atoms) +
                " training atoms");
  auto next = scales.begin();
  for (std::size_t f = 0; f < frames.size(); ++f) {
    const auto end = next + frames[f].size();
    if (std::any_of(next, end, [](double s) { return s != 1.0; }))
      labels[f].force_noise_scale.assign(next, end);
    next = end;
  }
}

std::pair<std::vector<Structure>, std::vector<LabelSelection>> read_frames(
    const hdf5::Group& group) {
  const FrameArrays arrays = FrameArrays::read(group);
  const auto& [natoms, numbers, pbc, labels, positions, cells, energy, forces, stress] = arrays;
  const std::size_t frames = natoms.size();
  std::size_t total = 0;
  for (int n : natoms) total += n;
  if (numbers.size() != total || positions.size() != 3 * total || forces.size() != 3 * total ||
      cells.size() != 9 * frames || pbc.size() != 3 * frames || energy.size() != frames ||
      stress.size() != 6 * frames || labels.size() != 3 * frames)
    throw Error(group.file() + ": " + group.path() + " has datasets of inconsistent sizes");
  std::vector<Structure> structures(frames);
  std::vector<LabelSelection> used(frames);
  std::size_t atom = 0;
  for (std::size_t f = 0; f < frames; ++f) {
    structures[f] = arrays.frame(f, atom);
    used[f] = arrays.labels_used(f);
    const int n = natoms[f];
    atom += n;
  }
  return {std::move(structures), std::move(used)};
}

ForceUncertaintyCalibration read_calibration(const hdf5::Group& root) {
  ForceUncertaintyCalibration c;
  if (!root.contains("calibration")) return c;
  const hdf5::Group group = root.open_group("calibration");
  ForceStdTerms& t = c.pooled;
  t.energy_scale = group.double_attribute("energy_scale");
  t.floor = group.double_attribute("floor");
  t.relative = group.double_attribute("relative");
  if (group.has_attribute("neighbour_scale"))
    t.neighbour_scale = group.double_attribute("neighbour_scale");
  c.frames = group.int_attribute("frames");
  c.atoms = group.int_attribute("atoms");
  c.coverage_1 = group.double_attribute("coverage_1");
  c.coverage_2 = group.double_attribute("coverage_2");
  c.spearman = group.double_attribute("spearman");
  if (!(t.energy_scale >= 0) || !(t.floor >= 0) || !(t.relative >= 0) ||
      !(t.neighbour_scale >= 0) || c.frames < 1)
    throw Error(root.file() + ": /calibration: scales must be non-negative, frames at least 1");
  if (group.contains("species_terms")) {
    const Eigen::MatrixXd terms = group.read_matrix("species_terms");
    if (terms.cols() != 4 || !(terms.array() >= 0).all())
      throw Error(root.file() +
                  ": /calibration/species_terms must be species × 4 non-negative numbers");
    for (Eigen::Index s = 0; s < terms.rows(); ++s)
      c.species.push_back({terms(s, 0), terms(s, 1), terms(s, 2), terms(s, 3)});
  }
  return c;
}

void check_version(const hdf5::Group& root) {
  if (!root.has_attribute("format_version"))
    throw Error(root.file() + ": not an otfgp GP model (no format_version attribute)");
  const int version = root.int_attribute("format_version");
  if (version < 1 || version > gp_model_format_version)
    throw Error(root.file() + ": GP model format_version " + std::to_string(version) +
                ", this otfgp reads versions 1 to " + std::to_string(gp_model_format_version));
  const std::string kind = root.has_attribute("kind") ? root.string_attribute("kind") : "";
  if (kind != model_kind)
    throw Error(root.file() + ": the file's kind is '" + kind + "', not '" + model_kind +
                "': not an otfgp GP model");
  // Models written before checksums existed (format 1 and 2) still load, and
  // so does a copy without one (h5py drops otfgp's header and checksum), with
  // a warning from format 3 on, which every otfgp build wrote with a checksum.
  if (version >= 3 && !root.has_attribute("checksum"))  // a gp: spec may load a file twice
    warn_once(fmt::format(
        "{} has no checksum: not a file otfgp wrote (an h5py copy or edit?); its content is "
        "not checked, so an edited number would go unnoticed",
        root.file()));
  verify_hdf5_checksum(root, false);
}

GpHyperparameters read_hyperparameters(const hdf5::Group& root) {
  const hdf5::Group h = root.open_group("hyperparameters");
  GpHyperparameters values{h.double_attribute("signal_std"), h.double_attribute("energy_noise"),
                           h.double_attribute("force_noise"), h.double_attribute("stress_noise")};
  try {
    validate(values);
  } catch (const Error& error) {
    throw Error(root.file() + ": " + error.what());
  }
  return values;
}

std::string species_group_name(int z) {
  return element(z).symbol;
}

}  // namespace

void write_b2_settings(const B2Settings& settings, const hdf5::Group& group) {
  group.set_attribute("type", "b2");
  group.write("species", settings.species);
  group.set_attribute("n_max", settings.n_max);
  group.set_attribute("l_max", settings.l_max);
  group.set_attribute("r_min", settings.r_min);
  group.set_attribute("cutoff", settings.cutoff);
  std::vector<int> pairs;
  std::vector<double> values;
  for (const auto& [pair, value] : settings.pair_cutoffs) {
    pairs.insert(pairs.end(), {pair.first, pair.second});
    values.push_back(value);
  }
  group.write("pair_cutoff_species", pairs, {static_cast<hsize_t>(values.size()), 2});
  group.write("pair_cutoff_values", values, {static_cast<hsize_t>(values.size())});
  // Format 3: the species embedding W (channels × species), absent when species-resolved.
  if (settings.embedded()) group.write("embedding", settings.embedding);
  group.set_attribute("two_body", settings.two_body ? 1 : 0);  // format 4
}

B2Settings read_b2_settings(const hdf5::Group& group) {
  const std::string type = group.string_attribute("type");
  if (type != "b2") throw Error(group.file() + ": descriptor type '" + type + "', expected 'b2'");
  B2Settings settings;
  settings.species = group.read_ints("species");
  settings.n_max = group.int_attribute("n_max");
  settings.l_max = group.int_attribute("l_max");
  settings.r_min = group.double_attribute("r_min");
  settings.cutoff = group.double_attribute("cutoff");
  const std::vector<int> pairs = group.read_ints("pair_cutoff_species");
  const std::vector<double> values = group.read_doubles("pair_cutoff_values");
  if (pairs.size() != 2 * values.size())
    throw Error(group.file() + ": pair cutoffs of inconsistent sizes");
  for (std::size_t k = 0; k < values.size(); ++k)
    settings.pair_cutoffs[{pairs[2 * k], pairs[2 * k + 1]}] = values[k];
  if (group.contains("embedding")) settings.embedding = group.read_matrix("embedding");
  if (group.has_attribute("two_body")) settings.two_body = group.int_attribute("two_body") != 0;
  return settings;
}

namespace {

void write_kernel(const hdf5::Group& root, const Kernel& kernel) {
  const hdf5::Group group = root.create_group("kernel");
  group.set_attribute("type", kernel.name());
  group.set_attribute("power", kernel.power());
  group.set_attribute("two_body_columns", kernel.two_body_columns());  // format 4
  group.set_attribute("two_body_weight", kernel.two_body_weight());
  // An experiment (kernel.hpp); written only when present, so other files stay as they were.
  if (kernel.three_body_weight() > 0.0)
    group.set_attribute("three_body_weight", kernel.three_body_weight());
}

GpModelKernel read_kernel(const hdf5::Group& root) {
  const hdf5::Group group = root.open_group("kernel");
  GpModelKernel kernel{group.string_attribute("type"), group.int_attribute("power")};
  if (group.has_attribute("two_body_weight"))
    kernel.two_body_weight = group.double_attribute("two_body_weight");
  if (group.has_attribute("three_body_weight"))
    kernel.three_body_weight = group.double_attribute("three_body_weight");
  return kernel;
}

int read_two_body_columns(const hdf5::Group& root) {
  const hdf5::Group group = root.open_group("kernel");
  return group.has_attribute("two_body_columns") ? group.int_attribute("two_body_columns") : 0;
}

void write_hyperparameters(const hdf5::Group& root, const GpHyperparameters& values) {
  const hdf5::Group h = root.create_group("hyperparameters");
  h.set_attribute("signal_std", values.signal_std);
  h.set_attribute("energy_noise", values.energy_noise);
  h.set_attribute("force_noise", values.force_noise);
  h.set_attribute("stress_noise", values.stress_noise);
  h.set_attribute("energy_noise_convention",
                  "per atom: a total energy of N atoms has noise energy_noise*sqrt(N)");
}

void write_sparse_set(const hdf5::Group& root, const SparseGp& gp) {
  const hdf5::Group sparse = root.create_group("sparse");
  sparse.write("descriptors", gp.sparse_descriptors());
  sparse.write("species", gp.sparse_species());
  std::vector<int> frames, atoms;
  for (const auto& source : gp.sparse_sources()) {
    frames.push_back(source.frame);
    atoms.push_back(source.atom);
  }
  sparse.write("source_frame", frames);
  sparse.write("source_atom", atoms);
}

void write_solution(const hdf5::Group& root, const SparseGp& gp) {
  const SparseGp::Solution& solution = gp.solution();
  const hdf5::Group group = root.create_group("solution");
  group.write("alpha", solution.alpha);
  group.write("r", solution.r);
  group.write("z", solution.z);
  group.set_attribute("data_fit", solution.data_fit);
  group.set_attribute("split_conditioning", gp.split_conditioning() ? 1 : 0);
  if (solution.r_variance.size() > 0) group.write("r_variance", solution.r_variance);
  group.set_attribute("log_marginal_likelihood", gp.log_marginal_likelihood_value());
}

void write_factors(const hdf5::Group& root, const SparseGp::Factors& factors) {
  const hdf5::Group group = root.create_group("factors");
  group.set_attribute("energy_log_atoms", factors.energy_log_atoms);
  if (factors.force_log_scales != 0.0)
    group.set_attribute("force_log_scales", factors.force_log_scales);
  group.write("kernel_factor", factors.kernel_factor);
  for (int g = 0; g < SparseGp::Factors::factor_count; ++g) {
    const GrowingQr& qr = factors.factor(g);
    const hdf5::Group kind = group.create_group(SparseGp::Factors::factor_name(g));
    kind.set_attribute("rows", qr.rows());
    kind.set_attribute("residual_squared_norm", qr.residual_squared_norm());
    kind.set_attribute("rhs_squared_norm", qr.rhs_squared_norm());
    kind.write("r", qr.r());
    kind.write("z", qr.z());
    // Version 5: the rest of Qᵀb, so that a checkpoint's factor can grow again
    // (with the Householder blocks of factor_journal.hpp).
    if (qr.residual().size() == qr.rows()) kind.write("residual", qr.residual());
  }
}

// What load_mapped_gp reads: the model's mapped form (kernels with a quadratic map only).
void write_mapped(const hdf5::Group& root, const SparseGp& gp) {
  const std::vector<int>& species = gp.descriptor().species();
  const MappedGp mapped = gp.mapped();
  const hdf5::Group group = root.create_group("mapped");
  for (std::size_t s = 0; s < species.size(); ++s) {
    const hdf5::Group one = group.create_group(species_group_name(species[s]));
    one.write("beta", mapped.beta[s]);
    one.write("sparse_normalised", mapped.sparse_normalised[s]);
    one.write("variance_factor", mapped.variance_factor[s]);
    if (!mapped.two_body.empty()) {  // format 4
      one.write("two_body", mapped.two_body[s]);
      one.write("sparse_two_body", mapped.sparse_two_body[s]);
    }
    if (!mapped.three_body.empty()) {  // format 5
      one.write("three_body", mapped.three_body[s]);
      one.write("sparse_norm", mapped.sparse_norm[s]);
    }
  }
  group.set_attribute("two_body_weight", mapped.two_body_weight);
  if (mapped.three_body_weight > 0.0)
    group.set_attribute("three_body_weight", mapped.three_body_weight);
  if (mapped.energy_variance_factor.size() > 0)
    group.write("energy_variance_factor", mapped.energy_variance_factor);
}

void write_calibration(const hdf5::Group& root, const ForceUncertaintyCalibration& c) {
  const hdf5::Group group = root.create_group("calibration");
  group.set_attribute("energy_scale", c.pooled.energy_scale);
  group.set_attribute("floor", c.pooled.floor);
  group.set_attribute("relative", c.pooled.relative);
  group.set_attribute("neighbour_scale", c.pooled.neighbour_scale);
  group.set_attribute("frames", c.frames);
  group.set_attribute("atoms", c.atoms);
  group.set_attribute("coverage_1", c.coverage_1);
  group.set_attribute("coverage_2", c.coverage_2);
  group.set_attribute("spearman", c.spearman);
  if (!c.species.empty()) {
    Eigen::MatrixXd terms(c.species.size(), 4);
    for (std::size_t s = 0; s < c.species.size(); ++s)
      terms.row(s) << c.species[s].energy_scale, c.species[s].floor, c.species[s].relative,
          c.species[s].neighbour_scale;
    group.write("species_terms", terms);
  }
  group.set_attribute("formula",
                      "force std per component = sqrt((energy_scale*u)^2 + "
                      "(neighbour_scale*v)^2 + floor^2 + (relative*|F|)^2), u = local-energy "
                      "std (eV), v^2 = sum over neighbours j of w(r_ij) u_j^2, w(r) = "
                      "(cos(pi r/r_cut) + 1)/2; an atom of descriptor species s uses row s of "
                      "species_terms (energy_scale, floor, relative, neighbour_scale) where "
                      "that dataset exists");
}

void save_model(const std::filesystem::path& path, const SparseGp& gp,
                const DescriptorFormat& format, bool with_frames) {
  check_writable(path);
  // In memory until close() writes the whole image (temporary + rename).
  hdf5::File file = hdf5::File::create(path);
  file.set_attribute("format_version", gp_model_format_version);
  file.set_attribute("kind", model_kind);
  file.set_attribute("otfgp_version", version);
  file.set_attribute("created", utc_now());
  file.write("species", gp.descriptor().species());
  format.write(gp.descriptor(), file.create_group("descriptor"));
  write_kernel(file, gp.kernel());
  write_hyperparameters(file, gp.hyperparameters());
  file.write("reference_energies", gp.reference_energies());
  write_sparse_set(file, gp);
  write_solution(file, gp);
  write_factors(file, gp.factors());
  // A checkpoint's model (without frames) is only ever loaded whole, and the
  // mapped form follows from the solve bit for bit; leaving it out (β alone is
  // species × D² doubles) makes the file a fraction of the size.
  if (with_frames && gp.kernel().has_quadratic_map()) write_mapped(file, gp);
  if (gp.force_calibration().valid()) write_calibration(file, gp.force_calibration());
  const hdf5::Group novelty = file.create_group("novelty");
  novelty.write("shortest_pair_distance", gp.shortest_pair_distance());
  novelty.write("density_range", gp.density_range());
  novelty.write("isolated_atoms", gp.isolated_atoms());
  const hdf5::Group training = file.create_group("training");
  if (with_frames) {
    write_frames(gp, training);
  } else {
    training.set_attribute("external_frames", gp.num_frames());
  }
  write_force_noise_scales(gp, training);
  write_hdf5_checksum(file);
  file.close();
}

}  // namespace

void save_gp_model(const std::filesystem::path& path, const SparseGp& gp,
                   const DescriptorFormat& format) {
  save_model(path, gp, format, true);
}

void save_gp_model_without_frames(const std::filesystem::path& path, const SparseGp& gp,
                                  const DescriptorFormat& format) {
  save_model(path, gp, format, false);
}

namespace {

using FramesAndLabels = std::pair<std::vector<Structure>, std::vector<LabelSelection>>;

// /factors: the growing QR factors of every label kind and the splits.
SparseGp::Factors read_factors(const hdf5::Group& group) {
  SparseGp::Factors factors;
  factors.energy_log_atoms = group.double_attribute("energy_log_atoms");
  if (group.has_attribute("force_log_scales"))
    factors.force_log_scales = group.double_attribute("force_log_scales");
  factors.kernel_factor = group.read_matrix("kernel_factor");
  for (int g = 0; g < SparseGp::Factors::factor_count; ++g) {
    const hdf5::Group kind = group.open_group(SparseGp::Factors::factor_name(g));
    factors.factor(g) = GrowingQr::restored(
        kind.read_matrix("r"), kind.read_vector("z"),
        kind.double_attribute("residual_squared_norm"), kind.double_attribute("rhs_squared_norm"),
        kind.int_attribute("rows"),
        kind.contains("residual") ? kind.read_vector("residual") : Eigen::VectorXd());
  }
  return factors;
}

// /solution: α, the triangle and right-hand side of the last solve, its data fit.
SparseGp::Solution read_solution(const hdf5::Group& group) {
  SparseGp::Solution solution;
  solution.alpha = group.read_vector("alpha");
  solution.r = group.read_matrix("r");
  solution.z = group.read_vector("z");
  solution.data_fit = group.double_attribute("data_fit");
  if (group.contains("r_variance")) solution.r_variance = group.read_matrix("r_variance");
  return solution;
}

SparseGp load_model(const std::filesystem::path& path, const DescriptorFormat& format,
                    FramesAndLabels* external) {
  const hdf5::File file = hdf5::File::open(path);
  check_version(file);
  const hdf5::Group descriptor_group = file.open_group("descriptor");
  const std::string type = descriptor_group.string_attribute("type");
  if (type != format.type())
    throw Error(path.string() + ": descriptor type '" + type + "', this reader knows '" +
                format.type() + "'");
  std::shared_ptr<const Descriptor> descriptor = format.read(descriptor_group);
  if (file.read_ints("species") != descriptor->species())
    throw Error(path.string() + ": /species disagrees with the descriptor's species");
  const GpModelKernel kernel_kind = read_kernel(file);
  std::shared_ptr<const Kernel> kernel;
  try {
    kernel = make_kernel(kernel_kind.type, kernel_kind.power, read_two_body_columns(file),
                         kernel_kind.two_body_weight, kernel_kind.three_body_weight);
  } catch (const Error& error) {
    throw Error(path.string() + ": " + error.what());
  }
  SparseGp gp = [&] {
    try {
      return SparseGp(descriptor, kernel, read_hyperparameters(file),
                      file.read_vector("reference_energies"));
    } catch (const Error& error) {
      throw Error(path.string() + ": " + error.what());
    }
  }();

  const hdf5::Group sparse = file.open_group("sparse");
  const Eigen::MatrixXd sparse_descriptors = sparse.read_matrix("descriptors");
  const std::vector<int> sparse_species = sparse.read_ints("species");
  const std::vector<int> source_frame = sparse.read_ints("source_frame");
  const std::vector<int> source_atom = sparse.read_ints("source_atom");
  if (source_frame.size() != sparse_species.size() || source_atom.size() != sparse_species.size())
    throw Error(path.string() + ": /sparse datasets of inconsistent sizes");
  for (int s : sparse_species)
    if (s < 0 || s >= gp.num_species())
      throw Error(path.string() + ": /sparse/species out of range");
  std::vector<SparseEnvironmentSource> sources;
  for (std::size_t k = 0; k < source_frame.size(); ++k)
    sources.push_back({source_frame[k], source_atom[k]});

  SparseGp::Factors factors = [&] {
    try {
      return read_factors(file.open_group("factors"));
    } catch (const std::invalid_argument& error) {
      throw Error(path.string() + ": /factors: " + error.what());
    }
  }();
  const hdf5::Group solution_group = file.open_group("solution");
  SparseGp::Solution solution = read_solution(solution_group);
  gp.set_split_conditioning(solution_group.int_attribute("split_conditioning") != 0);
  const hdf5::Group training = file.open_group("training");
  FramesAndLabels stored;
  if (training.has_attribute("external_frames")) {
    if (!external)
      throw Error(path.string() +
                  ": the model's training frames live in its training database (otfgp otf); "
                  "load it with them");
    const int count = training.int_attribute("external_frames");
    if (static_cast<int>(external->first.size()) != count ||
        external->second.size() != external->first.size())
      throw Error(path.string() + ": the model was trained on " + std::to_string(count) +
                  " frames, " + std::to_string(external->first.size()) + " given");
    stored = std::move(*external);
  } else {
    stored = read_frames(training);
  }
  auto& [frames, labels] = stored;
  read_force_noise_scales(training, frames, labels);
  gp.restore(std::move(frames), std::move(labels), sparse_descriptors, sparse_species,
             std::move(sources), std::move(factors), std::move(solution));
  gp.set_force_calibration(read_calibration(file));
  return gp;
}

// /mapped/<El> for every species, checked against the descriptor: β, the
// sparse rows, the variance factor and (with the two-body block) its map.
void read_mapped_species(const hdf5::Group& group, const std::filesystem::path& path,
                         MappedGp& mapped) {
  const int size = mapped.descriptor.power_spectrum_size();
  const int pairs = mapped.descriptor.two_body_size();
  if (pairs > 0) mapped.two_body_weight = group.double_attribute("two_body_weight");
  if (group.has_attribute("three_body_weight"))
    mapped.three_body_weight = group.double_attribute("three_body_weight");
  for (int z : mapped.descriptor.species) {
    const hdf5::Group one = group.open_group(species_group_name(z));
    mapped.beta.push_back(one.read_matrix("beta"));
    mapped.sparse_normalised.push_back(one.read_matrix("sparse_normalised"));
    mapped.variance_factor.push_back(one.read_matrix("variance_factor"));
    const std::string where = path.string() + ": /mapped/" + species_group_name(z);
    const Eigen::MatrixXd &beta = mapped.beta.back(), &sparse = mapped.sparse_normalised.back(),
                          &variance = mapped.variance_factor.back();
    if (beta.rows() != size || beta.cols() != size)
      throw Error(where + "/beta has shape (" + std::to_string(beta.rows()) + ", " +
                  std::to_string(beta.cols()) + "), the descriptor needs (" + std::to_string(size) +
                  ", " + std::to_string(size) + ")");
    if (sparse.rows() > 0 && sparse.cols() != size)
      throw Error(where + "/sparse_normalised has " + std::to_string(sparse.cols()) +
                  " columns, the descriptor needs " + std::to_string(size));
    if (variance.rows() > sparse.rows() || variance.cols() != sparse.rows())
      throw Error(where + "/variance_factor does not match sparse_normalised");
    if (!beta.allFinite() || !sparse.allFinite() || !variance.allFinite())
      throw Error(where + ": non-finite values");
    if (mapped.three_body_weight > 0.0) {
      mapped.three_body.push_back(one.read_vector("three_body"));
      mapped.sparse_norm.push_back(one.read_vector("sparse_norm"));
      if (mapped.three_body.back().size() != size ||
          mapped.sparse_norm.back().size() != sparse.rows())
        throw Error(where + "/three_body must hold " + std::to_string(size) +
                    " numbers and sparse_norm one per sparse point");
    }
    if (pairs == 0) continue;
    const Eigen::VectorXd two_body = one.read_vector("two_body");
    mapped.sparse_two_body.push_back(one.read_matrix("sparse_two_body"));
    if (two_body.size() != pairs || mapped.sparse_two_body.back().rows() != sparse.rows() ||
        (sparse.rows() > 0 && mapped.sparse_two_body.back().cols() != pairs))
      throw Error(where + "/two_body must hold " + std::to_string(pairs) +
                  " numbers and sparse_two_body one row of as many per sparse point");
    mapped.two_body.push_back(two_body);
  }
}

}  // namespace

SparseGp load_gp_model(const std::filesystem::path& path, const DescriptorFormat& format) {
  return load_model(path, format, nullptr);
}

SparseGp load_gp_model(const std::filesystem::path& path, std::vector<Structure> frames,
                       std::vector<LabelSelection> labels, const DescriptorFormat& format) {
  FramesAndLabels external{std::move(frames), std::move(labels)};
  return load_model(path, format, &external);
}

MappedGp load_mapped_gp(const std::filesystem::path& path) {
  const hdf5::File file = hdf5::File::open(path);
  check_version(file);
  MappedGp mapped;
  mapped.descriptor = read_b2_settings(file.open_group("descriptor"));
  const GpHyperparameters hyperparameters = read_hyperparameters(file);
  mapped.signal_std = hyperparameters.signal_std;
  mapped.force_noise = hyperparameters.force_noise;
  const Eigen::VectorXd reference = file.read_vector("reference_energies");
  mapped.reference_energy.assign(reference.data(), reference.data() + reference.size());
  if (mapped.reference_energy.size() != mapped.descriptor.species.size())
    throw Error(path.string() + ": one reference energy per species expected");
  if (!file.contains("mapped")) {
    if (file.contains("training") && file.open_group("training").has_attribute("external_frames"))
      throw Error(path.string() +
                  ": a checkpoint model of otfgp otf (its frames in the training database, no "
                  "mapped form): use the run's model.h5");
    throw Error(path.string() + ": the model's kernel (" + read_kernel(file).description() +
                ") has no mapped form; evaluate it with gp:" + path.string() + ",mapped=no");
  }
  if (file.read_ints("species") != mapped.descriptor.species)
    throw Error(path.string() + ": /species disagrees with the descriptor's species");
  const hdf5::Group group = file.open_group("mapped");
  read_mapped_species(group, path, mapped);
  if (group.contains("energy_variance_factor")) {
    mapped.energy_variance_factor = group.read_matrix("energy_variance_factor");
    Eigen::Index total = 0;
    for (const Eigen::MatrixXd& sparse : mapped.sparse_normalised) total += sparse.rows();
    if (mapped.energy_variance_factor.cols() != total ||
        mapped.energy_variance_factor.rows() > total || !mapped.energy_variance_factor.allFinite())
      throw Error(path.string() + ": /mapped/energy_variance_factor must be (rank ≤ " +
                  std::to_string(total) + ") × " + std::to_string(total) + " and finite");
  }
  mapped.force_calibration = read_calibration(file);
  const std::size_t n = mapped.descriptor.species.size();
  const bool stored = file.contains("novelty");
  if (stored) {
    const hdf5::Group novelty = file.open_group("novelty");
    mapped.shortest_pair_distance = novelty.read_matrix("shortest_pair_distance");
    if (mapped.shortest_pair_distance.rows() != Eigen::Index(n) ||
        mapped.shortest_pair_distance.cols() != Eigen::Index(n))
      throw Error(path.string() + ": /novelty/shortest_pair_distance must be species × species");
    if (novelty.contains("density_range")) {
      mapped.density_range = novelty.read_matrix("density_range");
      if (mapped.density_range.rows() != Eigen::Index(n) || mapped.density_range.cols() != 2)
        throw Error(path.string() + ": /novelty/density_range must be species × 2");
      // Files written before 2026-12-01 did not count isolated training atoms:
      // taken as none (a model trained on condensed frames, almost always).
      mapped.isolated_atoms = Eigen::VectorXd::Zero(Eigen::Index(n));
      if (novelty.contains("isolated_atoms")) {
        mapped.isolated_atoms = novelty.read_vector("isolated_atoms");
        if (mapped.isolated_atoms.size() != Eigen::Index(n) ||
            !(mapped.isolated_atoms.array() >= 0.0).all())
          throw Error(path.string() + ": /novelty/isolated_atoms must be species counts (≥ 0)");
      }
      return mapped;
    }
  }
  // Written before these datasets existed: from the stored training frames.
  // A checkpoint model written then (frames in the otf database) has the
  // distances; it keeps no density range and gets no such check.
  const hdf5::Group training = file.open_group("training");
  if (training.has_attribute("external_frames")) return mapped;
  const B2Descriptor descriptor(mapped.descriptor);
  NoveltyReference novelty(static_cast<int>(n));
  for (const Structure& frame : read_frames(training).first) {
    AtomState state = AtomState::from_structure(frame);
    NeighborList list(descriptor.cutoff(), 0.0);
    list.build(state);
    novelty.add(descriptor.compute(state, list, false), descriptor);
  }
  if (!stored) mapped.shortest_pair_distance = novelty.shortest_pair_distance;
  mapped.density_range = novelty.density_range;
  mapped.isolated_atoms = novelty.isolated_atoms;
  return mapped;
}

std::string GpModelKernel::description() const {
  std::string text = type + ", power " + std::to_string(power);
  if (two_body_weight > 0.0) text += ", two-body weight " + format_significant(two_body_weight, 6);
  if (three_body_weight > 0.0)
    text += ", three-body weight " + format_significant(three_body_weight, 6);
  return text;
}

GpModelKernel gp_model_kernel(const std::filesystem::path& path) {
  const hdf5::File file = hdf5::File::open(path);
  check_version(file);
  GpModelKernel kernel = read_kernel(file);
  kernel.mapped_form = file.contains("mapped");
  return kernel;
}

}  // namespace otfgp
