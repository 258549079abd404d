#include "otfgp/sparse_gp_potential.hpp"

#include <algorithm>

#include "otfgp/elements.hpp"
#include "otfgp/error.hpp"

namespace otfgp {

namespace {

class SparseGpPotential final : public Potential {
 public:
  SparseGpPotential(std::shared_ptr<const SparseGp> gp, std::string spec)
      : gp_(std::move(gp)), spec_(std::move(spec)) {}

  std::string spec() const override { return spec_; }
  double cutoff() const override { return gp_->descriptor().cutoff(); }
  std::vector<int> elements() const override { return gp_->descriptor().species(); }
  bool provides_uncertainty() const override { return true; }

  void bind(const std::vector<int>& species) override {
    const auto& known = gp_->descriptor().species();
    for (int z : species)
      if (std::find(known.begin(), known.end(), z) == known.end())
        throw Error("GP potential " + spec_ + " was not trained for element " + element(z).symbol);
  }

  ComputeResult compute(AtomState& state, const NeighborList& list,
                        const ComputeRequest& request) override {
    const DescriptorValues values = gp_->descriptor().compute(state, list, true);
    const Structure structure = state.to_structure();
    GpPrediction prediction = gp_->predict(structure, values, request.uncertainty);

    auto forces = Kokkos::create_mirror_view(state.f);
    for (int i = 0; i < state.natoms; ++i)
      for (int d = 0; d < 3; ++d) forces(i, d) = prediction.forces(i, d);
    Kokkos::deep_copy(state.f, forces);

    ComputeResult result;
    result.energy = prediction.energy;
    for (int k = 0; k < 6; ++k) result.virial[k] = prediction.virial[k];
    if (request.per_atom_energy)
      result.per_atom_energy =
          to_view("SparseGpPotential::per_atom_energy", prediction.local_energy);
    if (request.uncertainty) {
      result.uncertainty = to_view("SparseGpPotential::uncertainty",
                                   gp_->hyperparameters().signal_std * prediction.atom_std);
      result.uncertainty_normalised =
          to_view("SparseGpPotential::uncertainty_normalised", prediction.atom_std);
    }
    return result;
  }

 private:
  static ScalarView to_view(const char* label, const Eigen::VectorXd& values) {
    ScalarView view(std::string(label), static_cast<std::size_t>(values.size()));
    auto host = Kokkos::create_mirror_view(view);
    for (Eigen::Index i = 0; i < values.size(); ++i) host(i) = values[i];
    Kokkos::deep_copy(view, host);
    return view;
  }

  std::shared_ptr<const SparseGp> gp_;
  std::string spec_;
};

}  // namespace

std::unique_ptr<Potential> make_sparse_gp_potential(std::shared_ptr<const SparseGp> gp,
                                                    std::string spec) {
  if (!gp) throw std::invalid_argument("make_sparse_gp_potential: no GP");
  return std::make_unique<SparseGpPotential>(std::move(gp), std::move(spec));
}

}  // namespace otfgp
