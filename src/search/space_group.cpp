#include "otfgp/search/space_group.hpp"

#include <spglib.h>

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>

#include "otfgp/core/error.hpp"

namespace otfgp::search {

namespace {

constexpr int grid = 24;  // fractional coordinates in steps of 1/24
constexpr int grid_points = grid * grid * grid;

using Vector3i = Eigen::Vector3i;

int wrap(int value) {
  return ((value % grid) + grid) % grid;
}
int grid_index(const Vector3i& p) {
  return (wrap(p[0]) * grid + wrap(p[1])) * grid + wrap(p[2]);
}
Vector3i grid_point(int index) {
  return {index / (grid * grid), (index / grid) % grid, index % grid};
}

// The first Hall number of each space-group type in spglib's database.
const std::array<int, 231>& first_hall_numbers() {
  static const std::array<int, 231> table = [] {
    std::array<int, 231> numbers{};
    for (int hall = 1; hall <= 530; ++hall) {
      const SpglibSpacegroupType type = spg_get_spacegroup_type(hall);
      if (type.number >= 1 && type.number <= 230 && numbers[type.number] == 0)
        numbers[type.number] = hall;
    }
    return numbers;
  }();
  return table;
}

class UnionFind {
 public:
  explicit UnionFind(int size) : parent_(size) { std::iota(parent_.begin(), parent_.end(), 0); }
  int find(int x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
    return x;
  }
  void join(int a, int b) { parent_[find(a)] = find(b); }

 private:
  std::vector<int> parent_;
};

// Integer vectors with entries in −2…2 fixed by every rotation of the
// stabiliser, reduced to a basis of smallest vectors.
std::vector<Eigen::Vector3d> fixed_directions(const std::vector<Eigen::Matrix3i>& rotations) {
  std::vector<Vector3i> fixed;
  for (int x = -2; x <= 2; ++x)
    for (int y = -2; y <= 2; ++y)
      for (int z = -2; z <= 2; ++z) {
        const Vector3i v(x, y, z);
        if (v.isZero()) continue;
        bool kept = true;
        for (const auto& w : rotations)
          if (w * v != v) {
            kept = false;
            break;
          }
        if (kept) fixed.push_back(v);
      }
  std::stable_sort(fixed.begin(), fixed.end(), [](const Vector3i& a, const Vector3i& b) {
    return a.squaredNorm() < b.squaredNorm();
  });
  std::vector<Eigen::Vector3d> basis;
  Eigen::MatrixXd stacked(3, 0);
  for (const auto& v : fixed) {
    Eigen::MatrixXd trial(3, stacked.cols() + 1);
    trial << stacked, v.cast<double>();
    if (Eigen::FullPivLU<Eigen::MatrixXd>(trial).rank() == trial.cols()) {
      stacked = trial;
      basis.push_back(v.cast<double>());
      if (basis.size() == 3) break;
    }
  }
  return basis;
}

// spglib's operations of the group's first Hall setting into `group`;
// returns their translations in grid steps.
std::vector<Vector3i> read_operations(SpaceGroup& group) {
  int rotations[192][3][3];
  double translations[192][3];
  const int count = spg_get_symmetry_from_database(rotations, translations, group.hall_number);
  if (count <= 0)
    throw Error("spglib has no symmetry operations for space group " +
                std::to_string(group.number));
  std::vector<Vector3i> shifts;  // translations in grid steps
  for (int k = 0; k < count; ++k) {
    SymmetryOperation op;
    Vector3i shift;
    for (int a = 0; a < 3; ++a) {
      for (int b = 0; b < 3; ++b) op.rotation(a, b) = rotations[k][a][b];
      op.translation[a] = translations[k][a];
      const double steps = translations[k][a] * grid;
      shift[a] = static_cast<int>(std::lround(steps));
      if (std::abs(steps - shift[a]) > 1e-6)
        throw Error("space group " + std::to_string(group.number) +
                    ": a translation is not a multiple of 1/24");
    }
    group.operations.push_back(op);
    shifts.push_back(shift);
  }
  return shifts;
}

// The grid points grouped by stabiliser, each stabiliser given an id in the
// order it is first met.
struct Stabilisers {
  std::vector<int> key_of_point;                         // grid point → stabiliser id
  std::vector<int> representative;                       // id → the first grid point with it
  std::vector<int> order;                                // id → number of operations in it
  std::vector<std::vector<Eigen::Vector3d>> directions;  // id → directions it leaves fixed
};

// Stabiliser of every grid point as (operation, lattice translation) pairs.
Stabilisers find_stabilisers(const SpaceGroup& group, const std::vector<Vector3i>& shifts) {
  const int count = static_cast<int>(group.operations.size());
  Stabilisers out;
  std::map<std::vector<int>, int> key_ids;
  out.key_of_point.resize(grid_points);
  std::vector<int> stabiliser;
  for (int index = 0; index < grid_points; ++index) {
    const Vector3i p = grid_point(index);
    stabiliser.clear();
    for (int k = 0; k < count; ++k) {
      const Vector3i q = group.operations[static_cast<std::size_t>(k)].rotation * p +
                         shifts[static_cast<std::size_t>(k)];
      const Vector3i difference = p - q;
      if (wrap(difference[0]) || wrap(difference[1]) || wrap(difference[2])) continue;
      stabiliser.push_back(k);
      for (int a = 0; a < 3; ++a) stabiliser.push_back(difference[a] / grid);
    }
    const auto [it, inserted] = key_ids.emplace(stabiliser, static_cast<int>(key_ids.size()));
    if (inserted) {
      out.representative.push_back(index);
      out.order.push_back(static_cast<int>(stabiliser.size() / 4));
    }
    out.key_of_point[static_cast<std::size_t>(index)] = it->second;
  }
  out.directions.resize(out.representative.size());
  for (const auto& [stabiliser_key, id] : key_ids) {
    std::vector<Eigen::Matrix3i> parts;
    for (std::size_t k = 0; k < stabiliser_key.size(); k += 4)
      parts.push_back(group.operations[static_cast<std::size_t>(stabiliser_key[k])].rotation);
    out.directions[static_cast<std::size_t>(id)] = fixed_directions(parts);
  }
  return out;
}

// Joins the stabiliser ids that belong to one Wyckoff position: those the
// operations map into each other, and pieces of one fixed line or plane.
UnionFind join_wyckoff_classes(const SpaceGroup& group, const std::vector<Vector3i>& shifts,
                               const Stabilisers& stabilisers) {
  const int keys = static_cast<int>(stabilisers.representative.size());
  UnionFind classes(keys);
  for (int id = 0; id < keys; ++id) {
    const Vector3i p = grid_point(stabilisers.representative[static_cast<std::size_t>(id)]);
    for (std::size_t k = 0; k < group.operations.size(); ++k) {
      const Vector3i q = group.operations[k].rotation * p + shifts[k];
      classes.join(id, stabilisers.key_of_point[static_cast<std::size_t>(grid_index(q))]);
    }
    // Pieces of the same fixed line or plane, cut apart by the cell boundary,
    // have stabilisers that differ by lattice translations: join them.
    const auto& basis = stabilisers.directions[static_cast<std::size_t>(id)];
    const int dimension = static_cast<int>(basis.size());
    if (dimension == 0 || dimension == 3) continue;
    const Vector3i d1 = basis[0].cast<int>();
    const Vector3i d2 = dimension == 2 ? Vector3i(basis[1].cast<int>()) : Vector3i::Zero();
    for (int a = 0; a < grid; ++a)
      for (int b = 0; b < (dimension == 2 ? grid : 1); ++b) {
        const int other =
            stabilisers.key_of_point[static_cast<std::size_t>(grid_index(p + a * d1 + b * d2))];
        if (stabilisers.order[static_cast<std::size_t>(other)] ==
            stabilisers.order[static_cast<std::size_t>(id)])
          classes.join(id, other);
      }
  }
  return classes;
}

// One Wyckoff position per class (its first stabiliser id), sorted by
// multiplicity, then dimension.
std::vector<WyckoffPosition> wyckoff_positions(int operation_count, const Stabilisers& stabilisers,
                                               UnionFind& classes) {
  std::vector<WyckoffPosition> positions;
  std::map<int, int> seen;
  const int keys = static_cast<int>(stabilisers.representative.size());
  for (int id = 0; id < keys; ++id) {
    const int root = classes.find(id);
    if (seen.count(root)) continue;
    seen[root] = id;
    WyckoffPosition position;
    position.site_symmetry_order = stabilisers.order[static_cast<std::size_t>(id)];
    position.multiplicity = operation_count / position.site_symmetry_order;
    position.directions = stabilisers.directions[static_cast<std::size_t>(id)];
    position.dimension = static_cast<int>(position.directions.size());
    position.origin =
        grid_point(stabilisers.representative[static_cast<std::size_t>(id)]).cast<double>() / grid;
    positions.push_back(position);
  }
  std::stable_sort(positions.begin(), positions.end(),
                   [](const WyckoffPosition& a, const WyckoffPosition& b) {
                     return std::make_pair(a.multiplicity, a.dimension) <
                            std::make_pair(b.multiplicity, b.dimension);
                   });
  return positions;
}

SpaceGroup derive(int number) {
  SpaceGroup group;
  group.number = number;
  group.hall_number = first_hall_numbers()[static_cast<std::size_t>(number)];
  const SpglibSpacegroupType type = spg_get_spacegroup_type(group.hall_number);
  group.symbol = type.international_short;
  const std::vector<Vector3i> shifts = read_operations(group);
  const Stabilisers stabilisers = find_stabilisers(group, shifts);
  UnionFind classes = join_wyckoff_classes(group, shifts, stabilisers);
  group.wyckoff =
      wyckoff_positions(static_cast<int>(group.operations.size()), stabilisers, classes);
  return group;
}

}  // namespace

const SpaceGroup& space_group(int number) {
  if (number < 1 || number > 230)
    throw Error("space group number " + std::to_string(number) + " is outside 1–230");
  static std::array<std::unique_ptr<SpaceGroup>, 231> cache;
  static std::array<std::once_flag, 231> flags;
  const auto slot = static_cast<std::size_t>(number);
  std::call_once(flags[slot], [&] { cache[slot] = std::make_unique<SpaceGroup>(derive(number)); });
  return *cache[slot];
}

std::vector<Eigen::Vector3d> orbit(const SpaceGroup& group, const Eigen::Vector3d& point,
                                   double tolerance) {
  std::vector<Eigen::Vector3d> images;
  for (const auto& op : group.operations) {
    Eigen::Vector3d image = op.rotation.cast<double>() * point + op.translation;
    for (int a = 0; a < 3; ++a) {
      image[a] -= std::floor(image[a]);
      if (image[a] >= 1.0 - tolerance) image[a] = 0.0;
    }
    bool known = false;
    for (const auto& other : images) {
      Eigen::Vector3d difference = image - other;
      for (int a = 0; a < 3; ++a) difference[a] -= std::round(difference[a]);
      if (difference.cwiseAbs().maxCoeff() < tolerance) {
        known = true;
        break;
      }
    }
    if (!known) images.push_back(image);
  }
  return images;
}

std::optional<FoundSymmetry> find_symmetry(const Structure& structure, double symprec) {
  const int atoms = structure.size();
  if (atoms == 0) return std::nullopt;
  double lattice[3][3];
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) lattice[a][b] = structure.cell(b, a);  // columns are vectors
  const Eigen::Matrix3d inverse = structure.cell.inverse();
  std::vector<std::array<double, 3>> positions(static_cast<std::size_t>(atoms));
  for (int i = 0; i < atoms; ++i) {
    const Eigen::RowVector3d fractional = structure.positions.row(i) * inverse;
    for (int a = 0; a < 3; ++a)
      positions[static_cast<std::size_t>(i)][static_cast<std::size_t>(a)] = fractional[a];
  }
  SpglibDataset* dataset =
      spg_get_dataset(lattice, reinterpret_cast<double(*)[3]>(positions.data()),
                      structure.numbers.data(), atoms, symprec);
  if (!dataset) return std::nullopt;
  FoundSymmetry found;
  found.number = dataset->spacegroup_number;
  found.symbol = dataset->international_symbol;
  for (int i = 0; i < atoms; ++i) {
    found.wyckoff_letters.push_back(std::string(1, static_cast<char>('a' + dataset->wyckoffs[i])));
    found.equivalent_atoms.push_back(dataset->equivalent_atoms[i]);
  }
  spg_free_dataset(dataset);
  return found;
}

bool same_group_up_to_mirror(int a, int b) {
  // International Tables, Vol. A, §3.1.1.4: the enantiomorphic space-group types.
  constexpr std::array<std::pair<int, int>, 11> pairs{{{76, 78},
                                                       {91, 95},
                                                       {92, 96},
                                                       {144, 145},
                                                       {151, 153},
                                                       {152, 154},
                                                       {169, 170},
                                                       {171, 172},
                                                       {178, 179},
                                                       {180, 181},
                                                       {212, 213}}};
  if (a == b) return true;
  return std::any_of(pairs.begin(), pairs.end(), [&](const std::pair<int, int>& pair) {
    return (pair.first == a && pair.second == b) || (pair.first == b && pair.second == a);
  });
}

}  // namespace otfgp::search
