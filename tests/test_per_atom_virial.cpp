// Per-atom virials and centre masks (ComputeRequest::per_atom_virial,
// ::centres), what a domain-decomposed caller such as otfgp-lammps relies on:
// per-atom virials add up to the virial, and a non-periodic cluster of a cell's
// atoms plus their images within two cutoffs (+ skin), with only the atoms
// within one cutoff (+ skin) of the cell's own atoms as centres, gives the
// periodic forces, energies and virials on the cell's own atoms.

#include <Eigen/LU>
#include <catch2/catch.hpp>
#include <random>

#include "otfgp/gp/gp_potential.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "otfgp/potentials/potential.hpp"
#include "support/structures.hpp"

using namespace otfgp;
using namespace otfgp::testing;

namespace {

struct Case {
  std::string spec;
  std::vector<int> numbers;
  double min_distance;  // Å
};

std::vector<Case> cases() {
  return {
      {"lj:eps=0.0104,sigma=3.4,rc=6.5", alternating(16, 18, 18), 2.8},
      {"sw:Si.sw", alternating(16, 14, 14), 2.1},
      {"tersoff:SiC.tersoff", alternating(16, 14, 6), 1.6},
      {"eam/alloy:CuNi.eam.alloy", alternating(16, 29, 28), 2.1},
      {"buck:NaCl.buck", alternating(16, 11, 17), 2.2},
  };
}

// A mapped GP with a random symmetric β per species (no uncertainty data).
std::unique_ptr<Potential> random_gp(const std::vector<int>& species) {
  MappedGp model;
  model.descriptor.species = species;
  model.descriptor.n_max = 3;
  model.descriptor.l_max = 2;
  model.descriptor.cutoff = 4.0;
  model.signal_std = 1.0;
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal;
  const int size = model.descriptor.descriptor_size();
  for (std::size_t s = 0; s < species.size(); ++s) {
    model.reference_energy.push_back(-3.0 - double(s));
    Eigen::MatrixXd beta(size, size);
    for (int a = 0; a < size; ++a)
      for (int b = 0; b < size; ++b) beta(a, b) = 0.1 * normal(rng);
    model.beta.push_back(beta + beta.transpose());
    model.sparse_normalised.emplace_back(0, size);
    model.variance_factor.emplace_back(0, 0);
  }
  return make_gp_potential(std::move(model));
}

ComputeResult run(Potential& potential, AtomState& state, const ComputeRequest& request) {
  NeighborList list(potential.cutoff(), 0.5);
  list.build(state);
  return potential.compute(state, list, request);
}

template <class View>
auto host(const View& view) {
  return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
}

void check_potential(Potential& potential, const Structure& periodic) {
  potential.bind(periodic.species());
  ComputeRequest request;
  request.per_atom_energy = true;
  request.per_atom_virial = true;
  AtomState state = AtomState::from_structure(periodic);
  const ComputeResult reference = run(potential, state, request);
  const auto reference_forces = host(state.f);
  REQUIRE(reference.per_atom_virial.extent(0) == std::size_t(periodic.size()));
  const auto virial = host(reference.per_atom_virial);
  const double scale = std::max(
      1.0, Eigen::Map<const Eigen::VectorXd>(reference.virial.data(), 6).cwiseAbs().maxCoeff());
  for (int c = 0; c < 6; ++c) {
    double sum = 0;
    for (int i = 0; i < periodic.size(); ++i) sum += virial(i, c);
    CHECK(std::abs(sum - reference.virial[c]) <= 1e-12 * scale);
  }

  // The cluster: every image within 2·cutoff + skin of the cell (as LAMMPS's ghosts).
  const double cutoff = potential.cutoff(), skin = 0.5;
  const double reach = 2 * cutoff + skin;
  const Eigen::Matrix3d& h = periodic.cell;
  const Eigen::Matrix3d inverse = h.inverse();
  const Eigen::Vector3d widths(1 / inverse.col(0).norm(), 1 / inverse.col(1).norm(),
                               1 / inverse.col(2).norm());
  Structure cluster;
  cluster.pbc = {false, false, false};
  std::vector<Eigen::RowVector3d> positions;
  const int n = periodic.size();
  for (int i = 0; i < n; ++i) {
    positions.push_back(periodic.positions.row(i));
    cluster.numbers.push_back(periodic.numbers[i]);
  }
  const int k0 = int(std::ceil(reach / widths[0])) + 1, k1 = int(std::ceil(reach / widths[1])) + 1,
            k2 = int(std::ceil(reach / widths[2])) + 1;
  for (int a = -k0; a <= k0; ++a)
    for (int b = -k1; b <= k1; ++b)
      for (int c = -k2; c <= k2; ++c) {
        if (a == 0 && b == 0 && c == 0) continue;
        for (int i = 0; i < n; ++i) {
          const Eigen::RowVector3d r = periodic.positions.row(i) + Eigen::RowVector3d(a, b, c) * h;
          const Eigen::RowVector3d s = r * inverse;
          bool inside = true;
          for (int d = 0; d < 3; ++d)
            inside = inside && s[d] > -reach / widths[d] && s[d] < 1 + reach / widths[d];
          if (!inside) continue;
          positions.push_back(r);
          cluster.numbers.push_back(periodic.numbers[i]);
        }
      }
  cluster.positions.resize(positions.size(), 3);
  for (std::size_t k = 0; k < positions.size(); ++k) cluster.positions.row(k) = positions[k];
  REQUIRE(cluster.size() > 4 * n);

  Kokkos::View<int*, MemSpace> centres("centres", cluster.size());
  auto centre_host = Kokkos::create_mirror_view(centres);
  int centre_count = 0;
  for (int k = 0; k < cluster.size(); ++k) {
    bool near = k < n;
    for (int i = 0; i < n && !near; ++i)
      near = (cluster.positions.row(k) - cluster.positions.row(i)).norm() < cutoff + skin;
    centre_host(k) = near ? 1 : 0;
    centre_count += centre_host(k);
  }
  Kokkos::deep_copy(centres, centre_host);
  REQUIRE(centre_count < cluster.size());

  potential.bind(cluster.species());
  AtomState cluster_state = AtomState::from_structure(cluster);
  request.centres = centres;
  const ComputeResult masked = run(potential, cluster_state, request);
  const auto forces = host(cluster_state.f);
  const auto energies = host(masked.per_atom_energy);
  const auto virials = host(masked.per_atom_virial);
  double energy = 0, largest_force_difference = 0;
  Eigen::Matrix<double, 6, 1> virial_sum = Eigen::Matrix<double, 6, 1>::Zero();
  for (int i = 0; i < n; ++i) {
    energy += energies(i);
    for (int c = 0; c < 6; ++c) virial_sum[c] += virials(i, c);
    for (int d = 0; d < 3; ++d)
      largest_force_difference =
          std::max(largest_force_difference, std::abs(forces(i, d) - reference_forces(i, d)));
  }
  CHECK(std::abs(energy - reference.energy) <= 1e-10 * std::abs(reference.energy));
  CHECK(largest_force_difference <= 1e-10);
  for (int c = 0; c < 6; ++c) CHECK(std::abs(virial_sum[c] - reference.virial[c]) <= 1e-10 * scale);
  // Atoms that are not centres carry no site energy.
  for (int k = 0; k < cluster.size(); ++k)
    if (!centre_host(k)) REQUIRE(energies(k) == 0.0);
}

}  // namespace

TEST_CASE("per-atom virials add up and a centre-masked cluster reproduces the periodic cell",
          "[potential][per_atom_virial]") {
  const Eigen::Matrix3d cell = triclinic_cell(9.3, 8.9, 9.1, 0.2, -0.15, 0.1);
  for (const Case& test : cases()) {
    INFO(test.spec);
    auto potential = make_potential(test.spec);
    check_potential(*potential, random_structure(cell, test.numbers, test.min_distance, 3));
  }
  SECTION("gp") {
    const std::vector<int> numbers = alternating(16, 8, 14);
    auto potential = random_gp({8, 14});
    check_potential(*potential, random_structure(cell, numbers, 1.6, 4));
  }
}
