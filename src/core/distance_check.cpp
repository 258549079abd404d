#include "otfgp/core/distance_check.hpp"

#include <cmath>
#include <cstdio>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/neighbor_list.hpp"

namespace otfgp {

namespace {

// Per pair of species: `min_distance`, or half the sum of their covalent radii.
Kokkos::View<double**, Kokkos::HostSpace> distance_limits(const AtomState& state,
                                                          std::optional<double> min_distance) {
  const int nspecies = static_cast<int>(state.species.size());
  Kokkos::View<double**, Kokkos::HostSpace> limits("distance_limits", nspecies, nspecies);
  for (int a = 0; a < nspecies; ++a)
    for (int b = 0; b < nspecies; ++b)
      limits(a, b) = min_distance ? *min_distance
                                  : 0.5 * (element(state.species[a]).covalent_radius +
                                           element(state.species[b]).covalent_radius);
  return limits;
}

}  // namespace

std::optional<CloseContact> closest_contact(const AtomState& state,
                                            std::optional<double> min_distance) {
  if (state.natoms < 1) return std::nullopt;
  if (min_distance && !(*min_distance > 0.0))
    throw Error("the minimum distance must be positive (Å)");
  const auto threshold_host = distance_limits(state, min_distance);
  const auto threshold = Kokkos::create_mirror_view_and_copy(MemSpace(), threshold_host);
  double largest = 0.0;
  for (std::size_t k = 0; k < threshold_host.size(); ++k)
    largest = std::max(largest, threshold_host.data()[k]);

  // The list builder wraps positions; work on a copy so the state stays bit for bit as given.
  AtomState copy = state;
  copy.x = VecView("check_atom_distances::x", state.natoms);
  Kokkos::deep_copy(copy.x, state.x);
  NeighborList list(largest, 0.0);
  list.build(copy);
  const NeighborView neighbors = list.view();
  const VecView x = copy.x;
  const IntView type = copy.type;

  using Worst = Kokkos::MinLoc<double, int>;
  typename Worst::value_type worst;
  Kokkos::parallel_reduce(
      "check_atom_distances", RangePolicy(0, state.natoms),
      KOKKOS_LAMBDA(int i, typename Worst::value_type& value) {
        for (int k = neighbors.offsets(i); k < neighbors.offsets(i + 1); ++k) {
          double r[3];
          neighbors.delta(x, i, k, r);
          const double ratio = kmath::sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]) /
                               threshold(type(i), type(neighbors.index(k)));
          if (ratio < value.val) {
            value.val = ratio;
            value.loc = i;
          }
        }
      },
      Worst(worst));
  if (!(worst.val < 1.0)) return std::nullopt;

  // Name the pair: the closest partner of the worst atom.
  const int i = worst.loc;
  auto offsets = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), neighbors.offsets);
  auto index = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), neighbors.index);
  auto image = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), neighbors.image);
  auto images = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), neighbors.image_vector);
  auto xh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  auto th = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), type);
  int partner = -1;
  double closest = 1e300;
  for (int k = offsets(i); k < offsets(i + 1); ++k) {
    const int j = index(k), m = image(k);
    double r2 = 0.0;
    for (int d = 0; d < 3; ++d) r2 += std::pow(xh(j, d) + images(m, d) - xh(i, d), 2);
    if (std::sqrt(r2) < closest) {
      closest = std::sqrt(r2);
      partner = j;
    }
  }
  const int zi = state.species[th(i)], zj = state.species[th(partner)];
  char message[320];
  if (partner == i) {
    std::snprintf(message, sizeof message,
                  "atom %d (%s) is %.3g Å from its own periodic image, closer than the minimum of "
                  "%.3f Å",
                  i + 1, element(zi).symbol, closest, threshold_host(th(i), th(i)));
    return CloseContact{message, true};
  }
  std::snprintf(message, sizeof message,
                "atoms %d (%s) and %d (%s) are %.3f Å apart, closer than the minimum of %.3f Å%s",
                i + 1, element(zi).symbol, partner + 1, element(zj).symbol, closest,
                threshold_host(th(i), th(partner)),
                min_distance ? "" : " (half the sum of their covalent radii)");
  return CloseContact{message, false};
}

int atoms_without_neighbour(const AtomState& state, double cutoff) {
  if (state.natoms < 1) return 0;
  AtomState copy = state;  // the list builder wraps positions
  copy.x = VecView("atoms_without_neighbour::x", state.natoms);
  Kokkos::deep_copy(copy.x, state.x);
  NeighborList list(cutoff, 0.0);
  list.build(copy);
  const auto offsets = list.view().offsets;
  int alone = 0;
  Kokkos::parallel_reduce(
      "atoms_without_neighbour", RangePolicy(0, state.natoms),
      KOKKOS_LAMBDA(int i, int& count) { count += offsets(i + 1) == offsets(i) ? 1 : 0; }, alone);
  return alone;
}

void check_atom_distances(const AtomState& state, std::optional<double> min_distance) {
  const std::optional<CloseContact> contact = closest_contact(state, min_distance);
  if (!contact) return;
  throw Error(contact->description +
              (contact->own_image
                   ? ": the cell is too thin along one direction (check the cell vectors)"
                   : "; the structure is broken (overlapping atoms, wrong units or cell)"));
}

}  // namespace otfgp
