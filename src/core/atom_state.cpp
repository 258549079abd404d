#include "otfgp/core/atom_state.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/extra_property.hpp"

namespace otfgp {

namespace {

// A `masses` column (amu; ASE writes one for atoms.set_masses): each finite and positive.
std::optional<Eigen::VectorXd> given_masses(const Structure& structure) {
  const ExtraProperty* column = find_extra_property(structure, "masses");
  if (!column) return std::nullopt;
  if (column->columns != 1)
    throw Error("column 'masses' has " + std::to_string(column->columns) +
                " values per atom; it holds one mass per atom (amu)");
  const Eigen::VectorXd masses = real_property(structure, "masses").col(0);
  for (int i = 0; i < masses.size(); ++i)
    if (!(std::isfinite(masses[i]) && masses[i] > 0))
      throw Error(
          fmt::format("column 'masses' gives atom {} the mass {:g}: masses must be "
                      "positive (amu)",
                      i + 1, masses[i]));
  return masses;
}

}  // namespace

AtomState AtomState::from_structure(const Structure& structure) {
  structure.validate();
  AtomState state;
  state.natoms = structure.size();
  const bool periodic[3] = {structure.pbc[0], structure.pbc[1], structure.pbc[2]};
  state.box = Box::from_cell(structure.cell, periodic);
  state.species = structure.species();
  state.x = VecView("AtomState::x", state.natoms);
  state.v = VecView("AtomState::v", state.natoms);
  state.f = VecView("AtomState::f", state.natoms);
  state.type = IntView("AtomState::type", state.natoms);
  state.mass = ScalarView("AtomState::mass", state.natoms);
  auto x = Kokkos::create_mirror_view(state.x);
  auto type = Kokkos::create_mirror_view(state.type);
  auto mass = Kokkos::create_mirror_view(state.mass);
  for (int i = 0; i < state.natoms; ++i) {
    for (int d = 0; d < 3; ++d) x(i, d) = structure.positions(i, d);
    const int z = structure.numbers[i];
    type(i) = static_cast<int>(std::lower_bound(state.species.begin(), state.species.end(), z) -
                               state.species.begin());
    mass(i) = element(z).mass;
  }
  Kokkos::deep_copy(state.x, x);
  Kokkos::deep_copy(state.type, type);
  Kokkos::deep_copy(state.mass, mass);
  return state;
}

Structure AtomState::to_structure() const {
  Structure structure;
  structure.cell = box.user_cell();
  structure.pbc = {box.pbc[0], box.pbc[1], box.pbc[2]};
  auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  auto type_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), type);
  structure.positions.resize(natoms, 3);
  structure.numbers.resize(natoms);
  for (int i = 0; i < natoms; ++i) {
    for (int d = 0; d < 3; ++d) structure.positions(i, d) = x_host(i, d);
    structure.numbers[i] = species[type_host(i)];
  }
  return structure;
}

void AtomState::take_masses(const Structure& structure) {
  const std::optional<Eigen::VectorXd> given = given_masses(structure);
  if (!given) return;
  if (given->size() != natoms)
    throw Error(fmt::format("column 'masses' has {} rows for {} atoms", given->size(), natoms));
  auto host = Kokkos::create_mirror_view(mass);
  for (int i = 0; i < natoms; ++i) host(i) = (*given)[i];
  Kokkos::deep_copy(mass, host);
}

void AtomState::write_masses(Structure& structure) const {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), mass);
  bool element_masses = true;
  for (int i = 0; i < natoms; ++i)
    element_masses = element_masses && host(i) == element(structure.numbers[i]).mass;
  if (!element_masses)
    set_real_property(structure, "masses", std::vector<double>(host.data(), host.data() + natoms));
}

void AtomState::set_positions(const Structure& structure) {
  if (structure.size() != natoms)
    throw Error("set_positions: structure has " + std::to_string(structure.size()) +
                " atoms, state has " + std::to_string(natoms));
  const bool periodic[3] = {structure.pbc[0], structure.pbc[1], structure.pbc[2]};
  box = Box::from_cell(structure.cell, periodic);
  auto x_host = Kokkos::create_mirror_view(x);
  for (int i = 0; i < natoms; ++i)
    for (int d = 0; d < 3; ++d) x_host(i, d) = structure.positions(i, d);
  Kokkos::deep_copy(x, x_host);
}

}  // namespace otfgp
