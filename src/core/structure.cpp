#include "otfgp/core/structure.hpp"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <map>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"

namespace otfgp {

double Structure::volume() const {
  return std::abs(cell.determinant());
}

std::string Structure::formula() const {
  std::map<std::string, int> counts;
  for (int z : numbers) ++counts[element(z).symbol];
  std::vector<std::string> order;
  const bool has_carbon = counts.count("C") > 0;
  if (has_carbon) {
    order.push_back("C");
    if (counts.count("H")) order.push_back("H");
  }
  for (const auto& [symbol, count] : counts)
    if (!(has_carbon && (symbol == "C" || symbol == "H"))) order.push_back(symbol);
  std::string text;
  for (const auto& symbol : order) {
    text += symbol;
    if (counts[symbol] != 1) text += std::to_string(counts[symbol]);
  }
  return text;
}

std::vector<int> Structure::species() const {
  std::vector<int> result(numbers);
  std::sort(result.begin(), result.end());
  result.erase(std::unique(result.begin(), result.end()), result.end());
  return result;
}

void Structure::validate() const {
  if (positions.rows() != size())
    throw Error("structure has " + std::to_string(size()) + " atomic numbers but " +
                std::to_string(positions.rows()) + " positions");
  for (int z : numbers) element(z);
  if (forces && forces->rows() != size())
    throw Error("structure has " + std::to_string(size()) + " atoms but " +
                std::to_string(forces->rows()) + " force rows");
  validate_numbers();
  const bool periodic = pbc[0] || pbc[1] || pbc[2];
  if (periodic && !(std::abs(cell.determinant()) > singular_cell_volume))
    throw Error("periodic structure has a singular cell (volume " +
                std::to_string(std::abs(cell.determinant())) + " Å³)");
}

void Structure::validate_numbers() const {
  // Beyond this a coordinate loses its sub-Å digits when wrapped into the cell
  // (and along a free direction the atoms no longer form one structure).
  constexpr double max_coordinate = 1e8;  // Å
  if (!cell.allFinite() || cell.cwiseAbs().maxCoeff() > max_coordinate)
    throw Error(
        fmt::format("structure has a cell vector component of {:g} Å: cell components "
                    "must be finite and within ±{:g} Å",
                    cell.cwiseAbs().maxCoeff(), max_coordinate));
  for (int i = 0; i < size(); ++i)
    for (int d = 0; d < 3; ++d)
      if (!std::isfinite(positions(i, d)) || std::abs(positions(i, d)) > max_coordinate)
        throw Error(
            fmt::format("atom {} has coordinate {:g} Å: positions must be finite and "
                        "within ±{:g} Å (wrong units or a corrupt file?)",
                        i, positions(i, d), max_coordinate));
  if (energy && !std::isfinite(*energy))
    throw Error(fmt::format("the energy label is {}: labels must be finite", *energy));
  if (forces)
    for (int i = 0; i < forces->rows(); ++i)
      if (!forces->row(i).allFinite())
        throw Error(
            fmt::format("the force label of atom {} is ({:g}, {:g}, {:g}): labels must be "
                        "finite",
                        i, (*forces)(i, 0), (*forces)(i, 1), (*forces)(i, 2)));
  if (stress && !stress->allFinite())
    throw Error("the stress label has a non-finite component: labels must be finite");
}

std::optional<std::string> Structure::info_value(const std::string& key) const {
  for (const auto& [name, value] : info)
    if (name == key) return value;
  return std::nullopt;
}

void Structure::set_info_value(const std::string& key, std::string value) {
  for (auto& [name, existing] : info)
    if (name == key) {
      existing = std::move(value);
      return;
    }
  info.emplace_back(key, std::move(value));
}

}  // namespace otfgp
