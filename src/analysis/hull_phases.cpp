#include "otfgp/analysis/hull_phases.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "otfgp/core/distance_check.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/potentials/evaluate.hpp"

namespace otfgp {

namespace {

// Ctrl-C ends a relaxation early (relax() returns it unconverged); the study
// stops there instead of reporting that structure.
void stop_if_interrupted(const std::string& id) {
  if (interrupt_requested())
    throw InterruptedError(interrupt_signal(),
                           "hull stopped while relaxing '" + id +
                               "'; no results were written (structures already relaxed are in "
                               "the relaxed-structures folder when one was given): run the same "
                               "command again");
}

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

RelaxOptions at_pressure(RelaxOptions options, double pressure) {
  options.pressure_gpa = pressure;
  return options;
}

// The phase's E, H and V at grid pressure k from one relaxation.
void record_relaxation(StudyPhase& phase, std::size_t k, const RelaxResult& result) {
  const double atoms = result.structure.size();
  const auto index = static_cast<Eigen::Index>(k);
  phase.energy_per_atom[index] = result.energy / atoms;
  phase.phase.volume_per_atom[index] = result.structure.volume() / atoms;
  phase.phase.enthalpy_per_atom[index] = result.enthalpy / atoms;
  if (!result.extrapolation) return;
  phase.extrapolation.resize(static_cast<std::size_t>(phase.energy_per_atom.size()));
  phase.extrapolation[k] = result.extrapolation;
}

// What is wrong with a relaxed cell whose enthalpy means nothing: atoms on top
// of each other (a potential's short range failing at high pressure: EAM Cu at
// 1.4 Å³/atom and −18.5 eV/atom at 200 GPa) or torn apart (negative pressure:
// no atom within the potential's cutoff of another, H ≈ PV alone).
std::optional<std::string> broken_cell(const Structure& structure, double cutoff) {
  const AtomState state = AtomState::from_structure(structure);
  if (const std::optional<CloseContact> contact = closest_contact(state, std::nullopt))
    return "collapsed: " + contact->description;
  if (const int alone = atoms_without_neighbour(state, cutoff); alone > 0)
    return fmt::format("torn apart: {} of {} atoms have no neighbour within the potential's {:g} Å",
                       alone, structure.size(), cutoff);
  return std::nullopt;
}

// Leaves phase out of grid pressure k's hull, with a warning and a note, when
// its relaxed structure there is broken (broken_cell); returns whether it is.
bool left_out_if_broken(StudyPhase& phase, const std::vector<double>& pressures, std::size_t k,
                        const Structure& relaxed, double cutoff, const std::string& id) {
  const std::optional<std::string> broken = broken_cell(relaxed, cutoff);
  if (!broken) return false;
  const std::string note =
      fmt::format("at {:g} GPa the relaxed cell is {}; left out of that pressure's hull",
                  pressures[k], *broken);
  logger().warn("{}: {}", id, note);
  phase.notes.push_back(note);
  phase.phase.enthalpy_per_atom[static_cast<Eigen::Index>(k)] = nan;
  phase.left_out.resize(pressures.size());
  phase.left_out[k] = "the relaxed cell is " + *broken;
  return true;
}

void write_relaxed(const std::filesystem::path& folder, const StructureInput& input,
                   double pressure, const std::string& tag, const Structure& structure) {
  Structure labelled = structure;
  labelled.set_info_value("id", input.id);
  labelled.set_info_value("pressure_gpa", fmt::format("{}", pressure));
  write_structure(folder / (input.id + "_" + tag + ".xyz"), labelled, "extxyz");
}

}  // namespace

std::vector<std::string> pressure_tags(const std::vector<double>& pressures) {
  std::vector<std::string> tags;
  for (int digits = 6; digits <= 17; ++digits) {
    tags.clear();
    for (const double pressure : pressures)
      tags.push_back(fmt::format("{:.{}g}GPa", pressure, digits));
    std::vector<std::string> sorted = tags;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end()) break;
  }
  return tags;
}

std::vector<StructureInput> read_structure_inputs(const std::filesystem::path& path) {
  const std::vector<Structure> frames = read_structures(path);
  if (frames.empty()) throw Error("'" + path.string() + "' has no structures");
  std::vector<StructureInput> inputs;
  for (std::size_t f = 0; f < frames.size(); ++f) {
    StructureInput input;
    input.structure = frames[f];
    const auto named =
        frames[f].info_value("id") ? frames[f].info_value("id") : frames[f].info_value("name");
    input.id = named ? *named
                     : (frames.size() == 1 ? path.stem().string()
                                           : path.stem().string() + "_" + std::to_string(f));
    if (input.id.empty() || input.id == "POSCAR" || input.id == "CONTCAR")
      input.id = frames[f].formula() + (frames.size() == 1 ? "" : "_" + std::to_string(f));
    input.source =
        frames.size() == 1 ? path.string() : fmt::format("{} frame {}", path.string(), f);
    inputs.push_back(std::move(input));
  }
  return inputs;
}

std::optional<double> std_per_atom(const StructureInput& input) {
  const auto text = input.structure.info_value("std");
  if (!text) return std::nullopt;
  const auto value = parse_real(*text);
  if (!value || !std::isfinite(*value) || *value < 0)
    throw Error(input.source + ": info 'std' must be a non-negative number (eV/atom), not '" +
                *text + "'");
  return value;
}

// A frame that `otfgp relax -P`, `otfgp search` (target_pressure_gpa) or
// `hull --relaxed-dir` (pressure_gpa) wrote at another pressure than the
// hull's: its E and V are those of that structure, which is easily missed
// (a 20 GPa geometry in a 0 GPa hull). Warned for one pressure, noted always.
void note_relaxation_pressure(const StructureInput& input, const std::vector<double>& pressures,
                              StudyPhase& phase) {
  for (const char* key : {"target_pressure_gpa", "pressure_gpa"}) {
    const std::optional<std::string> text = input.structure.info_value(key);
    const std::optional<double> at = text ? parse_real(*text) : std::nullopt;
    if (!at) continue;
    if (pressures.size() == 1 && *at == pressures.front()) return;
    phase.notes.push_back(fmt::format("relaxed at {} GPa (info {})", *text, key));
    if (pressures.size() == 1)
      logger().warn(
          "{}: relaxed at {} GPa (info {}), the hull is at {} GPa: its energy and volume are "
          "those of that structure (relax it at the hull's pressure with --relax-with for its "
          "enthalpy there)",
          input.source, *text, key, format_real(pressures.front()));
    return;
  }
}

StudyPhase phase_from_frame(const StructureInput& input, const std::vector<double>& pressures) {
  const Structure& structure = input.structure;
  if (!structure.energy)
    throw Error(input.source + " has no energy: relax and evaluate it with a potential");
  StudyPhase phase;
  phase.phase.id = input.id;
  phase.phase.composition = Composition::from_numbers(structure.numbers);
  phase.source = input.source;
  phase.origin = "frame energy; E and V fixed at every pressure";
  const double atoms = structure.size();
  const bool periodic = structure.pbc[0] && structure.pbc[1] && structure.pbc[2];
  const double energy = *structure.energy / atoms;
  const double volume = periodic ? structure.volume() / atoms : nan;
  phase.phase.std_per_atom = std_per_atom(input);
  note_relaxation_pressure(input, pressures, phase);
  const auto n = static_cast<Eigen::Index>(pressures.size());
  phase.energy_per_atom = Eigen::VectorXd::Constant(n, energy);
  phase.phase.volume_per_atom = Eigen::VectorXd::Constant(n, volume);
  phase.phase.enthalpy_per_atom.resize(n);
  for (Eigen::Index k = 0; k < n; ++k) {
    if (pressures[static_cast<std::size_t>(k)] != 0.0 && !periodic)
      throw Error(input.source + " is not periodic: it has no volume for H = E + PV");
    phase.phase.enthalpy_per_atom[k] =
        energy + (pressures[static_cast<std::size_t>(k)] == 0.0
                      ? 0.0
                      : pressures[static_cast<std::size_t>(k)] * units::gpa_in_ev_per_a3 * volume);
  }
  return phase;
}

StudyPhase phase_from_record(const PhaseRecord& record, const std::vector<double>& pressures) {
  StudyPhase phase;
  phase.phase.id = record.id;
  phase.phase.composition = record.composition;
  phase.phase.std_per_atom = record.std_per_atom;
  phase.source = record.source;
  phase.origin = "table; E and V fixed at every pressure";
  const auto n = static_cast<Eigen::Index>(pressures.size());
  phase.energy_per_atom = Eigen::VectorXd::Constant(n, record.energy_per_atom);
  phase.phase.volume_per_atom = Eigen::VectorXd::Constant(n, record.volume_per_atom.value_or(nan));
  phase.phase.enthalpy_per_atom.resize(n);
  for (Eigen::Index k = 0; k < n; ++k)
    phase.phase.enthalpy_per_atom[k] =
        enthalpy_per_atom(record, pressures[static_cast<std::size_t>(k)]);
  return phase;
}

namespace {

// A relaxation at `pressure` that ended where the model would ask for a
// label (novel atoms, uncertain forces) gets a note; true then.
bool note_needs_label(StudyPhase& phase, double pressure, const RelaxResult& result) {
  if (!needs_label(result.extrapolation)) return false;
  phase.notes.push_back(fmt::format(
      "relaxed at {:g} GPa where the model would ask for a label ({}): its enthalpy there is the "
      "model's extrapolation",
      pressure, describe(*result.extrapolation, result.structure.size())));
  return true;
}

// The total-energy std (eV) of a relaxed structure from a potential with one
// (the GP), with σ² added for each novel atom: the model raises a novel
// atom's own std to σ, and its local energy is no better known in the total
// (without it diamond Si relaxed at 20 GPa into 8 novel atoms of 8 kept the
// quickstart model's 5 meV/atom, and the hull's stability draws treated it
// as known).
std::optional<double> relaxed_energy_std(Potential& potential, const RelaxResult& result) {
  ComputeRequest request;
  request.energy_uncertainty = true;
  const Evaluation evaluation = evaluate(potential, result.structure, request);
  if (!evaluation.energy_uncertainty) return std::nullopt;
  const double std = *evaluation.energy_uncertainty;
  const auto& x = result.extrapolation;
  if (!has_novel_atoms(x) || x->max_uncertainty_normalised <= 0.0) return std;
  const double sigma = x->max_uncertainty / x->max_uncertainty_normalised;
  return std::sqrt(std * std + x->novel_atoms * sigma * sigma);
}

// The warning for a phase relaxed, at `pressures`, where the model would ask
// for a label.
void warn_needs_label(const std::string& id, const StudyPhase& phase,
                      const std::vector<double>& pressures, const PressureRelaxation& options) {
  const bool judged = any_force_std_judged(phase.extrapolation);
  const bool novel = std::any_of(phase.extrapolation.begin(), phase.extrapolation.end(),
                                 [](const auto& x) { return has_novel_atoms(x); });
  logger().warn(
      "{}: relaxed where the model would ask for a label ({}) at {:g} GPa (its notes, --json, "
      "give each): its enthalpy there is the model's extrapolation{}; {}; {}",
      id, label_rule(judged), fmt::join(pressures, ", "),
      novel ? ", and each novel atom adds σ² to its energy variance" : "",
      options.recheck_follows
          ? "the re-check gives the second model's enthalpy where it lies within "
            "--recheck-within of the hull (widen that to take it in elsewhere)"
          : "label it with an oracle (--recheck-with) before trusting its place on the hull",
      label_meaning(judged));
}

}  // namespace

StudyPhase relaxed_phase(const StructureInput& input, Potential& potential,
                         const PressureRelaxation& options, const std::vector<double>& pressures,
                         std::vector<Structure>& relaxed) {
  StudyPhase phase;
  phase.phase.id = input.id;
  phase.phase.composition = Composition::from_numbers(input.structure.numbers);
  phase.source = input.source;
  phase.origin = fmt::format("relaxed with {} ({}, {}) at each pressure", potential.spec(),
                             relax_algorithm_name(options.relax.algorithm),
                             options.relax.relax_cell ? "full cell" : "fixed cell");
  phase.phase.std_per_atom = std_per_atom(input);
  const auto n = static_cast<Eigen::Index>(pressures.size());
  phase.energy_per_atom.resize(n);
  phase.phase.enthalpy_per_atom.resize(n);
  phase.phase.volume_per_atom.resize(n);
  Structure current = input.structure;
  current.clear_results();  // the input's own results would travel into --relaxed-dir
  const double atoms = current.size();
  const std::vector<std::string> tags = pressure_tags(pressures);
  // A potential with its own uncertainty (the GP) gives each relaxed
  // structure's total-energy std, which replaces an info 'std'.
  std::vector<double> unsure_pressures;
  for (std::size_t k = 0; k < pressures.size(); ++k) {
    RelaxResult result;
    try {
      result = relax(potential, current, at_pressure(options.relax, pressures[k]));
    } catch (const InterruptedError&) {
      throw;
    } catch (const Error& error) {  // a structure the relaxation refuses: name the input
      throw Error(input.source + ": " + error.what());
    }
    stop_if_interrupted(input.id);
    const std::optional<double> energy_std =
        potential.provides_uncertainty() ? relaxed_energy_std(potential, result) : std::nullopt;
    if (energy_std) {
      if (phase.phase.std_per_atom_by_pressure.size() == 0) {
        if (phase.phase.std_per_atom)
          logger().info("{}: the energy std comes from {}, not from info 'std'", input.id,
                        potential.spec());
        phase.phase.std_per_atom_by_pressure = Eigen::VectorXd::Constant(n, nan);
      }
      phase.phase.std_per_atom_by_pressure[static_cast<Eigen::Index>(k)] = *energy_std / atoms;
    }
    if (!result.converged) {
      const std::string note = fmt::format(
          "relaxation at {:g} GPa did not converge in {} steps (max force {:.3g} eV/Å, stress "
          "deviation {:.3g} GPa)",
          pressures[k], result.steps, result.max_force, result.max_stress_deviation);
      logger().warn("{}: {}", input.id, note);
      phase.notes.push_back(note);
    }
    logger().info(
        "relaxed {} at {:g} GPa: {} steps, E = {:.6f} eV/atom, V = {:.4f} Å³/atom, P = {:.4f} "
        "GPa{}",
        input.id, pressures[k], result.steps, result.energy / atoms,
        result.structure.volume() / atoms, result.pressure,
        result.extrapolation ? "; " + describe(*result.extrapolation, current.size()) : "");
    if (note_needs_label(phase, pressures[k], result)) unsure_pressures.push_back(pressures[k]);
    record_relaxation(phase, k, result);
    const bool broken =
        left_out_if_broken(phase, pressures, k, result.structure, potential.cutoff(), input.id);
    // The next pressure starts from this one's minimum, not from a relaxation
    // that failed: a cell blown apart at -80 GPa "converges" in 0 steps at 0.
    if (result.converged && !broken) current = result.structure;
    relaxed.push_back(result.structure);
    if (!options.relaxed_dir.empty())
      write_relaxed(options.relaxed_dir, input, pressures[k], tags[k], result.structure);
  }
  if (!unsure_pressures.empty()) warn_needs_label(input.id, phase, unsure_pressures, options);
  // The largest over the grid, for reports that give one std per phase.
  if (phase.phase.std_per_atom_by_pressure.size() > 0)
    phase.phase.std_per_atom = phase.phase.std_per_atom_by_pressure.maxCoeff();
  return phase;
}

namespace {

void require_reference_structures(
    const HullStudy& study, const Hull& first,
    const std::vector<std::optional<std::vector<Structure>>>& structures) {
  for (std::size_t reference : first.reference_entries)
    if (!structures[reference])
      throw Error("the re-check needs a structure for every reference: '" +
                  study.phases[reference].phase.id + "' (" + study.phases[reference].source +
                  ") comes from a table; give the references as structure files");
}

// Energy and volume of one structure under the second model at `pressure`.
std::pair<double, double> recheck_energy(Potential& potential, const Structure& structure,
                                         const std::string& id, double pressure,
                                         const RecheckOptions& options) {
  if (!options.relax) return {evaluate(potential, structure).energy, structure.volume()};
  const RelaxResult result =
      relax(potential, structure, at_pressure(options.relax_options, pressure));
  stop_if_interrupted(id);
  if (!result.converged)
    logger().warn("re-check: relaxation of {} at {:g} GPa did not converge", id, pressure);
  return {result.energy, result.structure.volume()};
}

// The first model's hull at grid point k over every phase not in `dropped`.
Hull first_hull_without(const HullStudy& study, std::size_t k, const std::vector<char>& dropped,
                        const HullOptions& hull_options) {
  std::vector<SweepPhase> phases;
  for (std::size_t i = 0; i < study.phases.size(); ++i) {
    phases.push_back(study.phases[i].phase);
    if (dropped[i]) phases.back().enthalpy_per_atom.setConstant(nan);
  }
  return compute_hull(sweep_entries(phases, k), hull_options);
}

}  // namespace

RecheckResult recheck_study(Potential& potential, const HullStudy& study,
                            const std::vector<std::optional<std::vector<Structure>>>& structures,
                            const HullOptions& hull_options, const RecheckOptions& options) {
  RecheckResult recheck;
  recheck.spec = potential.spec();
  recheck.within = options.within;
  const std::size_t count = study.phases.size(), grid = study.sweep.pressures.size();
  recheck.energy_per_atom = Eigen::MatrixXd::Constant(static_cast<Eigen::Index>(count),
                                                      static_cast<Eigen::Index>(grid), nan);
  recheck.enthalpy_per_atom = recheck.energy_per_atom;
  recheck.volume_per_atom = recheck.energy_per_atom;
  for (std::size_t k = 0; k < grid; ++k) {
    const double pressure = study.sweep.pressures[k];
    Hull first = study.sweep.hulls[k];
    require_reference_structures(study, first, structures);
    std::vector<char> checked(count, 0), dropped(count, 0), warned(count, 0);
    std::vector<HullEntry> entries;
    for (const StudyPhase& phase : study.phases)
      entries.push_back({phase.phase.id, phase.phase.composition, nan, std::nullopt});
    // Re-checks every entry within δ of `first` not checked yet; true when there was one.
    const auto check_near_entries = [&] {
      bool added = false;
      for (std::size_t i = 0; i < count; ++i) {
        if (checked[i] || !first.entries[i].included ||
            first.entries[i].e_above_hull > options.within)
          continue;
        const StudyPhase& phase = study.phases[i];
        if (!structures[i]) {
          if (!warned[i])
            logger().warn(
                "re-check: {} ({}) is within {:g} eV/atom of the hull but has no structure to "
                "re-evaluate",
                phase.phase.id, phase.source, options.within);
          warned[i] = 1;
          continue;
        }
        const Structure& structure = (*structures[i])[structures[i]->size() == 1 ? 0 : k];
        const auto [energy, volume] =
            recheck_energy(potential, structure, phase.phase.id, pressure, options);
        const auto row = static_cast<Eigen::Index>(i), column = static_cast<Eigen::Index>(k);
        recheck.energy_per_atom(row, column) = energy / structure.size();
        recheck.volume_per_atom(row, column) = volume / structure.size();
        recheck.enthalpy_per_atom(row, column) =
            (energy + pressure * units::gpa_in_ev_per_a3 * volume) / structure.size();
        entries[i].energy_per_atom = recheck.enthalpy_per_atom(row, column);
        checked[i] = 1;
        added = true;
      }
      return added;
    };
    // Rounds: an entry the re-check puts more than δ above its hull leaves the
    // first model's hull, which may bring others within δ; until none is new.
    Hull hull;
    bool added = true;
    while (added) {
      added = check_near_entries();
      try {
        hull = compute_hull(entries, hull_options);
      } catch (const Error& error) {
        throw Error(fmt::format("re-check at {:g} GPa: {}", pressure, error.what()));
      }
      for (std::size_t i = 0; i < count; ++i)
        if (checked[i] && hull.entries[i].e_above_hull > options.within) dropped[i] = 1;
      first = first_hull_without(study, k, dropped, hull_options);
    }
    for (std::size_t i = 0; i < count; ++i)
      if (!checked[i] && !hull.entries[i].included) hull.entries[i].exclusion = "not re-checked";
    recheck.rechecked.push_back(checked);
    recheck.hulls.push_back(std::move(hull));
  }
  return recheck;
}

void sweep_study(HullStudy& study, const std::vector<double>& pressures,
                 const SweepOptions& options, const SamplingOptions& sampling) {
  std::vector<SweepPhase> phases;
  for (const auto& phase : study.phases) phases.push_back(phase.phase);
  try {
    study.sweep = sweep_hull(phases, pressures, options);
  } catch (const Error& error) {  // a reference missing at a pressure: say which were left out
    std::vector<std::string> left_out;
    for (const auto& phase : study.phases)
      if (!phase.left_out.empty()) left_out.push_back(phase.phase.id);
    if (left_out.empty()) throw;
    throw Error(fmt::format(
        "{}. Left out where their relaxed cells collapsed or came apart (warnings above): {}; "
        "a narrower pressure range, or a potential made for these densities, avoids it",
        error.what(), fmt::join(left_out, ", ")));
  }
  for (std::size_t i = 0; i < study.phases.size(); ++i)
    for (std::size_t k = 0; k < study.phases[i].left_out.size(); ++k)
      if (!study.phases[i].left_out[k].empty())
        study.sweep.hulls[k].entries[i].exclusion = study.phases[i].left_out[k];
  for (std::size_t i = 0; i < study.phases.size(); ++i)
    if (!study.sweep.hulls.front().entries[i].included)
      logger().warn("{} ({}) left out: {}", study.phases[i].phase.id, study.phases[i].source,
                    study.sweep.hulls.front().entries[i].exclusion);
  const bool uncertain =
      std::any_of(study.phases.begin(), study.phases.end(),
                  [](const StudyPhase& phase) { return phase.phase.std_per_atom.has_value(); });
  if (!uncertain) return;
  for (std::size_t k = 0; k < pressures.size(); ++k)
    sample_stability(study.sweep.hulls[k], sweep_entries(phases, k), sampling);
}

}  // namespace otfgp
