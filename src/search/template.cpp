#include "otfgp/search/template.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>

#include "otfgp/core/cif.hpp"
#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/formula.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/number_text.hpp"

namespace otfgp::search {

namespace {

bool is_structure_file(const std::filesystem::path& path) {
  const std::string name = ascii_lower(path.filename().string());
  const std::string extension = ascii_lower(path.extension().string());
  return extension == ".cif" || extension == ".vasp" || extension == ".poscar" ||
         extension == ".xyz" || extension == ".extxyz" || name.rfind("poscar", 0) == 0 ||
         name.rfind("contcar", 0) == 0;
}

void read_file(const std::filesystem::path& path, std::vector<Template>& out) {
  if (ascii_lower(path.extension().string()) == ".cif") {
    out.push_back({path.filename().string(), read_cif(path)});
    return;
  }
  const std::vector<Structure> frames = read_structures(path);
  for (std::size_t k = 0; k < frames.size(); ++k)
    out.push_back({frames.size() == 1 ? path.filename().string()
                                      : path.filename().string() + "#" + std::to_string(k),
                   frames[k]});
}

}  // namespace

std::vector<Template> read_templates(const std::vector<std::filesystem::path>& paths) {
  std::vector<Template> out;
  for (const auto& path : paths) {
    if (std::filesystem::is_directory(path)) {
      std::vector<std::filesystem::path> files;
      for (const auto& item : std::filesystem::directory_iterator(path))
        if (item.is_regular_file() && is_structure_file(item.path())) files.push_back(item.path());
      std::sort(files.begin(), files.end());
      if (files.empty())
        throw Error("template folder '" + path.string() + "' has no structure files");
      for (const auto& file : files) read_file(file, out);
    } else if (std::filesystem::exists(path)) {
      read_file(path, out);
    } else {
      throw Error("template '" + path.string() + "' does not exist");
    }
  }
  return out;
}

std::optional<Structure> substitute(const Structure& structure, const Stoichiometry& target) {
  std::map<int, int> counts;
  for (const int z : structure.numbers) ++counts[z];
  if (counts.size() != target.numbers.size()) return std::nullopt;
  std::vector<int> from;
  for (const auto& [z, count] : counts) from.push_back(z);
  std::vector<std::size_t> order(target.numbers.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  double best_cost = std::numeric_limits<double>::infinity();
  std::vector<std::size_t> best;
  do {  // every one-to-one map from template species to target species
    int units = 0;
    bool matches = true;
    double cost = 0.0;
    for (std::size_t s = 0; s < from.size() && matches; ++s) {
      const int wanted = target.counts[order[s]];
      const int have = counts[from[s]];
      if (have % wanted != 0 || (units != 0 && have / wanted != units)) matches = false;
      units = have / wanted;
      cost += std::abs(ordering_electronegativity(from[s]) -
                       ordering_electronegativity(target.numbers[order[s]]));
    }
    if (matches && cost < best_cost - 1e-12) {
      best_cost = cost;
      best = order;
    }
  } while (std::next_permutation(order.begin(), order.end()));
  if (best.empty()) return std::nullopt;
  std::map<int, int> replacement;
  for (std::size_t s = 0; s < from.size(); ++s) replacement[from[s]] = target.numbers[best[s]];
  Structure out = structure;
  out.energy.reset();
  out.forces.reset();
  out.stress.reset();
  out.info.clear();
  out.extra_properties.clear();
  double old_volume = 0.0, new_volume = 0.0;
  for (auto& z : out.numbers) {
    old_volume += std::pow(element(z).covalent_radius, 3);
    z = replacement[z];
    new_volume += std::pow(element(z).covalent_radius, 3);
  }
  const double scale = std::cbrt(new_volume / old_volume);
  out.cell *= scale;
  out.positions *= scale;
  return out;
}

}  // namespace otfgp::search
