#pragma once
// One-shot evaluation of a structure with a potential (no MD state kept):
// what `otfgp eval`, relaxation, hulls and training-label generation use.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <Eigen/Core>

#include "otfgp/core/structure.hpp"
#include "otfgp/potentials/potential.hpp"

namespace otfgp {

struct Evaluation {
  double energy = 0.0;          // eV
  Positions forces;             // eV/Å
  std::optional<Voigt> stress;  // eV/Å³, ASE sign; only when periodic in all three directions
  std::optional<Eigen::VectorXd> per_atom_energy;  // eV
  std::optional<Eigen::VectorXd> uncertainty;      // per-atom std in eV (GP: of the local energy)
  std::optional<Eigen::VectorXd> uncertainty_normalised;  // the same ÷ the signal std σ
  std::optional<Eigen::VectorXd> novel;  // 1 for atoms outside the training data (GP novelty)
  std::optional<Eigen::VectorXd> force_uncertainty;  // per-atom force std (eV/Å), calibrated GP
  std::optional<double> energy_uncertainty;          // std of the total energy (eV), when requested
};

// Where a potential with an uncertainty (the GP) extrapolates in a structure:
// its largest per-atom std, its atoms outside the training data and, for a
// GP calibrated at training, its largest force std against its force noise.
struct Extrapolation {
  double max_uncertainty = 0.0;             // eV
  double max_uncertainty_normalised = 0.0;  // ÷ the signal std σ (a novel atom's: 1)
  int novel_atoms = 0;                      // docs/gp.md, "Novelty"
  std::optional<double> max_force_std;      // eV/Å, per component (calibrated GP)
  std::optional<double> force_noise;        // the model's σ_f (eV/Å)
  // max_force_std ÷ σ_f, when both are known.
  std::optional<double> force_std_in_noise() const;
};

// A force std above this many σ_f is uncertainty worth a label: the on-the-fly
// loop's default threshold (otf.std_threshold_relative), which thresholds its
// online a′·n the same way.
inline constexpr double label_force_std_ratio = 2.0;

// Whether an extrapolation (if any) counts novel atoms.
inline bool has_novel_atoms(const std::optional<Extrapolation>& extrapolation) {
  return extrapolation && extrapolation->novel_atoms > 0;
}
// Whether its force std exceeds label_force_std_ratio × σ_f.
bool has_uncertain_forces(const std::optional<Extrapolation>& extrapolation);
// Whether the model would ask for a label there, as the on-the-fly loop does:
// novel atoms or uncertain forces. The reports warn of and mark these.
inline bool needs_label(const std::optional<Extrapolation>& extrapolation) {
  return has_novel_atoms(extrapolation) || has_uncertain_forces(extrapolation);
}

// An evaluation's extrapolation, judged on `force_noise` (the potential's
// force_noise()); none when it has no per-atom uncertainty.
std::optional<Extrapolation> extrapolation_of(const Evaluation& evaluation,
                                              std::optional<double> force_noise = std::nullopt);
// "max std 2.49 eV (1.00 σ), 8 of 8 atoms novel, max force std 1.6 eV/Å
// (150 σ_f)" (σ: the model's signal std; σ_f: its force noise).
std::string describe(const Extrapolation& extrapolation, int atoms);
// "[8 novel atoms]", "[force std 150 σ_f]" or both where the model would ask
// for a label, else empty: the mark a table puts beside such a structure.
std::string label_marker(const std::optional<Extrapolation>& extrapolation);
// Whether an extrapolation has a force std to judge (a GP calibrated at
// training, whose force noise is known).
inline bool force_std_judged(const std::optional<Extrapolation>& extrapolation) {
  return extrapolation && extrapolation->force_std_in_noise().has_value();
}
// Whether any of them has a force std to judge.
bool any_force_std_judged(const std::vector<std::optional<Extrapolation>>& extrapolations);
// The columns the reports' CSVs give an extrapolation (empty fields without
// one): extrapolation_csv_header names them, extrapolation_csv fills them.
extern const char* const extrapolation_csv_header;
std::string extrapolation_csv(const std::optional<Extrapolation>& extrapolation);
// The same as JSON keys of `object` (nothing without one).
void add_extrapolation_json(nlohmann::json& object,
                            const std::optional<Extrapolation>& extrapolation);
// What a novel atom is and what it means (eval's warning).
extern const char* const novelty_meaning;
// What the reports' warnings judge, in words: "novel atoms, or a force std
// above 2 σ_f" where some structure had a force std to judge, else novel
// atoms alone and why.
std::string label_rule(bool force_std_judged);
// What that means: novelty_meaning and, where a force std was judged, what
// 2 σ_f is.
std::string label_meaning(bool force_std_judged);

Evaluation evaluate(Potential& potential, const Structure& structure,
                    const ComputeRequest& request = {});
// The same without binding and without the overlap check: the potential must
// already be bound to the structure's species and the caller has checked the
// starting structure (relaxations do both once, not at every step).
Evaluation evaluate_bound(Potential& potential, const Structure& structure,
                          const ComputeRequest& request = {});

// Throws otfgp::Error naming the pair when two atoms (or an atom and its own
// periodic image) are closer than 0.01 Å: one atom written twice, where every
// potential and descriptor is infinite or NaN.
void check_no_coincident_atoms(const Structure& structure);

// Copies energy, forces and stress of an evaluation into the structure's labels.
void attach_labels(Structure& structure, const Evaluation& evaluation);

}  // namespace otfgp
