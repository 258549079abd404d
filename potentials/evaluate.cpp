#include "otfgp/potentials/evaluate.hpp"

namespace otfgp {

namespace {
Eigen::VectorXd to_host_vector(const ScalarView& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  Eigen::VectorXd values(host.extent(0));
  for (std::size_t i = 0; i < host.extent(0); ++i) values[i] = host(i);
  return values;
}
}  // namespace

Evaluation evaluate(Potential& potential, const Structure& structure,
                    const ComputeRequest& request) {
  potential.bind(structure.species());
  return evaluate_bound(potential, structure, request);
}

Evaluation evaluate_bound(Potential& potential, const Structure& structure,
                          const ComputeRequest& request) {
  AtomState state = AtomState::from_structure(structure);
  NeighborList list(potential.cutoff(), 0.0);
  list.build(state);
  const ComputeResult result = potential.compute(state, list, request);

  Evaluation evaluation;
  evaluation.energy = result.energy;
  auto f = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state.f);
  evaluation.forces.resize(state.natoms, 3);
  for (int i = 0; i < state.natoms; ++i)
    for (int d = 0; d < 3; ++d) evaluation.forces(i, d) = f(i, d);
  if (structure.pbc[0] && structure.pbc[1] && structure.pbc[2]) {
    const double volume = state.box.volume();
    Voigt stress;
    for (int k = 0; k < 6; ++k) stress[k] = -result.virial[k] / volume;
    evaluation.stress = stress;
  }
  if (result.per_atom_energy.extent(0) > 0)
    evaluation.per_atom_energy = to_host_vector(result.per_atom_energy);
  if (result.uncertainty.extent(0) > 0) evaluation.uncertainty = to_host_vector(result.uncertainty);
  if (result.uncertainty_normalised.extent(0) > 0)
    evaluation.uncertainty_normalised = to_host_vector(result.uncertainty_normalised);
  if (result.novel.extent(0) > 0) evaluation.novel = to_host_vector(result.novel);
  if (result.force_uncertainty.extent(0) > 0)
    evaluation.force_uncertainty = to_host_vector(result.force_uncertainty);
  return evaluation;
}

void attach_labels(Structure& structure, const Evaluation& evaluation) {
  structure.energy = evaluation.energy;
  structure.forces = evaluation.forces;
  structure.stress = evaluation.stress;
}

}  // namespace otfgp
