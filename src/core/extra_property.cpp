#include "otfgp/core/extra_property.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "otfgp/core/error.hpp"
#include "otfgp/core/number_text.hpp"

namespace otfgp {

namespace {

constexpr std::array<std::string_view, 7> reserved_names{"species", "pos",       "Z",      "forces",
                                                         "symbols", "positions", "numbers"};

}  // namespace

const ExtraProperty* find_extra_property(const Structure& structure, std::string_view name) {
  for (const auto& property : structure.extra_properties)
    if (property.name == name) return &property;
  return nullptr;
}

void check_extra_property_name(std::string_view name) {
  if (name.empty()) throw Error("a per-atom property needs a name");
  for (char c : name)
    if (c == ':' || c == '=' || c == '"' || c == '\'' || c == '\\' ||
        std::isspace(static_cast<unsigned char>(c)) || !std::isprint(static_cast<unsigned char>(c)))
      throw Error("per-atom property name '" + std::string(name) +
                  "' may not contain ':', '=', quotes, backslashes, spaces or control characters");
  if (std::find(reserved_names.begin(), reserved_names.end(), name) != reserved_names.end())
    throw Error(
        "per-atom property name '" + std::string(name) +
        "' is reserved (species, positions, atomic numbers and forces have their own fields)");
}

void set_real_property(Structure& structure, const std::string& name,
                       const Eigen::MatrixXd& values) {
  check_extra_property_name(name);
  if (values.rows() != structure.size())
    throw Error("per-atom property '" + name + "' has " + std::to_string(values.rows()) +
                " rows but the structure has " + std::to_string(structure.size()) + " atoms");
  if (values.cols() < 1) throw Error("per-atom property '" + name + "' has no columns");
  ExtraProperty property;
  property.name = name;
  property.type = 'R';
  property.columns = static_cast<int>(values.cols());
  property.values.reserve(values.size());
  for (Eigen::Index atom = 0; atom < values.rows(); ++atom)
    for (Eigen::Index column = 0; column < values.cols(); ++column)
      property.values.push_back(format_real(values(atom, column)));
  for (auto& existing : structure.extra_properties)
    if (existing.name == name) {
      existing = std::move(property);
      return;
    }
  structure.extra_properties.push_back(std::move(property));
}

void set_real_property(Structure& structure, const std::string& name,
                       const std::vector<double>& values) {
  const Eigen::Map<const Eigen::VectorXd> column(values.data(),
                                                 static_cast<Eigen::Index>(values.size()));
  set_real_property(structure, name, Eigen::MatrixXd(column));
}

Eigen::MatrixXd real_property(const Structure& structure, std::string_view name) {
  const ExtraProperty* property = find_extra_property(structure, name);
  if (!property) throw Error("the structure has no per-atom property '" + std::string(name) + "'");
  if (property->type != 'R' && property->type != 'I')
    throw Error("per-atom property '" + property->name + "' has type " + property->type +
                ", not a number (R or I)");
  const auto columns = static_cast<std::size_t>(property->columns);
  if (property->columns < 1 ||
      property->values.size() != static_cast<std::size_t>(structure.size()) * columns)
    throw Error("per-atom property '" + property->name + "' has " +
                std::to_string(property->values.size()) + " values for " +
                std::to_string(structure.size()) + " atoms × " + std::to_string(property->columns) +
                " columns");
  Eigen::MatrixXd values(structure.size(), property->columns);
  for (std::size_t i = 0; i < property->values.size(); ++i) {
    const auto value = parse_real(property->values[i]);
    if (!value)
      throw Error("per-atom property '" + property->name + "' has a value that is not a number: '" +
                  property->values[i] + "'");
    values(static_cast<Eigen::Index>(i / columns), static_cast<Eigen::Index>(i % columns)) = *value;
  }
  return values;
}

bool remove_extra_property(Structure& structure, std::string_view name) {
  auto& properties = structure.extra_properties;
  const auto found = std::find_if(properties.begin(), properties.end(),
                                  [&](const ExtraProperty& p) { return p.name == name; });
  if (found == properties.end()) return false;
  properties.erase(found);
  return true;
}

}  // namespace otfgp
