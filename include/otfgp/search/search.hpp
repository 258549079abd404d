#pragma once
// Crystal structure search at a target pressure: random symmetric candidates
// (random_structure.hpp) relaxed with any otfgp potential by the relaxation
// stepper, under one of three strategies:
//   random   relax every candidate fully, in order (the baseline);
//   laqa     look-ahead based on quadratic approximation (Terayama et al.,
//            npj Comput. Mater. 4, 32 (2018)) with CrySPY's stress term: all
//            candidates take initial_steps, then each round the n_select best
//            by score take n_steps more; finished candidates leave the pool;
//   shotgun  every candidate takes pre_steps; only the best `keep` by enthalpy
//            are relaxed fully.
// The cost is counted in optimisation steps. The whole state is written to a
// checkpoint after every unit of work (atomically), and a resumed search ends
// exactly where an uninterrupted one would. Units: eV, Å, GPa.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "otfgp/analysis/relax.hpp"
#include "otfgp/core/config.hpp"
#include "otfgp/oracle/oracle.hpp"
#include "otfgp/potentials/potential.hpp"
#include "otfgp/search/active_learning.hpp"
#include "otfgp/search/random_structure.hpp"

namespace otfgp::search {

enum class Strategy { random, laqa, shotgun };
// Which stress enters the LAQA score: none, raw σ (CrySPY), or σ + P·I.
enum class StressScore { none, raw, deviation };

struct LaqaSettings {
  int initial_steps = 10;
  int n_select = 5;
  int n_steps = 10;
  double weight_force = 0.1;  // w_F
  double weight_stress = 10;  // w_S, multiplies S in eV/Å³
  StressScore stress = StressScore::deviation;
};

struct ShotgunSettings {
  int pre_steps = 10;
  int keep = 5;
};

struct SearchConfig {
  std::string source;           // the config file, for messages
  Stoichiometry stoichiometry;  // the one searched (the first of `compositions`)
  // `compositions:` runs: every formula searched in turn (output/<formula>/),
  // the unique minima collected as hull entries.
  std::vector<Stoichiometry> compositions;
  std::vector<std::string> hull_references;  // formulas; empty: the elements
  std::string potential;                     // spec string
  double pressure_gpa = 0.0;
  std::uint64_t seed = 1;
  int candidates = 20;                 // random ones, after the templates
  std::vector<std::string> templates;  // files or folders (template.hpp)
  Strategy strategy = Strategy::laqa;
  RandomStructureOptions generator;
  RelaxOptions relax;        // max_steps is the limit per candidate
  long max_total_steps = 0;  // 0: no budget
  LaqaSettings laqa;
  ShotgunSettings shotgun;
  std::string output = "search";
  int top = 5;
  double duplicate_enthalpy = 0.002;    // eV/atom
  double duplicate_fingerprint = 0.01;  // cosine distance of the pair-distance fingerprints
  double symprec = 0.1;                 // Å, spglib on relaxed structures
  double collapse_tolerance = 0.5;  // relaxed distance below this × (r_cov,i + r_cov,j): collapsed
  bool plots = true;
  std::optional<double> ground_state;  // eV/atom; reports when it was first reached
  // `recheck:`: the top `recheck_top` unique minima labelled by this oracle
  // (single points at the relaxed geometry) once the search is done.
  std::shared_ptr<oracle::Oracle> recheck_oracle;
  int recheck_top = 0;
  // `active_learning:` (active_learning.hpp): the potential is then the GP
  // model it names, updated during the search.
  std::optional<ActiveLearningConfig> active_learning;
};

// Reads and validates a search config (every key checked; see docs/search.md).
SearchConfig read_search_config(const std::filesystem::path& file);
SearchConfig parse_search_config(ConfigSection root);
// Before anything is written: no output (the folder, a file in it) may be an
// input (the config, a template, the potential's file), and no input may lie
// in top/ or recheck/, which a search empties. run_search and
// run_variable_composition call it.
void check_search_output_paths(const SearchConfig& config);
std::string strategy_name(Strategy strategy);
// The compositions Σ a_k·end_k (a_k ≥ 0, 1 ≤ Σ a_k ≤ max_units) of a binary or
// ternary grid, each reduced to its smallest whole formula, without repeats,
// e.g. BaO–RhO2 up to 3: RhO2, BaO, BaRh2O5, BaRhO3, Ba2RhO4, …
std::vector<Stoichiometry> composition_grid(const std::vector<Stoichiometry>& end_members,
                                            int max_units);
std::string stress_score_name(StressScore stress);

enum class CandidateStatus { pending, active, converged, unconverged, failed };
std::string status_name(CandidateStatus status);

// One relaxed (or failed) candidate as it appears in the report.
struct CandidateSummary {
  int index = 0;
  CandidateStatus status = CandidateStatus::pending;
  int generated_space_group = 0;
  bool p1_fallback = false;
  std::string origin;  // "random" or "template <name>"
  int steps = 0;
  int atoms = 0;
  double enthalpy_per_atom = 0.0;  // eV
  double energy_per_atom = 0.0;
  double volume_per_atom = 0.0;  // Å³
  double max_force = 0.0;
  int space_group = 0;  // of the relaxed structure (symprec)
  std::string space_group_symbol;
  std::string note;         // why it failed
  long found_at_steps = 0;  // cumulative optimisation steps when it finished
  double found_at_seconds = 0.0;
  int duplicate_of = -1;  // index of the lower-enthalpy candidate it repeats, or −1
  std::optional<Extrapolation> extrapolation;       // of the final structure (GP potentials)
  std::optional<double> recheck_enthalpy_per_atom;  // eV, from the recheck oracle
  std::string recheck_error;                        // why the oracle could not label it
  Structure structure;                              // final
};

struct SearchStatistics {
  long total_steps = 0;
  long total_evaluations = 0;
  double wall_seconds = 0.0;
  int converged = 0, unconverged = 0, failed = 0, unique = 0;
  double best_enthalpy_per_atom = 0.0;
  int best_candidate = -1;
  long steps_to_best = 0;                     // cumulative steps when the best was first reached
  double seconds_to_best = 0.0;               // wall time then
  std::optional<long> steps_to_ground_state;  // when config.ground_state was given and reached
  // (cumulative steps, best H/atom so far) after each finished candidate.
  std::vector<std::pair<long, double>> best_history;
};

// The recheck oracle against the model on the minima it labelled (in ranking
// order): the oracle's lowest of them and the range of H_oracle − H_model. A
// constant difference (other pseudopotentials or reference energies) leaves
// the order alone; a spread wider than RecheckComparison::spread_warning, or
// another lowest minimum, says the model's ranking is not the oracle's.
struct RecheckComparison {
  static constexpr double spread_warning = 0.05;  // eV/atom
  int rechecked = 0;
  int oracle_lowest = -1;                             // candidate index
  double difference_min = 0.0, difference_max = 0.0;  // eV/atom
};

struct SearchResult {
  std::vector<CandidateSummary> candidates;  // by index
  std::vector<int> ranking;                  // unique converged candidates, lowest H first
  SearchStatistics statistics;
  std::optional<ActiveLearningReport> active_learning;
  std::optional<RecheckComparison> recheck;  // when the recheck labelled a minimum
  // The potential the minima were relaxed and ranked on: with active learning
  // the last model it saved, not the starting one.
  std::string potential;
};

// Runs (or with resume, continues) the search; writes the checkpoint, the
// ranked table, the top structures and plots under config.output. `workers`
// > 1 advances the candidates of each batch or LAQA round in forked
// processes where each worker's share takes longer than `fork_seconds` at the
// time per step measured in this process (a fork costs milliseconds; 0: every
// batch); the result is the same for any number. Throws otfgp::Error for
// unusable input or a checkpoint of another config.
SearchResult run_search(const SearchConfig& config, bool resume, int workers = 1,
                        double fork_seconds = 0.1);

// A variable-composition run: run_search for every composition in
// config.compositions (in output/<formula>/), then the unique minima as
// `otfgp hull` entries (output/hull_entries.csv: id, formula, energy_per_atom,
// volume_per_atom) and their hull at the target pressure (output/hull.csv).
struct VariableCompositionResult {
  std::vector<std::pair<std::string, SearchResult>> searches;  // formula, result
  std::vector<std::string> stable;                             // ids of stable minima
  std::string hull_text;
};
VariableCompositionResult run_variable_composition(const SearchConfig& config, bool resume,
                                                   int workers = 1);

// The report files alone from a finished result (run_search calls it).
void write_search_report(const SearchConfig& config, const SearchResult& result);
// The ranked table as text (also written to ranking.txt).
std::string ranking_text(const SearchResult& result, int rows = 0);

// Sorted pair-distance histogram per species pair, Gaussian-smeared, per atom:
// invariant under the choice of cell and the order of atoms.
std::vector<double> pair_distance_fingerprint(const Structure& structure, double r_max = 6.0,
                                              double bin = 0.05, double width = 0.1);
// 1 − cosine similarity.
double fingerprint_distance(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace otfgp::search
