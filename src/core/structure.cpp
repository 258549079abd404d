#include "otfgp/core/structure.hpp"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <string_view>

#include "otfgp/core/box.hpp"
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
                        i + 1, positions(i, d), max_coordinate));
  if (energy && !std::isfinite(*energy))
    throw Error(fmt::format("the energy label is {}: labels must be finite", *energy));
  if (forces)
    for (int i = 0; i < forces->rows(); ++i)
      if (!forces->row(i).allFinite())
        throw Error(
            fmt::format("the force label of atom {} is ({:g}, {:g}, {:g}): labels must be "
                        "finite",
                        i + 1, (*forces)(i, 0), (*forces)(i, 1), (*forces)(i, 2)));
  if (stress && !stress->allFinite())
    throw Error("the stress label has a non-finite component: labels must be finite");
}

bool Structure::same_atoms(const Structure& other, double tolerance) const {
  return other.numbers == numbers && other.pbc == pbc &&
         (other.cell - cell).cwiseAbs().maxCoeff() <= tolerance &&
         largest_displacement(other) <= tolerance;
}

double Structure::largest_displacement(const Structure& other) const {
  if (other.size() != size())
    throw Error("largest_displacement: frames of " + std::to_string(size()) + " and " +
                std::to_string(other.size()) + " atoms");
  const bool periodic[3] = {pbc[0], pbc[1], pbc[2]};
  const Box box = Box::from_cell(cell, periodic);
  double largest = 0.0;
  for (int i = 0; i < size(); ++i) {
    double r[3], s[3];
    for (int d = 0; d < 3; ++d) r[d] = other.positions(i, d) - positions(i, d);
    box.fractional(r, s);
    for (int d = 0; d < 3; ++d)
      if (periodic[d]) s[d] -= std::round(s[d]);
    box.cartesian(s, r);
    largest = std::max(largest, std::sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]));
  }
  return largest;
}

int Structure::fixed_coordinates() const {
  int fixed = 0;
  for (const ExtraProperty& mask : extra_properties) {
    if (mask.name != "move_mask") continue;
    const int per_flag = mask.columns == 1 ? 3 : 1;  // one flag for all three coordinates
    for (const std::string& flag : mask.values)
      if (flag == "F" || flag == "f" || flag == "False" || flag == "false") fixed += per_flag;
  }
  return fixed;
}

void Structure::refuse_fixed_atoms(const std::string& where, const std::string& verb) const {
  const int fixed = fixed_coordinates();
  if (fixed == 0) return;
  throw Error(where + ": selective-dynamics flags (move_mask) fix " + std::to_string(fixed) +
              " coordinate(s), but " + verb +
              " moves every atom (fixed atoms are not supported): remove the flags, or set them "
              "all to T, to run it on this structure");
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

void Structure::clear_results() {
  // ASE's calculator results among the info keys and columns, and the results
  // otfgp's verbs write: eval's and md's GP columns, relax's and search's
  // enthalpies, the otf loop's trigger.
  static constexpr std::array<std::string_view, 17> results{
      "free_energy", "dipole",     "magmom",  "virial",      "energies",
      "stresses",    "charges",    "magmoms", "uncertainty", "uncertainty_normalised",
      "force_std",   "energy_std", "novel",   "enthalpy",    "enthalpy_per_atom",
      "converged",   "max_std"};
  const auto is_result = [](std::string_view name) {
    return std::find(results.begin(), results.end(), name) != results.end();
  };
  energy.reset();
  forces.reset();
  stress.reset();
  info.erase(std::remove_if(info.begin(), info.end(),
                            [&](const auto& pair) { return is_result(pair.first); }),
             info.end());
  extra_properties.erase(
      std::remove_if(extra_properties.begin(), extra_properties.end(),
                     [&](const ExtraProperty& column) { return is_result(column.name); }),
      extra_properties.end());
}

}  // namespace otfgp
