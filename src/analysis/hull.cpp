#include "otfgp/analysis/hull.hpp"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <stdexcept>

extern "C" {
#include <libqhull_r/qhull_ra.h>
}

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"

namespace otfgp {

namespace {

// Entries whose composition differs by less than this (atomic fraction) are
// the same composition; reference amounts this far below zero are rounding.
constexpr double composition_tolerance = 1e-8;
// pymatgen's PhaseDiagram.formation_energy_tol: only points this far below the
// references' plane can be hull vertices.
constexpr double formation_energy_tolerance = 1e-11;
// pymatgen drops simplices whose [x, 1] matrix has a smaller determinant.
constexpr double degenerate_determinant = 1e-14;
// Slack for "this point lies in that facet" (barycentric coordinates) and for
// "this plane is the highest one here" (eV/atom).
constexpr double barycentric_tolerance = 1e-9;
constexpr double plane_tolerance = 1e-9;
// A vertex whose facets lie in one plane to within this (eV/atom) is a point
// of a flat stretch, not a corner: as formation_energy_tolerance, rounding
// (1e-16 relative) and no more.
constexpr double flat_tolerance = 1e-13;

struct QhullFacet {
  std::vector<int> vertices;
  double normal_last = 0.0;  // last component of the outward normal
};

// Triangulated ("Qt") convex hull of n points in `dimension` dimensions.
std::vector<QhullFacet> run_qhull(std::vector<double>& points, int dimension, const char* options) {
  const int count = static_cast<int>(points.size()) / dimension;
  char* message_buffer = nullptr;
  std::size_t message_size = 0;
  FILE* errors = open_memstream(&message_buffer, &message_size);
  qhT qh_storage;
  qhT* qh = &qh_storage;
  qh_zero(qh, errors);
  std::string command = std::string("qhull ") + options;
  const int exit_code =
      qh_new_qhull(qh, dimension, count, points.data(), False, command.data(), nullptr, errors);
  std::vector<QhullFacet> facets;
  if (exit_code == 0) {
    facetT* facet;
    vertexT *vertex, **vertexp;
    FORALLfacets {
      QhullFacet result;
      result.normal_last = facet->normal ? facet->normal[dimension - 1] : 0.0;
      FOREACHvertex_(facet->vertices) result.vertices.push_back(qh_pointid(qh, vertex->point));
      facets.push_back(std::move(result));
    }
  }
  qh_freeqhull(qh, !qh_ALL);
  int remaining_long = 0, total_long = 0;
  qh_memfreeshort(qh, &remaining_long, &total_long);
  std::fclose(errors);
  const std::string message(message_buffer ? message_buffer : "", message_size);
  std::free(message_buffer);
  if (exit_code != 0)
    throw std::runtime_error("qhull failed (" + std::to_string(exit_code) + "): " + message);
  return facets;
}

// A lower-hull simplex: its vertices (local point indices), the inverse of
// A = [[x₂…x_k of each vertex as columns]; [1 … 1]] for barycentric
// coordinates, and the plane ΔH(x) = plane · [x₂…x_k, 1].
struct LowerFacet {
  std::vector<int> vertices;
  Eigen::MatrixXd inverse;
  Eigen::VectorXd plane;
};

// The points the geometric core sees: fractions of the k references and
// energies per atom, one row per point.
struct HullPoints {
  int dimension = 0;          // k
  Eigen::MatrixXd fractions;  // n × k
  Eigen::VectorXd energy;     // n, eV/atom
};

struct HullGeometry {
  std::vector<int> corner;          // per reference: the lowest point at that corner, −1 if none
  Eigen::VectorXd formation;        // n, eV/atom
  std::vector<int> representative;  // n: lowest point with the same composition
  std::vector<LowerFacet> facets;
  std::vector<char> stable;  // n
  bool complete() const { return std::find(corner.begin(), corner.end(), -1) == corner.end(); }
};

// Rounded fractions: the key that groups equal compositions.
std::vector<long long> composition_key(const Eigen::MatrixXd& fractions, int row) {
  std::vector<long long> key(static_cast<std::size_t>(fractions.cols()));
  for (int j = 0; j < fractions.cols(); ++j)
    key[static_cast<std::size_t>(j)] = std::llround(fractions(row, j) / composition_tolerance);
  return key;
}

// Groups equal compositions; the lowest energy (first on ties) represents
// them. Sets geometry.representative and geometry.corner; returns the
// representatives.
std::vector<int> group_compositions(const HullPoints& points, HullGeometry& geometry) {
  const int k = points.dimension;
  const int n = static_cast<int>(points.energy.size());
  std::vector<std::vector<long long>> keys(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    keys[static_cast<std::size_t>(i)] = composition_key(points.fractions, i);
  std::vector<int> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    const auto &ka = keys[static_cast<std::size_t>(a)], &kb = keys[static_cast<std::size_t>(b)];
    if (ka != kb) return ka < kb;
    if (points.energy[a] != points.energy[b]) return points.energy[a] < points.energy[b];
    return a < b;
  });
  std::vector<int> representatives;
  for (std::size_t position = 0; position < order.size(); ++position) {
    const int i = order[position];
    if (position == 0 ||
        keys[static_cast<std::size_t>(i)] != keys[static_cast<std::size_t>(order[position - 1])])
      representatives.push_back(i);
    geometry.representative[static_cast<std::size_t>(i)] = representatives.back();
  }
  const long long whole = std::llround(1.0 / composition_tolerance);
  for (int i : representatives)
    for (int j = 0; j < k; ++j)
      if (keys[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)] == whole)
        geometry.corner[static_cast<std::size_t>(j)] = i;
  return representatives;
}

// The facets of the lower hull of the candidate points (fractions but the
// first, formation energy), from qhull. A point far above the centre makes
// the set full-dimensional even when every formation energy is zero (all
// points coplanar); facets through it, facets facing up and degenerate
// simplices are dropped, as pymatgen does.
void add_lower_facets(const HullPoints& points, const std::vector<int>& candidates,
                      HullGeometry& geometry) {
  const int k = points.dimension;
  std::vector<double> coordinates;
  coordinates.reserve(
      static_cast<std::size_t>((candidates.size() + 1) * static_cast<std::size_t>(k)));
  double highest = 0.0;
  for (int i : candidates) {
    for (int j = 1; j < k; ++j) coordinates.push_back(points.fractions(i, j));
    coordinates.push_back(geometry.formation[i]);
    highest = std::max(highest, geometry.formation[i]);
  }
  for (int j = 1; j < k; ++j) coordinates.push_back(1.0 / k);
  coordinates.push_back(highest + 1.0);
  const int extra_point = static_cast<int>(candidates.size());

  for (const QhullFacet& facet : run_qhull(coordinates, k, "Qt")) {
    if (facet.normal_last >= 0.0) continue;
    if (std::find(facet.vertices.begin(), facet.vertices.end(), extra_point) !=
        facet.vertices.end())
      continue;
    if (static_cast<int>(facet.vertices.size()) != k) continue;
    Eigen::MatrixXd matrix(k, k);
    Eigen::VectorXd vertex_formation(k);
    LowerFacet lower;
    for (int v = 0; v < k; ++v) {
      const int i =
          candidates[static_cast<std::size_t>(facet.vertices[static_cast<std::size_t>(v)])];
      lower.vertices.push_back(i);
      for (int j = 1; j < k; ++j) matrix(j - 1, v) = points.fractions(i, j);
      matrix(k - 1, v) = 1.0;
      vertex_formation[v] = geometry.formation[i];
    }
    if (!(std::abs(matrix.determinant()) > degenerate_determinant)) continue;
    lower.inverse = matrix.inverse();
    lower.plane = lower.inverse.transpose() * vertex_formation;
    for (int i : lower.vertices) geometry.stable[static_cast<std::size_t>(i)] = 1;
    geometry.facets.push_back(std::move(lower));
  }
}

// [x₂…x_k, 1] of point i, the argument of a facet's plane.
Eigen::VectorXd lifted_point(const HullPoints& points, int i) {
  const int k = points.dimension;
  Eigen::VectorXd lifted(k);
  for (int j = 1; j < k; ++j) lifted[j - 1] = points.fractions(i, j);
  lifted[k - 1] = 1.0;
  return lifted;
}

// Vertices but the corners whose facets (two or more) all lie in one plane, within
// flat_tolerance: points inside a flat stretch of the hull, not corners of
// it, which qhull keeps as vertices or not as rounding falls (e_above_hull
// ±1e-16).
std::vector<int> flat_vertices(const HullPoints& points, const HullGeometry& geometry) {
  std::map<int, std::vector<const LowerFacet*>> incident;
  for (const LowerFacet& facet : geometry.facets)
    for (int v : facet.vertices) incident[v].push_back(&facet);
  std::vector<int> flat;
  for (const auto& [v, facets] : incident) {
    if (facets.size() < 2 ||
        std::find(geometry.corner.begin(), geometry.corner.end(), v) != geometry.corner.end())
      continue;
    const Eigen::VectorXd& plane = facets.front()->plane;
    const bool one_plane = std::all_of(facets.begin(), facets.end(), [&](const LowerFacet* f) {
      return std::all_of(f->vertices.begin(), f->vertices.end(), [&](int u) {
        return std::abs(plane.dot(lifted_point(points, u)) - geometry.formation[u]) <=
               flat_tolerance;
      });
    });
    if (one_plane) flat.push_back(v);
  }
  return flat;
}

HullGeometry build_geometry(const HullPoints& points) {
  const int k = points.dimension;
  const int n = static_cast<int>(points.energy.size());
  HullGeometry geometry;
  geometry.corner.assign(static_cast<std::size_t>(k), -1);
  geometry.representative.assign(static_cast<std::size_t>(n), -1);
  geometry.stable.assign(static_cast<std::size_t>(n), 0);
  geometry.formation = Eigen::VectorXd::Zero(n);
  const std::vector<int> representatives = group_compositions(points, geometry);
  if (!geometry.complete()) return geometry;

  Eigen::VectorXd corner_energy(k);
  for (int j = 0; j < k; ++j)
    corner_energy[j] = points.energy[geometry.corner[static_cast<std::size_t>(j)]];
  geometry.formation = points.energy - points.fractions * corner_energy;

  if (k == 1) {
    geometry.stable[static_cast<std::size_t>(geometry.corner[0])] = 1;
    return geometry;
  }

  // Only points below the references' plane can be vertices; the corners close
  // the hull.
  std::vector<int> candidates;
  for (int i : representatives)
    if (geometry.formation[i] < -formation_energy_tolerance) candidates.push_back(i);
  for (int c : geometry.corner) candidates.push_back(c);
  add_lower_facets(points, candidates, geometry);
  // Stable means a corner of the hull, and decompositions name corners only:
  // points of a flat stretch leave the candidates and the hull is taken again
  // (they then lie on it, e_above_hull 0 within rounding).
  for (std::vector<int> flat = flat_vertices(points, geometry); !flat.empty();
       flat = flat_vertices(points, geometry)) {
    for (int v : flat) candidates.erase(std::find(candidates.begin(), candidates.end(), v));
    geometry.facets.clear();
    geometry.stable.assign(static_cast<std::size_t>(n), 0);
    add_lower_facets(points, candidates, geometry);
  }
  if (geometry.facets.empty()) throw std::runtime_error("hull: qhull returned no lower facet");
  return geometry;
}

struct Location {
  double hull_energy = 0.0;  // formation energy of the hull at the point, eV/atom
  int facet = -1;
  Eigen::VectorXd barycentric;
};

// The hull is the graph of a convex piecewise-linear function, so its value is
// the highest facet plane; among the planes within tolerance of it, the facet
// that contains the point (largest smallest barycentric coordinate) gives the
// decomposition. Coplanar triangles of one merged facet share a plane, hence
// the containment test.
Location locate(const HullGeometry& geometry, const Eigen::VectorXd& lifted) {
  Location location;
  location.hull_energy = -std::numeric_limits<double>::infinity();
  std::vector<double> values(geometry.facets.size());
  for (std::size_t f = 0; f < geometry.facets.size(); ++f) {
    values[f] = geometry.facets[f].plane.dot(lifted);
    location.hull_energy = std::max(location.hull_energy, values[f]);
  }
  double best_containment = -std::numeric_limits<double>::infinity();
  for (std::size_t f = 0; f < geometry.facets.size(); ++f) {
    if (values[f] < location.hull_energy - plane_tolerance) continue;
    Eigen::VectorXd lambda = geometry.facets[f].inverse * lifted;
    const double containment = lambda.minCoeff();
    if (containment > best_containment) {
      best_containment = containment;
      location.facet = static_cast<int>(f);
      location.barycentric = std::move(lambda);
    }
    if (containment >= -barycentric_tolerance) break;
  }
  return location;
}

std::string reference_name(const Composition& reference) {
  return reference.reduced_formula();
}

// End members of the entries' compositions: the vertices of their convex hull
// inside the affine space they span (qhull in that space's own dimension).
std::vector<Composition> suggest_end_members(const std::vector<Composition>& compositions) {
  std::vector<int> elements;
  for (const auto& composition : compositions)
    for (int z : composition.elements()) elements.push_back(z);
  std::sort(elements.begin(), elements.end());
  elements.erase(std::unique(elements.begin(), elements.end()), elements.end());
  std::vector<Composition> distinct;
  for (const auto& composition : compositions) {
    const bool seen = std::any_of(distinct.begin(), distinct.end(), [&](const Composition& other) {
      return other.same_fractions(composition, composition_tolerance);
    });
    if (!seen) distinct.push_back(composition);
  }
  const int n = static_cast<int>(distinct.size()), m = static_cast<int>(elements.size());
  if (n <= 1) return distinct;
  Eigen::MatrixXd x(n, m);
  for (int i = 0; i < n; ++i) {
    const Composition fractions = distinct[static_cast<std::size_t>(i)].fractional();
    for (int e = 0; e < m; ++e) x(i, e) = fractions.amount(elements[static_cast<std::size_t>(e)]);
  }
  const Eigen::RowVectorXd centre = x.colwise().mean();
  const Eigen::MatrixXd centred = x.rowwise() - centre;
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(centred, Eigen::ComputeThinV);
  const auto& singular = svd.singularValues();
  int rank = 0;
  for (int s = 0; s < singular.size(); ++s)
    if (singular[s] > 1e-8 * std::max(1.0, singular[0])) ++rank;
  if (rank == 0) return {distinct.front()};
  const Eigen::MatrixXd projected = centred * svd.matrixV().leftCols(rank);
  std::vector<int> vertices;
  if (rank == 1) {
    int low = 0, high = 0;
    projected.col(0).minCoeff(&low);
    projected.col(0).maxCoeff(&high);
    vertices = {low, high};
  } else {
    std::vector<double> coordinates(projected.data(), projected.data() + projected.size());
    // Eigen is column-major: lay the points out row by row for qhull.
    for (int i = 0; i < n; ++i)
      for (int d = 0; d < rank; ++d)
        coordinates[static_cast<std::size_t>(i * rank + d)] = projected(i, d);
    try {
      for (const QhullFacet& facet : run_qhull(coordinates, rank, "Qt"))
        for (int v : facet.vertices) vertices.push_back(v);
    } catch (const std::runtime_error&) {
      return {};
    }
    std::sort(vertices.begin(), vertices.end());
    vertices.erase(std::unique(vertices.begin(), vertices.end()), vertices.end());
  }
  std::vector<Composition> result;
  for (int v : vertices) result.push_back(distinct[static_cast<std::size_t>(v)]);
  return result;
}

// What compute_hull keeps between the full run and the sampled runs.
struct PreparedEntries {
  HullPoints points;
  std::vector<std::size_t> entry;  // original index of each point
};

}  // namespace

std::string references_label(const std::vector<Composition>& references) {
  std::string label;
  for (const auto& reference : references)
    label += (label.empty() ? "" : "–") + reference_name(reference);
  return label;
}

namespace {

void validate_entries(const std::vector<HullEntry>& entries) {
  if (entries.empty()) throw Error("hull: no entries");
  for (const HullEntry& entry : entries) {
    if (entry.composition.empty() || !(entry.composition.total() > 0))
      throw Error("hull: entry '" + entry.id + "' has an empty composition");
    if (entry.std_per_atom && !(std::isfinite(*entry.std_per_atom) && *entry.std_per_atom >= 0))
      throw Error("hull: entry '" + entry.id + "' has a standard deviation of " +
                  std::to_string(*entry.std_per_atom) + " eV/atom; it must be finite and ≥ 0");
    // Beyond these no number is an energy per atom (an all-electron total energy
    // of a heavy element is ~2e5 eV/atom), and qhull's round-off breaks down.
    constexpr double max_magnitude = 1e6;
    if (std::abs(entry.energy_per_atom) > max_magnitude && std::isfinite(entry.energy_per_atom))
      throw Error(
          fmt::format("hull: entry '{}' has an energy of {:g} eV/atom, beyond ±{:g}: wrong "
                      "units or a corrupt table",
                      entry.id, entry.energy_per_atom, max_magnitude));
    if (entry.std_per_atom && *entry.std_per_atom > max_magnitude)
      throw Error(
          fmt::format("hull: entry '{}' has a standard deviation of {:g} eV/atom, beyond "
                      "{:g}: wrong units or a corrupt table",
                      entry.id, *entry.std_per_atom, max_magnitude));
  }
}

// The references as columns of element fractions, and its QR for projecting
// entries onto them.
struct ReferenceSpace {
  std::vector<Composition> references;
  std::vector<int> elements;  // ascending
  bool elemental = false;     // the references are the entries' elements
  Eigen::MatrixXd basis;      // elements × references
  Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr;
  int size() const { return static_cast<int>(references.size()); }
};

// References, each normalised to one atom: the given ones, or the entries'
// elements in electronegativity order, as formulas are written (Ba–Rh–O).
ReferenceSpace reference_space(const std::vector<HullEntry>& entries, const HullOptions& options) {
  ReferenceSpace space;
  std::vector<int>& elements = space.elements;
  for (const auto& entry : entries)
    for (int z : entry.composition.elements()) elements.push_back(z);
  space.elemental = options.references.empty();
  if (space.elemental) {
    std::sort(elements.begin(), elements.end());
    elements.erase(std::unique(elements.begin(), elements.end()), elements.end());
    std::vector<int> order = elements;
    std::stable_sort(order.begin(), order.end(), [](int a, int b) {
      return ordering_electronegativity(a) < ordering_electronegativity(b);
    });
    for (int z : order) space.references.push_back(Composition({{z, 1.0}}));
  } else {
    space.references = options.references;
    for (const auto& reference : space.references) {
      if (reference.empty()) throw Error("hull: a reference composition is empty");
      for (int z : reference.elements()) elements.push_back(z);
    }
    std::sort(elements.begin(), elements.end());
    elements.erase(std::unique(elements.begin(), elements.end()), elements.end());
  }
  const int k = space.size();
  const int m = static_cast<int>(elements.size());
  space.basis.resize(m, k);
  for (int j = 0; j < k; ++j) {
    const Composition fractions = space.references[static_cast<std::size_t>(j)].fractional();
    for (int e = 0; e < m; ++e)
      space.basis(e, j) = fractions.amount(elements[static_cast<std::size_t>(e)]);
  }
  space.qr.compute(space.basis);
  space.qr.setThreshold(1e-10);
  if (space.qr.rank() < k)
    throw Error("hull: the references " + references_label(space.references) +
                " are not linearly independent: one of them is a mixture of the others");
  return space;
}

// The entry as atomic fractions of the references (summing to one, snapped to
// exact corners), or, in `exclusion`, why it has none.
std::optional<Eigen::VectorXd> project_entry(const HullEntry& entry, const ReferenceSpace& space,
                                             std::string& exclusion) {
  if (!std::isfinite(entry.energy_per_atom)) {
    exclusion = "its energy is not a number (" + std::to_string(entry.energy_per_atom) + ")";
    return std::nullopt;
  }
  const std::string label = references_label(space.references);
  const Composition fractions = entry.composition.fractional();
  std::vector<int> foreign;
  for (int z : fractions.elements())
    if (!std::binary_search(space.elements.begin(), space.elements.end(), z)) foreign.push_back(z);
  if (!foreign.empty()) {
    exclusion =
        "it contains " + symbols_text(foreign, ", ") + ", which no reference (" + label + ") has";
    return std::nullopt;
  }
  const int m = static_cast<int>(space.elements.size());
  Eigen::VectorXd target(m);
  for (int e = 0; e < m; ++e)
    target[e] = fractions.amount(space.elements[static_cast<std::size_t>(e)]);
  Eigen::VectorXd amounts = space.qr.solve(target);
  if ((space.basis * amounts - target).norm() > composition_tolerance) {
    exclusion = "its composition is not a combination of the references " + label;
    return std::nullopt;
  }
  if (amounts.minCoeff() < -composition_tolerance) {
    int worst = 0;
    amounts.minCoeff(&worst);
    exclusion = "it lies outside the " + label + " range (it would need " +
                std::to_string(amounts[worst]) + " of " +
                reference_name(space.references[static_cast<std::size_t>(worst)]) + ")";
    return std::nullopt;
  }
  amounts = amounts.cwiseMax(0.0);
  amounts /= amounts.sum();
  // Snap to exact corners so that a reference compound is recognised as one.
  for (int j = 0; j < space.size(); ++j)
    if (amounts[j] > 1.0 - composition_tolerance) {
      amounts.setZero();
      amounts[j] = 1.0;
    }
  return amounts;
}

// The included entries as hull points; marks each entry included or excluded.
PreparedEntries project_entries(const std::vector<HullEntry>& entries, const ReferenceSpace& space,
                                Hull& hull) {
  PreparedEntries prepared;
  prepared.points.dimension = space.size();
  std::vector<Eigen::VectorXd> rows;
  std::vector<double> energies;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    HullEntryResult& result = hull.entries[i];
    const auto amounts = project_entry(entries[i], space, result.exclusion);
    if (!amounts) continue;
    result.included = true;
    result.coordinates = *amounts;
    rows.push_back(*amounts);
    energies.push_back(entries[i].energy_per_atom);
    prepared.entry.push_back(i);
  }
  const int n = static_cast<int>(rows.size());
  if (n == 0)
    throw Error("hull: no entry lies in the space of the references " +
                references_label(space.references));
  prepared.points.fractions.resize(n, space.size());
  prepared.points.energy.resize(n);
  for (int p = 0; p < n; ++p) {
    prepared.points.fractions.row(p) = rows[static_cast<std::size_t>(p)].transpose();
    prepared.points.energy[p] = energies[static_cast<std::size_t>(p)];
  }
  return prepared;
}

// A reference without an entry: name it and, for elemental references,
// suggest terminal compounds that span the entries.
[[noreturn]] void throw_missing_reference(const ReferenceSpace& space, const HullGeometry& geometry,
                                          const std::vector<HullEntry>& entries,
                                          const PreparedEntries& prepared) {
  const int k = space.size();
  std::string missing;
  for (int j = 0; j < k; ++j)
    if (geometry.corner[static_cast<std::size_t>(j)] < 0)
      missing += (missing.empty() ? "" : ", ") +
                 reference_name(space.references[static_cast<std::size_t>(j)]);
  std::string message =
      "hull: no entry (with a finite energy) has the composition of the reference" +
      std::string(missing.find(',') != std::string::npos ? "s " : " ") + missing + ".";
  if (!space.elemental) {
    message += " Add an entry with that composition or choose other references.";
    throw Error(message);
  }
  std::vector<Composition> included_compositions;
  for (std::size_t i : prepared.entry) included_compositions.push_back(entries[i].composition);
  auto end_members = suggest_end_members(included_compositions);
  std::sort(end_members.begin(), end_members.end(), [](const Composition& a, const Composition& b) {
    return a.reduced_formula() < b.reduced_formula();
  });
  if (!end_members.empty() && static_cast<int>(end_members.size()) < k + 1) {
    std::string list;
    for (const auto& member : end_members)
      list += (list.empty() ? "" : " ") + reference_name(member);
    message +=
        " Add an elemental entry, or use terminal compounds as references: the entries lie "
        "between " +
        references_label(end_members) + " (e.g. --references " + list + ")";
  } else {
    message +=
        " Add an elemental entry, or choose terminal compounds that enclose the entries as "
        "references (--references).";
  }
  throw Error(message);
}

// Reference entries, stable entries and facets as entry indices.
void record_vertices(Hull& hull, const PreparedEntries& prepared, const HullGeometry& geometry) {
  const int n = static_cast<int>(prepared.entry.size());
  for (std::size_t j = 0; j < hull.references.size(); ++j)
    hull.reference_entries.push_back(prepared.entry[static_cast<std::size_t>(geometry.corner[j])]);
  for (int p = 0; p < n; ++p)
    if (geometry.stable[static_cast<std::size_t>(p)])
      hull.stable.push_back(prepared.entry[static_cast<std::size_t>(p)]);
  std::sort(hull.stable.begin(), hull.stable.end());
  for (const LowerFacet& facet : geometry.facets) {
    std::vector<std::size_t> vertices;
    for (int v : facet.vertices) vertices.push_back(prepared.entry[static_cast<std::size_t>(v)]);
    hull.facets.push_back(std::move(vertices));
  }
}

// Energy above the hull and decomposition of an unstable point p, from the
// facet below it.
void decompose(HullEntryResult& result, int p, const PreparedEntries& prepared,
               const HullGeometry& geometry) {
  const int k = prepared.points.dimension;
  const Eigen::VectorXd lifted = lifted_point(prepared.points, p);
  const Location location = locate(geometry, lifted);
  result.e_above_hull = std::max(0.0, geometry.formation[p] - location.hull_energy);
  const LowerFacet& facet = geometry.facets[static_cast<std::size_t>(location.facet)];
  double total = 0.0;
  for (int v = 0; v < k; ++v) {
    const double fraction = location.barycentric[v];
    if (fraction <= barycentric_tolerance) continue;
    result.decomposition.push_back(
        {prepared.entry[static_cast<std::size_t>(facet.vertices[static_cast<std::size_t>(v)])],
         fraction});
    total += fraction;
  }
  for (auto& part : result.decomposition) part.fraction /= total;
  std::sort(result.decomposition.begin(), result.decomposition.end(),
            [](const DecompositionPart& a, const DecompositionPart& b) {
              return a.fraction > b.fraction;
            });
}

void record_entry_results(Hull& hull, const PreparedEntries& prepared,
                          const HullGeometry& geometry) {
  const int k = prepared.points.dimension;
  for (int p = 0; p < static_cast<int>(prepared.entry.size()); ++p) {
    HullEntryResult& result = hull.entries[prepared.entry[static_cast<std::size_t>(p)]];
    result.formation_energy_per_atom = geometry.formation[p];
    const int representative = geometry.representative[static_cast<std::size_t>(p)];
    if (representative != p)
      result.duplicate_of = prepared.entry[static_cast<std::size_t>(representative)];
    if (geometry.stable[static_cast<std::size_t>(p)]) {
      result.stable = true;
      result.e_above_hull = 0.0;
      result.decomposition = {{prepared.entry[static_cast<std::size_t>(p)], 1.0}};
    } else if (k == 1) {
      result.e_above_hull = std::max(0.0, geometry.formation[p]);
      result.decomposition = {{prepared.entry[static_cast<std::size_t>(geometry.corner[0])], 1.0}};
    } else {
      decompose(result, p, prepared, geometry);
    }
  }
}

}  // namespace

// Validation, projection onto the references, then the hull.
Hull compute_hull(const std::vector<HullEntry>& entries, const HullOptions& options) {
  validate_entries(entries);
  const ReferenceSpace space = reference_space(entries, options);
  Hull hull;
  hull.references = space.references;
  hull.entries.resize(entries.size());
  const PreparedEntries prepared = project_entries(entries, space, hull);
  const HullGeometry geometry = build_geometry(prepared.points);
  if (!geometry.complete()) throw_missing_reference(space, geometry, entries, prepared);
  record_vertices(hull, prepared, geometry);
  record_entry_results(hull, prepared, geometry);
  return hull;
}

void sample_stability(Hull& hull, const std::vector<HullEntry>& entries,
                      const SamplingOptions& options) {
  if (hull.entries.size() != entries.size())
    throw std::invalid_argument("sample_stability: hull and entries differ");
  if (options.samples < 1) throw Error("hull: the number of samples must be at least 1");
  double largest_std = 0.0;
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (hull.entries[i].included && entries[i].std_per_atom)
      largest_std = std::max(largest_std, *entries[i].std_per_atom);
  const int k = static_cast<int>(hull.num_components());

  // Candidates: included entries that could reach the hull in a draw.
  std::vector<std::size_t> candidates;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const HullEntryResult& result = hull.entries[i];
    if (!result.included) continue;
    if (result.e_above_hull <= 12.0 * largest_std)
      candidates.push_back(i);
    else
      hull.entries[i].stability_probability = 0.0;
  }
  if (largest_std == 0.0) {
    for (std::size_t i : candidates)
      hull.entries[i].stability_probability = hull.entries[i].stable ? 1.0 : 0.0;
    return;
  }
  const int n = static_cast<int>(candidates.size());
  HullPoints points;
  points.dimension = k;
  points.fractions.resize(n, k);
  points.energy.resize(n);
  Eigen::VectorXd mean(n), sigma(n);
  for (int p = 0; p < n; ++p) {
    const std::size_t i = candidates[static_cast<std::size_t>(p)];
    points.fractions.row(p) = hull.entries[i].coordinates.transpose();
    mean[p] = entries[i].energy_per_atom;
    sigma[p] = entries[i].std_per_atom.value_or(0.0);
  }
  std::mt19937_64 generator(options.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<long> counts(static_cast<std::size_t>(n), 0);
  for (int s = 0; s < options.samples; ++s) {
    for (int p = 0; p < n; ++p)
      points.energy[p] = mean[p] + (sigma[p] > 0 ? sigma[p] * normal(generator) : 0.0);
    const HullGeometry geometry = build_geometry(points);
    for (int p = 0; p < n; ++p)
      counts[static_cast<std::size_t>(p)] += geometry.stable[static_cast<std::size_t>(p)];
  }
  for (int p = 0; p < n; ++p)
    hull.entries[candidates[static_cast<std::size_t>(p)]].stability_probability =
        static_cast<double>(counts[static_cast<std::size_t>(p)]) / options.samples;
}

}  // namespace otfgp
