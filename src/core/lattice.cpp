#include "otfgp/core/lattice.hpp"

#include <cmath>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"

namespace otfgp {

namespace {

struct Site {
  int sublattice;  // index into LatticeSpec::elements
  double fractional[3];
};

struct LatticeType {
  const char* name;
  int sublattices;
  std::vector<Site> basis;
};

const std::vector<LatticeType>& lattice_types() {
  static const std::vector<LatticeType> types = {
      {"sc", 1, {{0, {0, 0, 0}}}},
      {"bcc", 1, {{0, {0, 0, 0}}, {0, {0.5, 0.5, 0.5}}}},
      {"fcc", 1, {{0, {0, 0, 0}}, {0, {0, 0.5, 0.5}}, {0, {0.5, 0, 0.5}}, {0, {0.5, 0.5, 0}}}},
      {"hcp", 1, {{0, {0, 0, 0}}, {0, {1.0 / 3.0, 2.0 / 3.0, 0.5}}}},
      {"diamond",
       1,
       {{0, {0, 0, 0}},
        {0, {0.25, 0.25, 0.25}},
        {0, {0, 0.5, 0.5}},
        {0, {0.25, 0.75, 0.75}},
        {0, {0.5, 0, 0.5}},
        {0, {0.75, 0.25, 0.75}},
        {0, {0.5, 0.5, 0}},
        {0, {0.75, 0.75, 0.25}}}},
      {"zincblende",
       2,
       {{0, {0, 0, 0}},
        {1, {0.25, 0.25, 0.25}},
        {0, {0, 0.5, 0.5}},
        {1, {0.25, 0.75, 0.75}},
        {0, {0.5, 0, 0.5}},
        {1, {0.75, 0.25, 0.75}},
        {0, {0.5, 0.5, 0}},
        {1, {0.75, 0.75, 0.25}}}},
      {"rocksalt",
       2,
       {{0, {0, 0, 0}},
        {1, {0.5, 0, 0}},
        {0, {0, 0.5, 0.5}},
        {1, {0.5, 0.5, 0.5}},
        {0, {0.5, 0, 0.5}},
        {1, {0, 0, 0.5}},
        {0, {0.5, 0.5, 0}},
        {1, {0, 0.5, 0}}}},
      {"perovskite",
       3,
       {{0, {0, 0, 0}},
        {1, {0.5, 0.5, 0.5}},
        {2, {0.5, 0.5, 0}},
        {2, {0.5, 0, 0.5}},
        {2, {0, 0.5, 0.5}}}},
  };
  return types;
}

const LatticeType& find_lattice(const std::string& name) {
  for (const auto& type : lattice_types())
    if (name == type.name) return type;
  std::string known;
  for (const auto& type : lattice_types())
    known += (known.empty() ? "" : ", ") + std::string(type.name);
  throw Error("unknown lattice '" + name + "' (known: " + known + ")");
}

}  // namespace

std::vector<std::string> lattice_names() {
  std::vector<std::string> names;
  for (const auto& type : lattice_types()) names.emplace_back(type.name);
  return names;
}

int lattice_site_count(const std::string& lattice) {
  return find_lattice(lattice).sublattices;
}

Structure build_lattice(const LatticeSpec& spec) {
  const LatticeType& type = find_lattice(spec.lattice);
  if (static_cast<int>(spec.elements.size()) != type.sublattices)
    throw Error("lattice '" + spec.lattice + "' takes " + std::to_string(type.sublattices) +
                " element" + (type.sublattices == 1 ? "" : "s") + ", got " +
                std::to_string(spec.elements.size()));
  std::vector<int> numbers;
  for (const auto& symbol : spec.elements) numbers.push_back(atomic_number(symbol));
  if (!(spec.a > 0.0) || !std::isfinite(spec.a))
    throw Error("lattice constant a must be positive, got " + std::to_string(spec.a));
  const bool hexagonal = spec.lattice == "hcp";
  if (spec.c && !hexagonal)
    throw Error("lattice constant c applies to hcp only, not to '" + spec.lattice + "'");
  const double c = spec.c.value_or(spec.a * std::sqrt(8.0 / 3.0));
  if (!(c > 0.0) || !std::isfinite(c))
    throw Error("lattice constant c must be positive, got " + std::to_string(c));
  for (int n : spec.repeat)
    if (n < 1) throw Error("lattice repeat counts must be at least 1, got " + std::to_string(n));

  Eigen::Matrix3d unit;
  if (hexagonal)
    unit << spec.a, 0, 0, -0.5 * spec.a, 0.5 * std::sqrt(3.0) * spec.a, 0, 0, 0, c;
  else
    unit = Eigen::Matrix3d::Identity() * spec.a;

  Structure structure;
  const long count =
      static_cast<long>(type.basis.size()) * spec.repeat[0] * spec.repeat[1] * spec.repeat[2];
  if (count > 100'000'000L)
    throw Error("lattice repeat gives " + std::to_string(count) + " atoms, too many");
  structure.positions.resize(count, 3);
  structure.numbers.reserve(count);
  long k = 0;
  for (int i = 0; i < spec.repeat[0]; ++i)
    for (int j = 0; j < spec.repeat[1]; ++j)
      for (int l = 0; l < spec.repeat[2]; ++l)
        for (const Site& site : type.basis) {
          const Eigen::RowVector3d s(i + site.fractional[0], j + site.fractional[1],
                                     l + site.fractional[2]);
          structure.positions.row(k++) = s * unit;
          structure.numbers.push_back(numbers[site.sublattice]);
        }
  for (int d = 0; d < 3; ++d) structure.cell.row(d) = unit.row(d) * spec.repeat[d];
  structure.pbc = {true, true, true};
  return structure;
}

Eigen::Matrix3d lower_triangular_cell(const Eigen::Matrix3d& cell) {
  const Eigen::Vector3d a = cell.row(0), b = cell.row(1), c = cell.row(2);
  const double lx = a.norm();
  const double xy = b.dot(a) / lx;
  const double ly = std::sqrt(b.squaredNorm() - xy * xy);
  const double xz = c.dot(a) / lx;
  const double yz = (b.dot(c) - xy * xz) / ly;
  const double lz = std::sqrt(c.squaredNorm() - xz * xz - yz * yz);
  Eigen::Matrix3d lower;
  lower << lx, 0, 0, xy, ly, 0, xz, yz, lz;
  return lower;
}

}  // namespace otfgp
