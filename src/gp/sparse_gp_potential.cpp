#include "otfgp/gp/sparse_gp_potential.hpp"

#include <algorithm>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/gp/novelty_repulsion.hpp"
#include "otfgp/gp/training.hpp"
#include "otfgp/potentials/added_potential.hpp"

namespace otfgp {

namespace {

class SparseGpPotential final : public Potential {
 public:
  SparseGpPotential(std::shared_ptr<const SparseGp> gp, std::string spec, double novelty_margin,
                    bool repulsion, std::filesystem::path model_file)
      : gp_(std::move(gp)),
        spec_(std::move(spec)),
        model_file_(std::move(model_file)),
        novelty_margin_(novelty_margin) {
    if (repulsion)
      repulsion_ = novelty_repulsion(gp_->descriptor().species(), gp_->shortest_pair_distance(),
                                     novelty_margin_, gp_->descriptor().cutoff());
  }

  std::string spec() const override { return spec_; }
  std::vector<std::filesystem::path> parameter_files() const override {
    return model_file_.empty() ? std::vector<std::filesystem::path>{} : std::vector{model_file_};
  }
  double cutoff() const override { return gp_->descriptor().cutoff(); }
  std::vector<int> elements() const override { return gp_->descriptor().species(); }
  bool provides_uncertainty() const override { return true; }
  std::optional<double> force_noise() const override {
    const double noise = gp_->hyperparameters().force_noise;
    return noise > 0.0 ? std::optional<double>(noise) : std::nullopt;
  }

  void bind(const std::vector<int>& species) override {
    const auto& known = gp_->descriptor().species();
    for (int z : species)
      if (std::find(known.begin(), known.end(), z) == known.end())
        throw Error("GP potential " + spec_ + " was not trained for element " + element(z).symbol);
    if (repulsion_) repulsion_->bind(species);
  }

  ComputeResult compute(AtomState& state, const NeighborList& list,
                        const ComputeRequest& request) override {
    const DescriptorValues values = gp_->descriptor().compute(state, list, true);
    const Structure structure = state.to_structure();
    GpPrediction prediction =
        gp_->predict(structure, values, request.uncertainty || request.energy_uncertainty);

    auto forces = Kokkos::create_mirror_view(state.f);
    for (int i = 0; i < state.natoms; ++i)
      for (int d = 0; d < 3; ++d) forces(i, d) = prediction.forces(i, d);
    Kokkos::deep_copy(state.f, forces);

    ComputeResult result;
    result.energy = prediction.energy;
    for (int k = 0; k < 6; ++k) result.virial[k] = prediction.virial[k];
    if (request.energy_uncertainty) result.energy_uncertainty = prediction.energy_std;
    if (request.per_atom_energy)
      result.per_atom_energy =
          to_view("SparseGpPotential::per_atom_energy", prediction.local_energy);
    if (repulsion_) {
      add_potential(*repulsion_, state, list, request, result);
      auto total = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state.f);
      for (int i = 0; i < state.natoms; ++i)
        for (int d = 0; d < 3; ++d) prediction.forces(i, d) = total(i, d);
    }
    if (request.uncertainty) {
      // Novel atoms (SparseGp::novel_atoms) carry the prior std, as in the mapped form.
      const Eigen::VectorXd novel = gp_->novel_atoms(values, novelty_margin_);
      Eigen::VectorXd normalised = prediction.atom_std;
      for (Eigen::Index i = 0; i < normalised.size(); ++i)
        if (novel[i] > 0) normalised[i] = std::max(normalised[i], 1.0);
      result.uncertainty =
          to_view("SparseGpPotential::uncertainty", gp_->hyperparameters().signal_std * normalised);
      result.uncertainty_normalised =
          to_view("SparseGpPotential::uncertainty_normalised", normalised);
      result.novel = to_view("SparseGpPotential::novel", novel);
      const ForceUncertaintyCalibration& calibration = gp_->force_calibration();
      if (calibration.valid()) {
        const Eigen::VectorXd u = gp_->hyperparameters().signal_std * normalised;
        const Eigen::VectorXd v = neighbour_energy_std(values, u, gp_->descriptor());
        Eigen::VectorXd force_std(normalised.size());
        for (Eigen::Index i = 0; i < normalised.size(); ++i)
          force_std[i] =
              calibration.force_std(u[i], v[i], prediction.forces.row(i).norm(), values.species[i]);
        result.force_uncertainty = to_view("SparseGpPotential::force_uncertainty", force_std);
      }
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
  std::filesystem::path model_file_;  // as read; empty for a model made in memory
  double novelty_margin_;
  std::unique_ptr<Potential> repulsion_;  // ZBL below the training distances, or null
};

}  // namespace

std::unique_ptr<Potential> make_sparse_gp_potential(std::shared_ptr<const SparseGp> gp,
                                                    std::string spec, double novelty_margin,
                                                    bool repulsion,
                                                    std::filesystem::path model_file) {
  if (!gp) throw std::invalid_argument("make_sparse_gp_potential: no GP");
  return std::make_unique<SparseGpPotential>(std::move(gp), std::move(spec), novelty_margin,
                                             repulsion, std::move(model_file));
}

}  // namespace otfgp
