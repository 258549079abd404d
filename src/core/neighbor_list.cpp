#include "otfgp/core/neighbor_list.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>

#include "otfgp/core/device_copy.hpp"
#include "otfgp/core/error.hpp"

namespace otfgp {

namespace {

using DeviceVec3 = Kokkos::View<double* [3], Kokkos::LayoutRight, MemSpace>;

KOKKOS_INLINE_FUNCTION int floor_div(int a, int b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Visits every (j, image) candidate of atom i from the bins within reach, with
// the pair vector already formed. Used twice: count, then fill.
struct BinnedPairSearch {
  VecView x;
  Box box;
  Kokkos::View<int* [3], Kokkos::LayoutRight, MemSpace> atom_bin;
  Kokkos::View<int*, MemSpace> bin_offsets;
  Kokkos::View<int*, MemSpace> bin_atoms;
  int nbins[3];
  int reach[3];
  int image_reach[3];
  double range_squared;

  template <class Accept>
  KOKKOS_INLINE_FUNCTION void visit(int i, const Accept& accept) const {
    const double xi[3] = {x(i, 0), x(i, 1), x(i, 2)};
    for (int oa = -reach[0]; oa <= reach[0]; ++oa) {
      int shift[3], target[3];
      for (int ob = -reach[1]; ob <= reach[1]; ++ob) {
        for (int oc = -reach[2]; oc <= reach[2]; ++oc) {
          const int o[3] = {oa, ob, oc};
          bool inside = true;
          for (int d = 0; d < 3; ++d) {
            const int t = atom_bin(i, d) + o[d];
            if (box.pbc[d]) {
              shift[d] = floor_div(t, nbins[d]);
              target[d] = t - shift[d] * nbins[d];
            } else {
              shift[d] = 0;
              target[d] = t;
              inside = inside && t >= 0 && t < nbins[d];
            }
          }
          if (!inside) continue;
          double translation[3];
          const double s[3] = {double(shift[0]), double(shift[1]), double(shift[2])};
          box.cartesian(s, translation);
          const int image = ((shift[0] + image_reach[0]) * (2 * image_reach[1] + 1) +
                             (shift[1] + image_reach[1])) *
                                (2 * image_reach[2] + 1) +
                            (shift[2] + image_reach[2]);
          const bool home = shift[0] == 0 && shift[1] == 0 && shift[2] == 0;
          const int bin = (target[0] * nbins[1] + target[1]) * nbins[2] + target[2];
          for (int k = bin_offsets(bin); k < bin_offsets(bin + 1); ++k) {
            const int j = bin_atoms(k);
            if (home && j == i) continue;
            double r2 = 0.0;
            for (int d = 0; d < 3; ++d) {
              const double r = x(j, d) + translation[d] - xi[d];
              r2 += r * r;
            }
            if (r2 < range_squared) accept(j, image);
          }
        }
      }
    }
  }
};

// Beyond these a cell is too thin for the cutoff (or the cutoff absurd for the
// cell): the image index and the pair count would overflow 32-bit integers and
// the list would not fit in memory. Ordinary inputs stay far below: a one-atom
// cell of 2.5 Å with a 10 Å cutoff needs 9 images per direction, 729 in all.
constexpr double max_image_reach = 1000;
constexpr double max_images = 1e6;

// Throws otfgp::Error, before any allocation, when the periodic images that
// `range` reaches along the periodic directions of `box` are absurdly many.
void check_image_count(const Box& box, double range) {
  const Eigen::Vector3d widths = box.widths();
  const char* const names[3] = {"a", "b", "c"};
  double total = 1;
  for (int d = 0; d < 3; ++d) {
    if (!box.pbc[d]) continue;
    const double reach = range / widths[d];
    char message[400];
    if (!std::isfinite(widths[d]) || !(reach <= max_image_reach)) {
      std::snprintf(
          message, sizeof message,
          "the cell is too thin along %s for the neighbour cutoff: its width there is "
          "%.3g Å, so cutoff + skin = %.6g Å needs %.3g periodic images in that direction "
          "(at most %.0f are allowed); check the cell vectors or the cutoff",
          names[d], widths[d], range, reach, max_image_reach);
      throw Error(message);
    }
    total *= 2 * std::ceil(reach) + 3;
  }
  if (total > max_images) {
    char message[400];
    std::snprintf(message, sizeof message,
                  "the cell is too thin for the neighbour cutoff: cutoff + skin = %.6g Å with "
                  "widths %.3g, %.3g, %.3g Å needs %.3g periodic images (at most %.0f are "
                  "allowed); check the cell vectors or the cutoff",
                  range, widths[0], widths[1], widths[2], total, max_images);
    throw Error(message);
  }
}

// Allocation of the pair arrays, with Kokkos's failure turned into a clear error.
Kokkos::View<int*, MemSpace> pair_array(const char* label, long pairs) {
  try {
    return Kokkos::View<int*, MemSpace>(Kokkos::ViewAllocateWithoutInitializing(label), pairs);
  } catch (const std::exception&) {
    throw Error("cannot allocate the neighbour list (" + std::to_string(pairs) +
                " pairs): the cutoff is too large for this many atoms");
  }
}

[[noreturn]] void throw_too_many_pairs(long pairs, int atoms) {
  throw Error("the neighbour list would hold " + std::to_string(pairs) + " pairs for " +
              std::to_string(atoms) +
              " atoms, more than 32-bit indices can address: the cutoff is far too large for "
              "this structure (or atoms are piled on top of each other)");
}

// The atoms' fractional coordinates and the box they span along each
// direction: the unit interval when periodic, the atoms' spread when free.
struct FractionalExtent {
  DeviceVec3 fractional;
  double low[3] = {0, 0, 0}, span[3] = {1, 1, 1};
};

FractionalExtent fractional_extent(const Box& box, const VecView& x, int n) {
  FractionalExtent result;
  DeviceVec3 fractional("NeighborList::fractional", n);
  result.fractional = fractional;
  fractional_positions(box, x, n, fractional);
  for (int d = 0; d < 3; ++d) {
    if (box.pbc[d] || n == 0) continue;
    Kokkos::MinMaxScalar<double> extent;
    Kokkos::parallel_reduce(
        "NeighborList::extent", RangePolicy(0, n),
        KOKKOS_LAMBDA(int i, Kokkos::MinMaxScalar<double>& value) {
          value.min_val = kmath::fmin(value.min_val, fractional(i, d));
          value.max_val = kmath::fmax(value.max_val, fractional(i, d));
        },
        Kokkos::MinMax<double>(extent));
    result.low[d] = extent.min_val;
    result.span[d] = std::max(extent.max_val - extent.min_val, 1e-12);
  }
  return result;
}

// Chooses the bins (no narrower than the range, not vastly more than atoms),
// how many bins and periodic images a search reaches; returns the bin count.
long size_bins(BinnedPairSearch& search, const FractionalExtent& extent, double range, int n) {
  const Eigen::Vector3d widths = search.box.widths();
  long total_bins = 1;
  for (int d = 0; d < 3; ++d) {
    const double length = extent.span[d] * widths[d];
    const long cap = std::max<long>(1, 4 * static_cast<long>(std::cbrt(double(n)) + 1));
    search.nbins[d] = static_cast<int>(std::clamp<long>(long(length / range), 1, cap));
    const double bin_width = length / search.nbins[d];
    // In double first: atoms in one plane (a flat slab, a dimer) give a free
    // direction a near-zero width, and a reach beyond int's range.
    double reach = std::ceil(range / bin_width - 1e-12);
    if (!search.box.pbc[d]) reach = std::min(reach, double(search.nbins[d] - 1));
    search.reach[d] = static_cast<int>(reach);
    search.image_reach[d] =
        search.box.pbc[d] ? (search.reach[d] + search.nbins[d] - 1) / search.nbins[d] : 0;
    total_bins *= search.nbins[d];
  }
  return total_bins;
}

// Counting sort of the atoms into the bins: fills atom_bin, bin_offsets, bin_atoms.
void sort_into_bins(BinnedPairSearch& search, const FractionalExtent& extent, long total_bins,
                    int n) {
  search.atom_bin =
      Kokkos::View<int* [3], Kokkos::LayoutRight, MemSpace>("NeighborList::atom_bin", n);
  Kokkos::View<int*, MemSpace> bin_count("NeighborList::bin_count", total_bins);
  const auto atom_bin = search.atom_bin;
  const DeviceVec3 fractional = extent.fractional;
  const int nb0 = search.nbins[0], nb1 = search.nbins[1], nb2 = search.nbins[2];
  const double lo0 = extent.low[0], lo1 = extent.low[1], lo2 = extent.low[2];
  const double sp0 = extent.span[0], sp1 = extent.span[1], sp2 = extent.span[2];
  Kokkos::parallel_for(
      "NeighborList::assign_bins", RangePolicy(0, n), KOKKOS_LAMBDA(int i) {
        const int nb[3] = {nb0, nb1, nb2};
        const double lo[3] = {lo0, lo1, lo2}, sp[3] = {sp0, sp1, sp2};
        for (int d = 0; d < 3; ++d) {
          int b = static_cast<int>(kmath::floor((fractional(i, d) - lo[d]) / sp[d] * nb[d]));
          atom_bin(i, d) = b < 0 ? 0 : (b >= nb[d] ? nb[d] - 1 : b);
        }
        const int bin = (atom_bin(i, 0) * nb1 + atom_bin(i, 1)) * nb2 + atom_bin(i, 2);
        Kokkos::atomic_add(&bin_count(bin), 1);
      });
  search.bin_offsets = Kokkos::View<int*, MemSpace>("NeighborList::bin_offsets", total_bins + 1);
  const auto bin_offsets = search.bin_offsets;
  Kokkos::parallel_scan(
      "NeighborList::scan_bins", RangePolicy(0, total_bins),
      KOKKOS_LAMBDA(int b, int& sum, bool final) {
        sum += bin_count(b);
        if (final) bin_offsets(b + 1) = sum;
      });
  search.bin_atoms = Kokkos::View<int*, MemSpace>("NeighborList::bin_atoms", n);
  const auto bin_atoms = search.bin_atoms;
  Kokkos::deep_copy(bin_count, 0);
  // Atoms enter their bin in index order on serial backends; on parallel ones
  // the order within a bin is arbitrary, which only permutes pairs.
  Kokkos::parallel_for(
      "NeighborList::fill_bins", RangePolicy(0, n), KOKKOS_LAMBDA(int i) {
        const int bin = (atom_bin(i, 0) * nb1 + atom_bin(i, 1)) * nb2 + atom_bin(i, 2);
        bin_atoms(bin_offsets(bin) + Kokkos::atomic_fetch_add(&bin_count(bin), 1)) = i;
      });
}

struct PairArrays {
  Kokkos::View<int*, MemSpace> offsets, index, image;
  int count = 0;
};

// The list in CSR form: count the pairs of each atom, scan, fill.
PairArrays find_pairs(const BinnedPairSearch& search, int n) {
  PairArrays pairs;
  Kokkos::View<int*, MemSpace> offsets("NeighborList::offsets", n + 1);
  long total_pairs = 0;
  Kokkos::parallel_reduce(
      "NeighborList::count_pairs", RangePolicy(0, n),
      KOKKOS_LAMBDA(int i, long& sum) {
        long count = 0;
        search.visit(i, [&](int, int) { ++count; });
        offsets(i + 1) = count < INT_MAX ? static_cast<int>(count) : INT_MAX;
        sum += count;
      },
      total_pairs);
  if (total_pairs >= INT_MAX) throw_too_many_pairs(total_pairs, n);
  Kokkos::parallel_scan(
      "NeighborList::scan_pairs", RangePolicy(0, n), KOKKOS_LAMBDA(int i, int& sum, bool final) {
        sum += offsets(i + 1);
        if (final) offsets(i + 1) = sum;
      });
  Kokkos::deep_copy(pairs.count, Kokkos::subview(offsets, n));
  Kokkos::View<int*, MemSpace> index = pair_array("NeighborList::index", pairs.count);
  Kokkos::View<int*, MemSpace> image = pair_array("NeighborList::image", pairs.count);
  // The fill pass decides each pair again: writes stay inside the atom's
  // counted range, and a pass that rounds a distance differently from the
  // count (a GPU compiler may fuse the multiply-adds of one and not the other)
  // is an error, not a list with gaps.
  int disagreements = 0;
  Kokkos::parallel_reduce(
      "NeighborList::fill_pairs", RangePolicy(0, n),
      KOKKOS_LAMBDA(int i, int& sum) {
        const int end = offsets(i + 1);
        int k = offsets(i);
        search.visit(i, [&](int j, int m) {
          if (k < end) {
            index(k) = j;
            image(k) = m;
          }
          ++k;
        });
        if (k != end) ++sum;
      },
      disagreements);
  if (disagreements > 0)
    throw std::logic_error("NeighborList: the fill pass found other pairs than the count for " +
                           std::to_string(disagreements) + " atoms");
  pairs.offsets = offsets;
  pairs.index = index;
  pairs.image = image;
  return pairs;
}

}  // namespace

NeighborList::NeighborList(double cutoff, double skin) : cutoff_(cutoff), skin_(skin) {
  if (!(cutoff > 0.0)) throw Error("neighbour list cutoff must be positive");
  if (!(skin >= 0.0)) throw Error("neighbour list skin must not be negative");
}

void wrap_into_cell(const Box& box, const VecView& x, int natoms) {
  Kokkos::parallel_for(
      "NeighborList::wrap_positions", RangePolicy(0, natoms), KOKKOS_LAMBDA(int i) {
        const double r[3] = {x(i, 0), x(i, 1), x(i, 2)};
        double s[3], wrapped[3];
        box.fractional(r, s);
        for (int d = 0; d < 3; ++d)
          if (box.pbc[d]) s[d] -= kmath::floor(s[d]);
        box.cartesian(s, wrapped);
        for (int d = 0; d < 3; ++d) x(i, d) = wrapped[d];
      });
}

void fractional_positions(const Box& box, const VecView& x, int natoms, const VecView& s0) {
  Kokkos::parallel_for(
      "NeighborList::record_positions", RangePolicy(0, natoms), KOKKOS_LAMBDA(int i) {
        const double r[3] = {x(i, 0), x(i, 1), x(i, 2)};
        double s[3];
        box.fractional(r, s);
        for (int d = 0; d < 3; ++d) s0(i, d) = s[d];
      });
}

double max_displacement(const Box& box, const VecView& x, int natoms, const VecView& s0) {
  double max_displacement = 0.0;
  Kokkos::parallel_reduce(
      "NeighborList::max_displacement", RangePolicy(0, natoms),
      KOKKOS_LAMBDA(int i, double& largest) {
        largest = kmath::fmax(largest, displacement_since(box, x, i, s0));
      },
      Kokkos::Max<double>(max_displacement));
  return max_displacement;
}

void NeighborList::wrap_positions(AtomState& state) const {
  wrap_into_cell(state.box, state.x, state.natoms);
}

void NeighborList::set_images(int reach_a, int reach_b, int reach_c) {
  image_reach_[0] = reach_a;
  image_reach_[1] = reach_b;
  image_reach_[2] = reach_c;
  const int count = (2 * reach_a + 1) * (2 * reach_b + 1) * (2 * reach_c + 1);
  image_vector_ = DeviceVec3("NeighborList::image_vector", count);
}

void NeighborList::refresh_image_vectors(const Box& box) {
  auto host = Kokkos::create_mirror_view(image_vector_);
  const int* reach = image_reach_;
  int m = 0;
  for (int a = -reach[0]; a <= reach[0]; ++a)
    for (int b = -reach[1]; b <= reach[1]; ++b)
      for (int c = -reach[2]; c <= reach[2]; ++c, ++m) {
        const double s[3] = {double(a), double(b), double(c)};
        double r[3];
        box.cartesian(s, r);
        for (int d = 0; d < 3; ++d) host(m, d) = r[d];
      }
  Kokkos::deep_copy(image_vector_, host);
  box_at_refresh_ = box;
  view_.image_vector = image_vector_;
}

int max_entries_per_atom(const Kokkos::View<const int*, MemSpace>& offsets, int natoms) {
  int most = 0;
  Kokkos::parallel_reduce(
      "NeighborList::max_neighbors", RangePolicy(0, natoms),
      KOKKOS_LAMBDA(int i, int& m) {
        const int count = offsets(i + 1) - offsets(i);
        if (count > m) m = count;
      },
      Kokkos::Max<int>(most));
  return most;
}

void NeighborList::finish_build(const AtomState& state, Kokkos::View<int*, MemSpace> offsets,
                                Kokkos::View<int*, MemSpace> index,
                                Kokkos::View<int*, MemSpace> image) {
  view_.offsets = offsets;
  view_.index = index;
  view_.image = image;
  max_neighbors_ = max_entries_per_atom(offsets, state.natoms);
  refresh_image_vectors(state.box);
  box_at_build_ = state.box;
  fractional_at_build_ = VecView("NeighborList::fractional_at_build", state.natoms);
  fractional_positions(state.box, state.x, state.natoms, fractional_at_build_);
  ++num_builds_;
}

void NeighborList::build(AtomState& state) {
  // The old pairs are not needed any more: free them before the new ones are
  // allocated, so that the peak memory holds one list, not two.
  view_.index = {};
  view_.image = {};
  view_.offsets = {};
  fractional_at_build_ = VecView();
  const double range = cutoff_ + skin_;
  check_image_count(state.box, range);
  wrap_positions(state);
  const int n = state.natoms;
  const FractionalExtent extent = fractional_extent(state.box, state.x, n);
  BinnedPairSearch search;
  search.x = state.x;
  search.box = state.box;
  search.range_squared = range * range;
  const long total_bins = size_bins(search, extent, range, n);
  set_images(search.image_reach[0], search.image_reach[1], search.image_reach[2]);
  sort_into_bins(search, extent, total_bins, n);
  PairArrays pairs = find_pairs(search, n);
  num_pairs_ = pairs.count;
  finish_build(state, pairs.offsets, pairs.index, pairs.image);
}

void NeighborList::build_brute_force(AtomState& state) {
  const double range = cutoff_ + skin_;
  check_image_count(state.box, range);
  wrap_positions(state);
  const int n = state.natoms;
  const Box box = state.box;
  const Eigen::Vector3d widths = box.widths();
  int reach[3];
  for (int d = 0; d < 3; ++d)
    reach[d] = box.pbc[d] ? static_cast<int>(std::ceil(range / widths[d])) + 1 : 0;
  set_images(reach[0], reach[1], reach[2]);

  auto x = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state.x);
  std::vector<int> offsets(n + 1, 0), index, image;
  for (int i = 0; i < n; ++i) {
    int m = 0;
    for (int a = -reach[0]; a <= reach[0]; ++a)
      for (int b = -reach[1]; b <= reach[1]; ++b)
        for (int c = -reach[2]; c <= reach[2]; ++c, ++m) {
          const double s[3] = {double(a), double(b), double(c)};
          double t[3];
          box.cartesian(s, t);
          for (int j = 0; j < n; ++j) {
            if (j == i && a == 0 && b == 0 && c == 0) continue;
            double r2 = 0;
            for (int d = 0; d < 3; ++d) r2 += std::pow(x(j, d) + t[d] - x(i, d), 2);
            if (r2 < range * range) {
              if (index.size() >= INT_MAX) throw_too_many_pairs(long(index.size()) + 1, n);
              index.push_back(j);
              image.push_back(m);
            }
          }
        }
    offsets[i + 1] = static_cast<int>(index.size());
  }
  num_pairs_ = static_cast<int>(index.size());
  finish_build(state, to_device("NeighborList::offsets", offsets),
               to_device("NeighborList::index", index), to_device("NeighborList::image", image));
}

VecView NeighborList::fractional_at_build(const AtomState& state) const {
  if (num_builds_ == 0 || !fractional_at_build_.is_allocated() ||
      fractional_at_build_.extent(0) != static_cast<std::size_t>(state.natoms))
    return VecView();
  return fractional_at_build_;
}

bool NeighborList::needs_rebuild(const Box& box, double moved) const {
  // A pair off the list had |r₀| ≥ cutoff + skin; after the cell went from h₀
  // to h it is at least |r₀|(1 − ‖h₀⁻¹h − I‖) − 2·max displacement away.
  Eigen::Matrix3d hinv0, h;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) {
      hinv0(a, b) = box_at_build_.hinv[a][b];
      h(a, b) = box.h[a][b];
    }
  const double strain = (hinv0 * h - Eigen::Matrix3d::Identity()).norm();
  return 2.0 * moved + (cutoff_ + skin_) * strain >= skin_;
}

bool NeighborList::update(AtomState& state) {
  const VecView s0 = fractional_at_build(state);
  return update(state, s0.is_allocated() ? max_displacement(state.box, state.x, state.natoms, s0)
                                         : std::numeric_limits<double>::infinity());
}

bool NeighborList::update(AtomState& state, double moved) {
  if (!fractional_at_build(state).is_allocated() || needs_rebuild(state.box, moved)) {
    build(state);
    return true;
  }
  bool cell_changed = false;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) cell_changed |= state.box.h[a][b] != box_at_refresh_.h[a][b];
  if (cell_changed) refresh_image_vectors(state.box);
  return false;
}

}  // namespace otfgp
