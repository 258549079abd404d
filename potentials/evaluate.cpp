#include "otfgp/potentials/evaluate.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "otfgp/core/distance_check.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/number_text.hpp"

namespace otfgp {

namespace {
// Closer than this, two atoms are one atom written twice: every potential's
// result would be infinite or NaN there.
constexpr double coincident_distance = 0.01;  // Å

// Non-finite numbers are never handed out as results: name what and where.
void check_finite(const Evaluation& evaluation, const Potential& potential) {
  auto fail = [&](const std::string& what) {
    throw Error("the potential " + potential.spec() + " gave a non-finite " + what +
                " (atoms too close, or parameters outside their valid range)");
  };
  if (!std::isfinite(evaluation.energy)) fail("energy");
  for (int i = 0; i < evaluation.forces.rows(); ++i)
    if (!evaluation.forces.row(i).allFinite()) fail(fmt::format("force on atom {}", i + 1));
  if (evaluation.stress && !evaluation.stress->allFinite()) fail("stress");
  if (evaluation.per_atom_energy)
    for (int i = 0; i < evaluation.per_atom_energy->size(); ++i)
      if (!std::isfinite((*evaluation.per_atom_energy)[i]))
        fail(fmt::format("energy of atom {}", i + 1));
  if (evaluation.uncertainty)
    for (int i = 0; i < evaluation.uncertainty->size(); ++i)
      if (!std::isfinite((*evaluation.uncertainty)[i]))
        fail(fmt::format("uncertainty of atom {}", i + 1));
  if (evaluation.energy_uncertainty && !std::isfinite(*evaluation.energy_uncertainty))
    fail("energy uncertainty");
}

Eigen::VectorXd to_host_vector(const ScalarView& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  Eigen::VectorXd values(host.extent(0));
  for (std::size_t i = 0; i < host.extent(0); ++i) values[i] = host(i);
  return values;
}
}  // namespace

void check_no_coincident_atoms(const Structure& structure) {
  AtomState state = AtomState::from_structure(structure);
  check_atom_distances(state, coincident_distance);
}

Evaluation evaluate(Potential& potential, const Structure& structure,
                    const ComputeRequest& request) {
  if (structure.size() == 0) throw Error("the structure has no atoms: nothing to evaluate");
  check_no_coincident_atoms(structure);
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
  evaluation.energy_uncertainty = result.energy_uncertainty;
  check_finite(evaluation, potential);
  return evaluation;
}

std::optional<double> Extrapolation::force_std_in_noise() const {
  if (!max_force_std || !force_noise || *force_noise <= 0.0) return std::nullopt;
  return *max_force_std / *force_noise;
}

bool has_uncertain_forces(const std::optional<Extrapolation>& extrapolation) {
  if (!extrapolation) return false;
  const std::optional<double> ratio = extrapolation->force_std_in_noise();
  return ratio && *ratio > label_force_std_ratio;
}

bool any_force_std_judged(const std::vector<std::optional<Extrapolation>>& extrapolations) {
  return std::any_of(extrapolations.begin(), extrapolations.end(),
                     [](const auto& x) { return force_std_judged(x); });
}

const char* const extrapolation_csv_header =
    "max_uncertainty,max_uncertainty_normalised,novel_atoms,max_force_std,force_noise";

std::string extrapolation_csv(const std::optional<Extrapolation>& x) {
  if (!x) return ",,,,";
  const auto optional_real = [](const std::optional<double>& value) {
    return value ? format_real(*value) : std::string();
  };
  return fmt::format("{},{},{},{},{}", format_real(x->max_uncertainty),
                     format_real(x->max_uncertainty_normalised), x->novel_atoms,
                     optional_real(x->max_force_std), optional_real(x->force_noise));
}

void add_extrapolation_json(nlohmann::json& object, const std::optional<Extrapolation>& x) {
  if (!x) return;
  object["max_uncertainty"] = x->max_uncertainty;
  object["max_uncertainty_normalised"] = x->max_uncertainty_normalised;
  object["novel_atoms"] = x->novel_atoms;
  if (x->max_force_std) object["max_force_std"] = *x->max_force_std;
  if (x->force_noise) object["force_noise"] = *x->force_noise;
}

std::optional<Extrapolation> extrapolation_of(const Evaluation& evaluation,
                                              std::optional<double> force_noise) {
  if (!evaluation.uncertainty || evaluation.uncertainty->size() == 0) return std::nullopt;
  Extrapolation out;
  out.max_uncertainty = evaluation.uncertainty->maxCoeff();
  if (evaluation.uncertainty_normalised && evaluation.uncertainty_normalised->size() > 0)
    out.max_uncertainty_normalised = evaluation.uncertainty_normalised->maxCoeff();
  if (evaluation.novel) out.novel_atoms = static_cast<int>(evaluation.novel->sum());
  if (evaluation.force_uncertainty && evaluation.force_uncertainty->size() > 0)
    out.max_force_std = evaluation.force_uncertainty->maxCoeff();
  if (out.max_force_std) out.force_noise = force_noise;
  return out;
}

std::string describe(const Extrapolation& extrapolation, int atoms) {
  std::string text = fmt::format(
      "max std {:.3g} eV ({:.2f} σ), {} of {} atoms novel", extrapolation.max_uncertainty,
      extrapolation.max_uncertainty_normalised, extrapolation.novel_atoms, atoms);
  if (extrapolation.max_force_std) {
    text += fmt::format(", max force std {:.3g} eV/Å", *extrapolation.max_force_std);
    if (const auto ratio = extrapolation.force_std_in_noise())
      text += fmt::format(" ({:.3g} σ_f)", *ratio);
  }
  return text;
}

std::string label_marker(const std::optional<Extrapolation>& extrapolation) {
  std::vector<std::string> parts;
  if (has_novel_atoms(extrapolation)) {
    const int novel = extrapolation->novel_atoms;
    parts.push_back(fmt::format("{} novel atom{}", novel, novel == 1 ? "" : "s"));
  }
  if (has_uncertain_forces(extrapolation)) {
    // Three digits, or as many more as keep it from rounding to the threshold.
    const double ratio = *extrapolation->force_std_in_noise();
    int digits = 3;
    const auto rounded = [&](int d) {
      const double scale = std::pow(10.0, d - 1 - std::floor(std::log10(ratio)));
      return std::round(ratio * scale) / scale;
    };
    while (digits < 17 && rounded(digits) <= label_force_std_ratio) ++digits;
    parts.push_back(fmt::format("force std {:.{}g} σ_f", ratio, digits));
  }
  return parts.empty() ? "" : fmt::format("[{}]", fmt::join(parts, ", "));
}

const char* const novelty_meaning =
    "a novel atom has a neighbour closer, or a neighbour density outside, what the training data "
    "has (docs/gp.md, Novelty)";

std::string label_rule(bool force_std_judged) {
  return force_std_judged
             ? fmt::format("novel atoms, or a force std above {:g} σ_f", label_force_std_ratio)
             : "novel atoms; the model has no force calibration, so its force std "
               "is not judged";
}

std::string label_meaning(bool force_std_judged) {
  if (!force_std_judged) return novelty_meaning;
  return fmt::format(
      "{}; a force std above {:g} σ_f (the model's force noise) is past the on-the-fly loop's "
      "default threshold (docs/otf.md, Threshold)",
      novelty_meaning, label_force_std_ratio);
}

void attach_labels(Structure& structure, const Evaluation& evaluation) {
  structure.energy = evaluation.energy;
  structure.forces = evaluation.forces;
  structure.stress = evaluation.stress;
}

}  // namespace otfgp
