#include "otfgp/gp_train_config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "otfgp/elements.hpp"
#include "otfgp/error.hpp"

namespace otfgp {

namespace {

// A YAML mapping read against the keys it may hold (kept small on purpose:
// the shared config reader takes over once it is on main).
class Section {
 public:
  Section(YAML::Node node, std::string source, std::string prefix,
          const std::vector<std::string>& known)
      : node_(std::move(node)), source_(std::move(source)), prefix_(std::move(prefix)) {
    if (!node_.IsMap())
      fail_at(node_, prefix_.empty() ? "the file" : prefix_, "expected a mapping of keys");
    for (const auto& entry : node_) {
      const std::string key = entry.first.as<std::string>();
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        fail_at(entry.first, name(key), "unknown key (known here: " + list + ")");
      }
    }
  }

  bool has(const std::string& key) const { return static_cast<bool>(node_[key]); }
  YAML::Node get(const std::string& key) const { return node_[key]; }
  std::string name(const std::string& key) const {
    return prefix_.empty() ? key : prefix_ + "." + key;
  }

  [[noreturn]] void fail_at(const YAML::Node& node, const std::string& key,
                            const std::string& message) const {
    const YAML::Mark mark = node.Mark();
    std::string where = source_;
    if (!mark.is_null()) where += ", line " + std::to_string(mark.line + 1);
    throw Error(where + ": key '" + key + "': " + message);
  }
  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    fail_at(node_[key] ? node_[key] : node_, name(key), message);
  }

  double number(const std::string& key, double fallback) const {
    if (!has(key)) return fallback;
    try {
      return node_[key].as<double>();
    } catch (const YAML::Exception&) {
      fail(key, "expected a number");
    }
  }
  double positive(const std::string& key, double fallback) const {
    const double value = number(key, fallback);
    if (!(value > 0) || !std::isfinite(value)) fail(key, "must be a positive number");
    return value;
  }
  long integer(const std::string& key, long fallback) const {
    if (!has(key)) return fallback;
    try {
      return node_[key].as<long>();
    } catch (const YAML::Exception&) {
      fail(key, "expected an integer");
    }
  }
  bool flag(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    try {
      return node_[key].as<bool>();
    } catch (const YAML::Exception&) {
      fail(key, "expected true or false");
    }
  }
  std::string text(const std::string& key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!node_[key].IsScalar()) fail(key, "expected a word");
    return node_[key].as<std::string>();
  }
  Section section(const std::string& key, const std::vector<std::string>& known) const {
    return Section(node_[key], source_, name(key), known);
  }
  const std::string& source() const { return source_; }

 private:
  YAML::Node node_;
  std::string source_;
  std::string prefix_;
};

int element_number(const Section& section, const std::string& key, const std::string& symbol) {
  const int z = find_atomic_number(symbol);
  if (z == 0) section.fail(key, "unknown element '" + symbol + "'");
  return z;
}

void read_hyperparameter_values(const Section& s, GpHyperparameters& h) {
  h.signal_std = s.positive("signal_std", h.signal_std);
  h.energy_noise = s.positive("energy_noise", h.energy_noise);
  h.force_noise = s.positive("force_noise", h.force_noise);
  h.stress_noise = s.positive("stress_noise", h.stress_noise);
}

const std::vector<std::string> hyperparameter_keys = {"signal_std", "energy_noise", "force_noise",
                                                      "stress_noise"};

GpTrainConfig parse(const YAML::Node& root_node, const std::string& source,
                    const std::vector<int>& data_species) {
  GpTrainConfig config = default_gp_train_config(data_species);
  if (!root_node || root_node.IsNull()) return config;
  const Section root(root_node, source, "",
                     {"species", "descriptor", "kernel", "hyperparameters", "labels", "sparse",
                      "reference_energies"});

  if (root.has("species")) {
    const YAML::Node list = root.get("species");
    if (!list.IsSequence())
      root.fail("species", "expected a list of element symbols, e.g. [Ba, Rh, O]");
    std::vector<int> species;
    for (const auto& item : list)
      species.push_back(element_number(root, "species", item.as<std::string>()));
    std::sort(species.begin(), species.end());
    if (std::adjacent_find(species.begin(), species.end()) != species.end())
      root.fail("species", "an element is listed twice");
    for (int z : data_species)
      if (!std::binary_search(species.begin(), species.end(), z))
        root.fail("species", std::string("the training data contain ") + element(z).symbol +
                                 ", which is not listed");
    config.descriptor.species = species;
  }

  if (root.has("descriptor")) {
    const Section d =
        root.section("descriptor", {"type", "n_max", "l_max", "r_min", "cutoff", "pair_cutoffs"});
    if (d.text("type", "b2") != "b2") d.fail("type", "the only descriptor is b2");
    config.descriptor.n_max = static_cast<int>(d.integer("n_max", config.descriptor.n_max));
    config.descriptor.l_max = static_cast<int>(d.integer("l_max", config.descriptor.l_max));
    config.descriptor.r_min = d.number("r_min", config.descriptor.r_min);
    config.descriptor.cutoff = d.positive("cutoff", config.descriptor.cutoff);
    if (d.has("pair_cutoffs")) {
      const YAML::Node pairs = d.get("pair_cutoffs");
      if (!pairs.IsMap()) d.fail("pair_cutoffs", "expected a mapping like {Ba-O: 5.5, O-O: 4.0}");
      for (const auto& entry : pairs) {
        const std::string pair = entry.first.as<std::string>();
        const auto dash = pair.find('-');
        if (dash == std::string::npos)
          d.fail("pair_cutoffs", "expected a species pair like Ba-O, got '" + pair + "'");
        const int a = element_number(d, "pair_cutoffs", pair.substr(0, dash));
        const int b = element_number(d, "pair_cutoffs", pair.substr(dash + 1));
        double value = 0;
        try {
          value = entry.second.as<double>();
        } catch (const YAML::Exception&) {
          d.fail("pair_cutoffs", "the cutoff of " + pair + " must be a number");
        }
        config.descriptor.pair_cutoffs[std::minmax(a, b)] = value;
      }
    }
  }
  try {
    config.descriptor.validate();
  } catch (const Error& error) {
    throw Error(source + ": " + error.what());
  }

  if (root.has("kernel")) {
    const Section k = root.section("kernel", {"type", "power"});
    if (k.text("type", "normalized_dot_product") != "normalized_dot_product")
      k.fail("type", "the only kernel is normalized_dot_product");
    config.kernel_power = static_cast<int>(k.integer("power", config.kernel_power));
    if (config.kernel_power != 1 && config.kernel_power != 2) k.fail("power", "must be 1 or 2");
  }

  GpTrainingSettings& t = config.training;
  if (root.has("hyperparameters")) {
    std::vector<std::string> keys = hyperparameter_keys;
    keys.insert(keys.end(), {"optimize", "max_evaluations", "tolerance", "lower", "upper"});
    const Section h = root.section("hyperparameters", keys);
    read_hyperparameter_values(h, t.hyperparameters);
    t.optimize_hyperparameters = h.flag("optimize", t.optimize_hyperparameters);
    t.optimization.max_evaluations =
        static_cast<int>(h.integer("max_evaluations", t.optimization.max_evaluations));
    if (t.optimization.max_evaluations < 1) h.fail("max_evaluations", "must be at least 1");
    t.optimization.relative_tolerance = h.positive("tolerance", t.optimization.relative_tolerance);
    if (h.has("lower"))
      read_hyperparameter_values(h.section("lower", hyperparameter_keys), t.optimization.lower);
    if (h.has("upper"))
      read_hyperparameter_values(h.section("upper", hyperparameter_keys), t.optimization.upper);
  }

  if (root.has("labels")) {
    const Section l = root.section("labels", {"energy", "forces", "stress"});
    t.labels.energy = l.flag("energy", t.labels.energy);
    t.labels.forces = l.flag("forces", t.labels.forces);
    t.labels.stress = l.flag("stress", t.labels.stress);
  }

  if (root.has("sparse")) {
    const Section s = root.section(
        "sparse", {"method", "count", "total", "threshold", "seed", "min_residual", "replay"});
    if (s.has("method")) {
      try {
        t.sparse.method = parse_sparse_selection_method(s.text("method", "random"));
      } catch (const Error& error) {
        s.fail("method", error.what());
      }
    }
    t.sparse.count = static_cast<int>(s.integer("count", t.sparse.count));
    t.sparse.total = static_cast<int>(s.integer("total", t.sparse.total));
    if (t.sparse.count < 0) s.fail("count", "must not be negative");
    if (t.sparse.total < 0) s.fail("total", "must not be negative");
    if (t.sparse.total > 0 && t.sparse.method != SparseSelectionMethod::random)
      s.fail("total", "applies to method random only");
    t.sparse.threshold = s.number("threshold", t.sparse.threshold);
    t.sparse.seed = static_cast<std::uint64_t>(s.integer("seed", static_cast<long>(t.sparse.seed)));
    t.replay = s.flag("replay", t.replay);
    if (t.replay && !needs_uncertainty(t.sparse.method))
      s.fail("replay", "applies to methods uncertain and threshold");
    t.min_residual = s.number("min_residual", t.min_residual);
    if (!(t.min_residual >= 0) || t.min_residual >= 1) s.fail("min_residual", "must be in [0, 1)");
  }

  if (root.has("reference_energies")) {
    const YAML::Node node = root.get("reference_energies");
    if (node.IsScalar()) {
      if (node.as<std::string>() != "fit")
        root.fail("reference_energies", "expected 'fit' or a mapping of element to energy (eV)");
    } else {
      if (!node.IsMap())
        root.fail("reference_energies", "expected 'fit' or a mapping of element to energy (eV)");
      for (const auto& entry : node) {
        const int z = element_number(root, "reference_energies", entry.first.as<std::string>());
        try {
          config.reference_energies[z] = entry.second.as<double>();
        } catch (const YAML::Exception&) {
          root.fail("reference_energies",
                    "the energy of " + entry.first.as<std::string>() + " must be a number");
        }
      }
      for (int z : config.descriptor.species)
        if (!config.reference_energies.count(z))
          root.fail("reference_energies", std::string("no energy given for ") + element(z).symbol);
      for (const auto& [z, value] : config.reference_energies)
        if (!std::binary_search(config.descriptor.species.begin(), config.descriptor.species.end(),
                                z))
          root.fail("reference_energies",
                    std::string(element(z).symbol) + " is not among the species");
    }
  }
  return config;
}

}  // namespace

GpTrainConfig default_gp_train_config(const std::vector<int>& data_species) {
  GpTrainConfig config;
  config.descriptor.species = data_species;
  std::sort(config.descriptor.species.begin(), config.descriptor.species.end());
  config.training.hyperparameters = {1.0, 0.001, 0.05, 0.001};
  return config;
}

GpTrainConfig parse_gp_train_config(const std::string& text, const std::string& source,
                                    const std::vector<int>& data_species) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& error) {
    throw Error(source + ", line " + std::to_string(error.mark.line + 1) + ": " + error.msg);
  }
  return parse(root, source, data_species);
}

GpTrainConfig read_gp_train_config(const std::filesystem::path& path,
                                   const std::vector<int>& data_species) {
  std::ifstream in(path);
  if (!in) throw Error(path.string() + ": cannot read the config file");
  std::stringstream text;
  text << in.rdbuf();
  return parse_gp_train_config(text.str(), path.string(), data_species);
}

}  // namespace otfgp
