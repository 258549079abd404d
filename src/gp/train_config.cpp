#include "otfgp/gp/train_config.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/config.hpp"
#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/core/number_text.hpp"

namespace otfgp {

namespace {

const std::vector<std::string> hyperparameter_keys = {"signal_std", "energy_noise", "force_noise",
                                                      "stress_noise"};

int element_of(const ConfigSection& section, const std::string& key, const std::string& symbol) {
  const int z = find_atomic_number(symbol);
  if (z == 0) section.fail(key, unknown_element_text(symbol));
  return z;
}

double positive(const ConfigSection& section, const std::string& key, double fallback) {
  const double value = section.number(key, fallback);
  if (!(value > 0)) section.fail(key, "must be a positive number");
  return value;
}

void read_hyperparameter_values(ConfigSection section, GpHyperparameters& h) {
  section.expect_keys(hyperparameter_keys);
  h.signal_std = positive(section, "signal_std", h.signal_std);
  h.energy_noise = positive(section, "energy_noise", h.energy_noise);
  h.force_noise = positive(section, "force_noise", h.force_noise);
  h.stress_noise = positive(section, "stress_noise", h.stress_noise);
  section.finish();
}

// The descriptor defaults that depend on the number of species S (see
// default_gp_train_config): measured in docs/BENCHMARKS.md "Training defaults".
void set_species_defaults(B2Settings& b2) {
  const int n = static_cast<int>(b2.species.size());
  const B2Settings plain;
  b2.n_max = n == 1 ? plain.n_max : n == 2 ? 6 : 4;
  b2.l_max = n == 1 ? plain.l_max : n == 2 ? 3 : 4;
  b2.embedding = n > 2 ? species_embedding("elements", b2.species, 2, 1.0) : plain.embedding;
}

// descriptor.embedding: type resolved | elements (channels, contrast) |
// weights (one list of channel weights per species).
void read_embedding(ConfigSection e, B2Settings& b2) {
  e.expect_keys({"type", "channels", "contrast", "weights"});
  const std::string type = e.choice("type", {"resolved", "elements", "weights"}, "resolved");
  const int n = static_cast<int>(b2.species.size());
  if (type == "resolved") {
    b2.embedding.resize(0, 0);
  } else if (type == "elements") {
    const long channels = e.integer("channels", std::min(n, 2));
    if (channels < 1 || channels > n)
      e.fail("channels", "must be between 1 and the number of species (" + std::to_string(n) + ")");
    const double contrast = e.number("contrast", 1.0);
    if (!(contrast > 0.0)) e.fail("contrast", "must be a positive number");
    try {
      b2.embedding =
          species_embedding("elements", b2.species, static_cast<int>(channels), contrast);
    } catch (const Error& error) {
      e.fail("channels", error.what());
    }
  } else {
    ConfigSection weights = e.section("weights");
    Eigen::MatrixXd w;
    std::vector<bool> seen(n, false);
    for (const auto& entry : weights.node()) {
      const std::string symbol = entry.first.Scalar();
      const int z = element_of(weights, symbol, symbol);
      const auto found = std::lower_bound(b2.species.begin(), b2.species.end(), z);
      if (found == b2.species.end() || *found != z)
        weights.fail(symbol, "is not among the model's species");
      const std::vector<double> row = weights.numbers(symbol);
      if (w.size() == 0) w.setZero(static_cast<Eigen::Index>(row.size()), n);
      if (row.empty() || static_cast<Eigen::Index>(row.size()) != w.rows())
        weights.fail(symbol, "every species needs the same number of channel weights (" +
                                 std::to_string(w.rows()) + ")");
      const auto s = found - b2.species.begin();
      for (std::size_t c = 0; c < row.size(); ++c) w(static_cast<Eigen::Index>(c), s) = row[c];
      seen[s] = true;
    }
    for (int s = 0; s < n; ++s)
      if (!seen[s])
        e.fail("weights", std::string("no weights for ") + element(b2.species[s]).symbol);
    b2.embedding = w;
  }
  e.finish("with embedding type " + type +
           (e.has("type") ? "" : " (`type` not given; channels and contrast need type: elements)"));
}

void read_descriptor(ConfigSection d, B2Settings& b2) {
  d.expect_keys({"type", "n_max", "l_max", "r_min", "cutoff", "pair_cutoffs", "embedding"});
  d.choice("type", {"b2"}, "b2");
  b2.n_max = static_cast<int>(d.integer("n_max", b2.n_max));
  b2.l_max = static_cast<int>(d.integer("l_max", b2.l_max));
  b2.r_min = d.number("r_min", b2.r_min);
  b2.cutoff = d.number("cutoff", b2.cutoff);
  if (auto pairs = d.optional_section("pair_cutoffs")) {
    // Keys are species pairs such as Ba-O; every one is read, so none is "unknown".
    for (const auto& entry : pairs->node()) {
      const std::string pair = entry.first.Scalar();
      const auto dash = pair.find('-');
      if (dash == std::string::npos) pairs->fail(pair, "expected a species pair like Ba-O");
      const int a = element_of(*pairs, pair, pair.substr(0, dash));
      const int b = element_of(*pairs, pair, pair.substr(dash + 1));
      b2.pair_cutoffs[std::minmax(a, b)] = pairs->number(pair);
    }
  }
  if (auto e = d.optional_section("embedding")) read_embedding(*e, b2);
  d.finish();
}

void read_sparse(ConfigSection s, GpTrainingSettings& t, bool& count_auto) {
  s.expect_keys({"method", "count", "total", "threshold", "seed", "min_residual", "replay"});
  t.sparse.method =
      parse_sparse_selection_method(s.choice("method", {"all", "random", "uncertain", "threshold"},
                                             sparse_selection_method_name(t.sparse.method)));
  const std::string context =
      std::string("with sparse method ") + sparse_selection_method_name(t.sparse.method);
  if (t.sparse.method != SparseSelectionMethod::all && s.has("count")) {
    t.sparse.count = static_cast<int>(s.integer("count"));
    if (t.sparse.count < 0) s.fail("count", "must not be negative");
    count_auto = false;
  }
  if (t.sparse.method == SparseSelectionMethod::random) {
    t.sparse.total = static_cast<int>(s.integer("total", t.sparse.total));
    if (t.sparse.total < 0) s.fail("total", "must not be negative");
  }
  if (t.sparse.method == SparseSelectionMethod::threshold) {
    t.sparse.threshold = s.number("threshold", t.sparse.threshold);
    if (!(t.sparse.threshold >= 0)) s.fail("threshold", "must not be negative");
  }
  if (needs_uncertainty(t.sparse.method)) t.replay = s.flag("replay", t.replay);
  t.sparse.seed = static_cast<std::uint64_t>(s.integer("seed", static_cast<long>(t.sparse.seed)));
  t.min_residual = s.number("min_residual", t.min_residual);
  if (!(t.min_residual >= 0) || t.min_residual >= 1) s.fail("min_residual", "must be in [0, 1)");
  s.finish(context);
}

// The species list: every element of the training data, each once.
std::vector<int> read_species(const ConfigSection& root, const std::vector<int>& data_species) {
  std::vector<int> species;
  for (const auto& symbol : root.texts("species"))
    species.push_back(element_of(root, "species", symbol));
  std::sort(species.begin(), species.end());
  if (std::adjacent_find(species.begin(), species.end()) != species.end())
    root.fail("species", "an element is listed twice");
  for (int z : data_species)
    if (!std::binary_search(species.begin(), species.end(), z))
      root.fail("species", std::string("the training data contain ") + element(z).symbol +
                               ", which is not listed");
  return species;
}

void read_kernel(ConfigSection k, GpTrainConfig& config) {
  k.expect_keys({"type", "power", "two_body", "three_body"});
  k.choice("type", {"normalized_dot_product"}, "normalized_dot_product");
  config.kernel_power = static_cast<int>(k.integer("power", config.kernel_power));
  if (config.kernel_power != 1 && config.kernel_power != 2) k.fail("power", "must be 1 or 2");
  if (k.has("two_body")) {
    if (k.text("two_body", "") == "auto") {
      config.two_body_auto = true;
    } else {
      config.two_body_weight = k.number("two_body", 0.0);
      if (!(config.two_body_weight >= 0.0))
        k.fail("two_body", "must be a non-negative weight (Å⁻⁴; 0: none) or 'auto'");
    }
    config.descriptor.two_body = config.two_body_auto || config.two_body_weight > 0.0;
  }
  config.three_body_weight = k.number("three_body", 0.0);
  if (!(std::isfinite(config.three_body_weight) && config.three_body_weight >= 0.0))
    k.fail("three_body", "must be a non-negative weight (1/b², 0: none)");
  k.finish();
}

void read_hyperparameters(ConfigSection h, GpTrainingSettings& t) {
  std::vector<std::string> keys = hyperparameter_keys;
  keys.insert(keys.end(), {"optimize", "max_evaluations", "tolerance", "lower", "upper"});
  h.expect_keys(keys);
  t.hyperparameters.signal_std = positive(h, "signal_std", t.hyperparameters.signal_std);
  t.hyperparameters.energy_noise = positive(h, "energy_noise", t.hyperparameters.energy_noise);
  t.hyperparameters.force_noise = positive(h, "force_noise", t.hyperparameters.force_noise);
  t.hyperparameters.stress_noise = positive(h, "stress_noise", t.hyperparameters.stress_noise);
  t.optimize_hyperparameters = h.flag("optimize", t.optimize_hyperparameters);
  if (t.optimize_hyperparameters) {
    t.optimization.max_evaluations =
        static_cast<int>(h.integer("max_evaluations", t.optimization.max_evaluations));
    if (t.optimization.max_evaluations < 1) h.fail("max_evaluations", "must be at least 1");
    t.optimization.relative_tolerance = positive(h, "tolerance", t.optimization.relative_tolerance);
    if (auto lower = h.optional_section("lower"))
      read_hyperparameter_values(*lower, t.optimization.lower);
    if (auto upper = h.optional_section("upper"))
      read_hyperparameter_values(*upper, t.optimization.upper);
  }
  h.finish("with optimize: false");
}

void read_labels(ConfigSection l, GpTrainingSettings& t) {
  l.expect_keys({"energy", "forces", "stress"});
  t.labels.energy = l.flag("energy", t.labels.energy);
  t.labels.forces = l.flag("forces", t.labels.forces);
  t.labels.stress = l.flag("stress", t.labels.stress);
  if (!t.labels.energy && !t.labels.forces && !t.labels.stress)
    throw Error(l.location() +
                ": labels: energy, forces and stress are all off: the model would learn nothing");
  l.finish();
}

void read_calibration(ConfigSection c, GpTrainingSettings& t) {
  c.expect_keys({"holdout"});
  t.calibration_holdout = c.number("holdout", t.calibration_holdout);
  if (!(t.calibration_holdout >= 0.0 && t.calibration_holdout < 0.5))
    c.fail("holdout", "must be in [0, 0.5) (0: no calibration)");
  c.finish();
}

// reference_energies: "fit", or an energy (eV) for every species.
void read_reference_energies(const ConfigSection& root, GpTrainConfig& config) {
  if (root.node()["reference_energies"].IsScalar()) {
    root.choice("reference_energies", {"fit"});
    return;
  }
  ConfigSection given = root.section("reference_energies");
  const std::vector<int>& species = config.descriptor.species;
  for (const auto& entry : given.node()) {
    const std::string symbol = entry.first.Scalar();
    const int z = element_of(given, symbol, symbol);
    if (!std::binary_search(species.begin(), species.end(), z))
      given.fail(symbol, symbol + " is not among the species");
    config.reference_energies[z] = given.number(symbol);
  }
  for (int z : species)
    if (!config.reference_energies.count(z))
      root.fail("reference_energies", std::string("no energy given for ") + element(z).symbol);
}

GpTrainConfig parse(ConfigSection root, const std::vector<int>& data_species) {
  GpTrainConfig config = default_gp_train_config(data_species);
  root.expect_keys({"species", "descriptor", "kernel", "hyperparameters", "labels", "sparse",
                    "calibration", "reference_energies"});
  if (root.has("species")) {
    config.descriptor.species = read_species(root, data_species);
    set_species_defaults(config.descriptor);
  }
  const std::optional<ConfigSection> d = root.optional_section("descriptor");
  if (d) read_descriptor(*d, config.descriptor);
  // A bad value named by its key and line (model.descriptor.cutoff: 0).
  config.descriptor.validate([&](const std::string& field, const std::string& message) {
    if (d && d->has(field)) d->fail(field, message);
    if (d && field == "cutoff" && d->has("r_min"))  // the default cutoff, below r_min
      d->fail("r_min",
              "must be below the cutoff (" + format_significant(config.descriptor.cutoff, 6) +
                  " Å, its default), got " + format_significant(config.descriptor.r_min, 6));
    if (field == "species" && root.has("species")) root.fail("species", message);
    throw Error(root.file() + ": B2 descriptor: " + field + " " + message);
  });
  if (auto k = root.optional_section("kernel")) read_kernel(*k, config);
  GpTrainingSettings& t = config.training;
  if (auto h = root.optional_section("hyperparameters")) read_hyperparameters(*h, t);
  if (auto l = root.optional_section("labels")) read_labels(*l, t);
  if (auto s = root.optional_section("sparse")) read_sparse(*s, t, config.sparse_count_auto);
  if (auto c = root.optional_section("calibration")) read_calibration(*c, t);
  if (root.has("reference_energies")) read_reference_energies(root, config);
  root.finish();
  return config;
}

}  // namespace

GpTrainConfig default_gp_train_config(const std::vector<int>& data_species) {
  GpTrainConfig config;
  config.descriptor.species = data_species;
  std::sort(config.descriptor.species.begin(), config.descriptor.species.end());
  set_species_defaults(config.descriptor);
  config.training.sparse.method = SparseSelectionMethod::uncertain;
  config.training.hyperparameters = {1.0, 0.001, 0.05, 0.001};
  config.training.calibration_holdout = 0.2;
  return config;
}

GpTrainConfig parse_gp_train_config(const std::string& text, const std::string& source,
                                    const std::vector<int>& data_species) {
  return parse(ConfigSection::parse(text, source), data_species);
}

GpTrainConfig read_gp_train_config(const std::filesystem::path& path,
                                   const std::vector<int>& data_species) {
  return parse(ConfigSection::load(path), data_species);
}

GpTrainConfig read_gp_train_config(ConfigSection section, const std::vector<int>& data_species) {
  return parse(std::move(section), data_species);
}

std::shared_ptr<const B2Descriptor> make_gp_descriptor(const GpTrainConfig& config) {
  return std::make_shared<B2Descriptor>(config.descriptor);
}

std::shared_ptr<const Kernel> make_gp_kernel(const GpTrainConfig& config) {
  return std::make_shared<NormalizedDotProductKernel>(
      config.kernel_power, config.descriptor.two_body_size(), config.two_body_weight,
      config.three_body_weight);
}

GpTrainingSettings gp_training_settings(const GpTrainConfig& config) {
  GpTrainingSettings settings = config.training;
  if (!config.reference_energies.empty()) {
    Eigen::VectorXd given(config.descriptor.species.size());
    for (std::size_t s = 0; s < config.descriptor.species.size(); ++s)
      given[s] = config.reference_energies.at(config.descriptor.species[s]);
    settings.reference_energies = given;
  }
  return settings;
}

SparseGp train_sparse_gp(const GpTrainConfig& config, const std::vector<Structure>& frames,
                         GpTrainingReport* report) {
  if (config.two_body_auto) {
    std::optional<SparseGp> best;
    choose_two_body_weight(config, frames, best, report);
    return std::move(*best);
  }
  GpTrainingSettings settings = gp_training_settings(config);
  if (config.sparse_count_auto && settings.sparse.method != SparseSelectionMethod::all) {
    const int species = static_cast<int>(config.descriptor.species.size());
    settings.sparse.count = auto_sparse_count(species, static_cast<int>(frames.size()));
    logger().info("sparse.count: {} atoms per frame (default for {} species and {} frames)",
                  settings.sparse.count, species, frames.size());
  }
  return train_sparse_gp(make_gp_descriptor(config), make_gp_kernel(config), frames, settings,
                         report);
}

int auto_sparse_count(int species, int frames) {
  const int per_frame = 10 * species, total = 600 * species;
  const int spread = (total + std::max(frames, 1) - 1) / std::max(frames, 1);
  return std::clamp(spread, species, per_frame);
}

namespace {

// ⟨|q|²⟩ over the atoms of `frames`, q the descriptor's two-body block.
double mean_two_body_norm2(const GpTrainConfig& config, const std::vector<Structure>& frames) {
  const auto descriptor = make_gp_descriptor(config);
  const int columns = config.descriptor.two_body_size();
  double sum = 0.0;
  double atoms = 0.0;
  for (const Structure& frame : frames) {
    AtomState state = AtomState::from_structure(frame);
    NeighborList list(descriptor->cutoff(), 0.0);
    list.build(state);
    const DescriptorValues values = descriptor->compute(state, list, false);
    sum += values.values.rightCols(columns).rowwise().squaredNorm().sum();
    atoms += static_cast<double>(values.values.rows());
  }
  return atoms > 0.0 ? sum / atoms : 0.0;
}

}  // namespace

std::vector<TwoBodyWeightTrial> choose_two_body_weight(const GpTrainConfig& config,
                                                       const std::vector<Structure>& frames,
                                                       std::optional<SparseGp>& best,
                                                       GpTrainingReport* report) {
  GpTrainConfig fixed = config;
  fixed.two_body_auto = false;
  fixed.descriptor.two_body = true;
  const double mean = mean_two_body_norm2(fixed, frames);
  if (!(mean > 0.0))
    throw Error(
        "kernel.two_body: auto: no atom of the training frames has a neighbour within "
        "the cutoff, so there is no pair term to weigh");
  const double scale = 1.0 / mean;  // w₀
  std::vector<TwoBodyWeightTrial> trials;
  double best_exponent = 0.0;
  auto trial = [&](double exponent) {
    fixed.two_body_weight = scale * std::pow(10.0, exponent);
    GpTrainingReport trial_report;
    SparseGp gp = train_sparse_gp(fixed, frames, &trial_report);
    const double value = gp.log_marginal_likelihood_value();
    logger().info(
        "two-body weight {:.4g} (w₀·10^{:+.1f}, w₀ = 1/⟨|q|²⟩ = {:.4g}): log likelihood {:.10g}",
        fixed.two_body_weight, exponent, scale, value);
    const bool better =
        std::isfinite(value) && (!best || value > best->log_marginal_likelihood_value());
    trials.push_back({fixed.two_body_weight, value, gp.hyperparameters()});
    if (!better) return;
    best.emplace(std::move(gp));
    best_exponent = exponent;
    if (report) *report = std::move(trial_report);
  };
  for (int k = -3; k <= 1; ++k) trial(k);
  if (!best) throw Error("kernel.two_body: auto: no two-body weight gave a finite log likelihood");
  const double centre = best_exponent;
  trial(centre - 0.5);
  trial(centre + 0.5);
  logger().info("two-body weight: chose {:.4g} (log likelihood {:.10g}) of {} tried",
                best->kernel().two_body_weight(), best->log_marginal_likelihood_value(),
                trials.size());
  double smallest = std::numeric_limits<double>::infinity();
  for (const TwoBodyWeightTrial& t : trials)
    smallest = std::min(smallest, t.hyperparameters.energy_noise);
  const double chosen = best->hyperparameters().energy_noise;
  if (chosen > 10.0 * smallest)
    logger().warn(
        "two-body weight {:.4g}: its fitted energy noise {:.3g} eV/√atom is {:.0f}× the smallest "
        "of the trials ({:.3g}): the likelihood fits the forces at the energies' expense; check "
        "the energy errors, or give kernel.two_body a smaller weight",
        best->kernel().two_body_weight(), chosen, chosen / smallest, smallest);
  return trials;
}

std::string describe_gp_config(const GpTrainConfig& config) {
  const std::string species_text = symbols_text(config.descriptor.species);
  const auto descriptor = make_gp_descriptor(config);
  const std::string kernel_text =
      config.two_body_auto
          ? std::string(config.kernel_power == 1 ? "σ²[(b̂·b̂')" : "σ²[(b̂·b̂')²") +
                (config.three_body_weight > 0.0
                     ? " + " + format_significant(config.three_body_weight, 4) + " b·b'"
                     : "") +
                " + w q·q'], w chosen by the marginal likelihood"
          : make_gp_kernel(config)->description();
  const std::string embedding =
      config.descriptor.embedded()
          ? ", species embedding of " + std::to_string(config.descriptor.channels()) + " channels"
          : "";
  return "B2 descriptor: species " + species_text + embedding + ", n_max " +
         std::to_string(config.descriptor.n_max) + ", l_max " +
         std::to_string(config.descriptor.l_max) + ", cutoff " +
         format_real(config.descriptor.max_cutoff()) + " Å, size " +
         std::to_string(descriptor->size()) + "; kernel " + kernel_text + "; sparse selection " +
         sparse_selection_method_name(config.training.sparse.method);
}

}  // namespace otfgp
