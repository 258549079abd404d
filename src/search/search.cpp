// The search loop: candidates generated from the seed, advanced by the
// relaxation stepper under the chosen strategy, the state checkpointed after
// every unit of work so that a resumed run repeats exactly what was lost.

#include "otfgp/search/search.hpp"
#include "otfgp/gp/potential_registry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <type_traits>

#include <sys/wait.h>
#include <unistd.h>

#include "otfgp/core/distance_check.hpp"
#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/output_lock.hpp"
#include "otfgp/core/types.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/oracle/oracle_settings.hpp"
#include "otfgp/search/search_folder.hpp"
#include "otfgp/search/space_group.hpp"
#include "otfgp/search/template.hpp"

namespace otfgp::search {

std::string status_name(CandidateStatus status) {
  switch (status) {
    case CandidateStatus::pending:
      return "pending";
    case CandidateStatus::active:
      return "active";
    case CandidateStatus::converged:
      return "converged";
    case CandidateStatus::unconverged:
      return "unconverged";
    case CandidateStatus::failed:
      return "failed";
  }
  return "?";
}

namespace {

constexpr int checkpoint_version = 1;

CandidateStatus status_from_name(const std::string& name) {
  for (const auto status :
       {CandidateStatus::pending, CandidateStatus::active, CandidateStatus::converged,
        CandidateStatus::unconverged, CandidateStatus::failed})
    if (status_name(status) == name) return status;
  throw Error("search checkpoint: unknown candidate status '" + name + "'");
}

// "KEY: A in the checkpoint, B in the config" for the first entry of `stored`
// and `expected` that differs (a JSON pointer; values over 80 characters
// left out, lines of a text compared one by one; an oracle's settings with
// their defaults, `oracle`'s, filled in).
std::string first_difference(const nlohmann::json& stored, const nlohmann::json& expected,
                             const oracle::Oracle* oracle) {
  const nlohmann::json patch = nlohmann::json::diff(stored, expected);
  if (patch.empty()) return "no difference";
  const nlohmann::json::json_pointer where(patch[0].at("path").get<std::string>());
  const auto text = [&](const nlohmann::json& document) -> std::string {
    if (!document.contains(where)) return "none";
    const nlohmann::json& value = document.at(where);
    return value.is_string() ? value.get<std::string>() : value.dump();
  };
  std::string before = text(stored), now = text(expected);
  // Texts of several lines (the oracle's settings): the key that changed.
  if (before.find('\n') != std::string::npos || now.find('\n') != std::string::npos)
    if (const auto change = oracle ? oracle::first_label_change(before, now, *oracle)
                                   : oracle::first_label_change(before, now)) {
      before = change->key + ": " + change->before.value_or("(not set)");
      now = change->key + ": " + change->now.value_or("(not set)");
    }
  if (before.size() > 80 || now.size() > 80) return "at " + where.to_string();
  return where.to_string() + ": " + before + " in the checkpoint, " + now + " in the config";
}

// What must agree between a checkpoint and the config that resumes it.
nlohmann::json base_identity(const SearchConfig& config) {
  const auto& g = config.generator;
  return {{"composition", config.stoichiometry.formula()},
          {"formula_units", {g.min_formula_units, g.max_formula_units}},
          {"potential", config.potential},
          {"pressure", config.pressure_gpa},
          {"seed", config.seed},
          {"candidates", config.candidates},
          {"templates", config.templates},
          {"algorithm", strategy_name(config.strategy)},
          {"max_total_steps", config.max_total_steps},
          {"space_groups", g.space_groups},
          {"volume_factor", {g.volume_factor_min, g.volume_factor_max}},
          {"distance_tolerance", g.distance_tolerance},
          {"relax",
           {relax_algorithm_name(config.relax.algorithm), config.relax.force_tolerance,
            config.relax.stress_tolerance, config.relax.max_steps, config.relax.max_step}},
          {"laqa",
           {config.laqa.initial_steps, config.laqa.n_select, config.laqa.n_steps,
            config.laqa.weight_force, config.laqa.weight_stress,
            stress_score_name(config.laqa.stress)}},
          {"shotgun", {config.shotgun.pre_steps, config.shotgun.keep}}};
}

nlohmann::json config_identity(const SearchConfig& config) {
  nlohmann::json j = base_identity(config);
  if (const auto& al = config.active_learning)
    j["active_learning"] = {{"oracle", al->oracle->kind()},
                            {"oracle_settings", al->oracle_settings},
                            {"training", al->training.string()},
                            {"relative", al->relative},
                            {"std_threshold", al->std_threshold},
                            {"max_calls", al->max_calls},
                            {"check_interval", al->check_interval},
                            {"max_sparse_per_frame", al->max_sparse_per_frame},
                            {"calibration", {al->calibration_frames, al->calibration_window}},
                            {"target_force_error", al->target_force_error},
                            {"label_minima", al->label_minima}};
  return j;
}

double shortest_scaled_distance(const Structure& structure) {
  // min over pairs of d_ij / (r_i + r_j), images within one cell.
  double shortest = std::numeric_limits<double>::infinity();
  for (int i = 0; i < structure.size(); ++i)
    for (int j = i; j < structure.size(); ++j) {
      const double radii = element(structure.numbers[static_cast<std::size_t>(i)]).covalent_radius +
                           element(structure.numbers[static_cast<std::size_t>(j)]).covalent_radius;
      for (int a = -1; a <= 1; ++a)
        for (int b = -1; b <= 1; ++b)
          for (int c = -1; c <= 1; ++c) {
            if (i == j && a == 0 && b == 0 && c == 0) continue;
            const Eigen::RowVector3d d = structure.positions.row(j) - structure.positions.row(i) +
                                         a * structure.cell.row(0) + b * structure.cell.row(1) +
                                         c * structure.cell.row(2);
            shortest = std::min(shortest, d.norm() / radii);
          }
    }
  return shortest;
}

struct Entry {
  CandidateSummary summary;
  Structure initial;
  std::optional<Relaxer> relaxer;
  double delta_force = std::numeric_limits<double>::quiet_NaN();  // F drop over the last round
  bool kept = false;       // shotgun: chosen for full relaxation
  int labelled_step = -1;  // active learning: the relaxation step last labelled
  // Active learning: a minimum of this candidate was labelled and the oracle's
  // forces there were within the model's force noise, so its minima are not
  // labelled again (label_minima).
  bool minimum_confirmed = false;
};

class Engine {
 public:
  Engine(const SearchConfig& config, int workers, double fork_seconds)
      : config_(config),
        potential_(make_potential(config.potential)),
        workers_(workers),
        fork_seconds_(fork_seconds) {
    if (workers > 1 && config.max_total_steps > 0)
      throw Error(
          "search: --np above 1 cannot honour max_total_steps step by step; run with --np 1 or "
          "without the budget");
    // The model changes between chunks of work, and which worker's candidate
    // is labelled first decides what the others relax on: measured, --np 2 gave
    // another ranking than --np 1. One process keeps the result well defined.
    if (workers > 1 && config.active_learning)
      throw Error(
          "search: active_learning runs in one process (the model changes as candidates are "
          "labelled, so the result would depend on --np); run with --np 1");
    if (config.active_learning) learner_.emplace(*config.active_learning, config.output);
    potential_->bind(config.stoichiometry.numbers);  // an unsupported element fails now
    std::vector<std::filesystem::path> template_paths;
    for (const auto& path : config.templates) {
      // Relative to the config file, as the user reads it.
      std::filesystem::path p = path;
      if (p.is_relative() && !config.source.empty())
        p = std::filesystem::path(config.source).parent_path() / p;
      template_paths.push_back(p);
    }
    for (const Template& found : read_templates(template_paths)) {
      const auto substituted = found.structure.size() > 0
                                   ? substitute(found.structure, config.stoichiometry)
                                   : std::nullopt;
      if (!substituted) {
        logger().info("template {} ({}) does not match {}", found.name, found.structure.formula(),
                      config.stoichiometry.formula());
        continue;
      }
      Entry entry;
      entry.initial = *substituted;
      entry.summary.origin = "template " + found.name;
      const auto symmetry = find_symmetry(*substituted, 1e-2);
      entry.summary.generated_space_group = symmetry ? symmetry->number : 1;
      entries_.push_back(std::move(entry));
    }
    if (!config.templates.empty() && entries_.empty())
      throw Error("no template matches the stoichiometry pattern of " +
                  config.stoichiometry.formula());
    const int templates = static_cast<int>(entries_.size());
    for (int k = 0; k < config.candidates; ++k) {
      GeneratedStructure made;
      try {
        made = generate_random_structure(config.stoichiometry, config.generator, config.seed,
                                         static_cast<std::uint64_t>(k));
      } catch (const Error& error) {
        throw Error(fmt::format("candidate {} (random, seed {}): {}", templates + k, config.seed,
                                error.what()));
      }
      Entry entry;
      entry.initial = made.structure;
      entry.summary.generated_space_group = made.space_group;
      entry.summary.p1_fallback = made.fallback;
      entry.summary.origin = "random";
      entries_.push_back(std::move(entry));
    }
    for (std::size_t k = 0; k < entries_.size(); ++k) {
      entries_[k].summary.index = static_cast<int>(k);
      entries_[k].summary.atoms = entries_[k].initial.size();
    }
  }

  std::filesystem::path checkpoint_file() const {
    return std::filesystem::path(config_.output) / "checkpoint.json";
  }

  // This config's identity as `stored` (a checkpoint's) would hold it:
  // without the active-learning oracle's settings where older checkpoints
  // lack them, those settings as older builds recorded them, and the
  // recorded ones where they are these by value (with_label_defaults).
  nlohmann::json expected_identity(const nlohmann::json& stored) const {
    nlohmann::json expected = config_identity(config_);
    if (!expected.contains("active_learning") || !stored.contains("active_learning"))
      return expected;
    // Checkpoints written before 2026-12-01 do not hold the oracle's settings.
    if (!stored["active_learning"].contains("oracle_settings")) {
      expected["active_learning"].erase("oracle_settings");
      logger().warn(
          "search checkpoint {}: written before the oracle's settings were recorded: make sure "
          "the oracle: section is the one the search began with",
          checkpoint_file().string());
      return expected;
    }
    const std::string now = expected["active_learning"]["oracle_settings"];
    const std::string recorded = stored["active_learning"]["oracle_settings"];
    std::string compared = oracle::settings_as_recorded(recorded, now);
    // A default written out, or an alias, is no change.
    const oracle::Oracle& made = *config_.active_learning->oracle;
    if (oracle::with_label_defaults(recorded, made) == oracle::with_label_defaults(compared, made))
      compared = recorded;
    expected["active_learning"]["oracle_settings"] = compared;
    if (oracle::file_contents_uncompared(recorded, now))
      logger().warn(
          "search checkpoint {}: written before the oracle's parameter files were recorded by "
          "their contents: make sure they are the ones the search began with",
          checkpoint_file().string());
    return expected;
  }

  void load_checkpoint() {
    std::ifstream in(checkpoint_file());
    if (!in) {
      logger().info("no checkpoint at {}; starting afresh", checkpoint_file().string());
      return;
    }
    nlohmann::json j;
    try {
      in >> j;
      if (j.at("format_version").get<int>() != checkpoint_version)
        throw Error("search checkpoint " + checkpoint_file().string() + ": unknown format version");
      const nlohmann::json& stored = j.at("config");
      const nlohmann::json expected = expected_identity(stored);
      if (stored != expected)
        throw Error("search checkpoint " + checkpoint_file().string() +
                    " was written by a different search config (" +
                    first_difference(
                        stored, expected,
                        config_.active_learning ? config_.active_learning->oracle.get() : nullptr) +
                    "); remove it or use another output folder");
      phase_ = j.at("phase").get<std::string>();
      total_steps_ = j.at("total_steps").get<long>();
      elapsed_before_ = j.at("elapsed_seconds").get<double>();
      if (learner_) {
        // The model the checkpoint names, before any relaxer is evaluated with it.
        learner_->restore(j.at("active_learning"));
        learner_started_ = true;
        potential_ = make_potential(learner_->spec());
        potential_->bind(config_.stoichiometry.numbers);
      }
      const auto& list = j.at("candidates");
      if (list.size() != entries_.size())
        throw Error("search checkpoint: wrong number of candidates");
      for (std::size_t k = 0; k < entries_.size(); ++k) {
        const auto& c = list[k];
        Entry& entry = entries_[k];
        entry.summary.status = status_from_name(c.at("status").get<std::string>());
        entry.summary.note = c.at("note").get<std::string>();
        entry.summary.found_at_steps = c.at("found_at_steps").get<long>();
        entry.summary.found_at_seconds = c.at("found_at_seconds").get<double>();
        entry.summary.steps = c.at("steps").get<int>();
        entry.delta_force = c.at("delta_force").is_null() ? std::numeric_limits<double>::quiet_NaN()
                                                          : c.at("delta_force").get<double>();
        entry.kept = c.at("kept").get<bool>();
        entry.labelled_step = c.value("labelled_step", -1);
        entry.minimum_confirmed = c.value("minimum_confirmed", false);
        if (c.contains("relaxer")) {
          entry.relaxer.emplace(*potential_, c.at("relaxer"), config_.relax);
          if (entry.summary.status == CandidateStatus::converged ||
              entry.summary.status == CandidateStatus::unconverged)
            fill_summary(entry);
        }
      }
    } catch (const nlohmann::json::exception& error) {
      throw Error("search checkpoint " + checkpoint_file().string() + ": " + error.what());
    }
    logger().info("resumed {} at phase '{}' after {} optimisation steps",
                  checkpoint_file().string(), phase_, total_steps_);
  }

  void save_checkpoint() const {
    nlohmann::json j;
    j["format_version"] = checkpoint_version;
    j["config"] = config_identity(config_);
    j["phase"] = phase_;
    j["total_steps"] = total_steps_;
    j["elapsed_seconds"] = elapsed();
    nlohmann::json list = nlohmann::json::array();
    for (const Entry& entry : entries_) {
      nlohmann::json c;
      c["status"] = status_name(entry.summary.status);
      c["note"] = entry.summary.note;
      c["found_at_steps"] = entry.summary.found_at_steps;
      c["found_at_seconds"] = entry.summary.found_at_seconds;
      c["steps"] = entry.summary.steps;
      c["delta_force"] = std::isfinite(entry.delta_force) ? nlohmann::json(entry.delta_force)
                                                          : nlohmann::json(nullptr);
      c["kept"] = entry.kept;
      c["labelled_step"] = entry.labelled_step;
      c["minimum_confirmed"] = entry.minimum_confirmed;
      if (entry.relaxer) c["relaxer"] = entry.relaxer->to_json();
      list.push_back(std::move(c));
    }
    j["candidates"] = std::move(list);
    if (learner_) j["active_learning"] = learner_->state();
    OutputFile out(checkpoint_file());
    out.stream() << j.dump();
    out.commit();
    if (learner_) learner_->prune();
    // A first Ctrl-C (or SIGTERM) under the CLI's guard stops here, with
    // nothing to lose: the state just written is where --resume continues.
    if (interrupt_requested())
      throw InterruptedError(interrupt_signal(), "search interrupted after writing " +
                                                     checkpoint_file().string() +
                                                     "; continue with --resume");
  }

  SearchResult run() {
    if (phase_ == "start") {
      phase_ = config_.strategy == Strategy::random ? "relax" : "initial";
      // Before any other output (active learning's training files, its first
      // oracle call): a search killed from here on is continued by --resume.
      save_checkpoint();
    }
    if (learner_ && !learner_started_) {
      learner_->start();
      learner_started_ = true;
    }
    switch (config_.strategy) {
      case Strategy::random:
        run_random();
        break;
      case Strategy::laqa:
        run_laqa();
        break;
      case Strategy::shotgun:
        run_shotgun();
        break;
    }
    phase_ = "done";
    save_checkpoint();
    return result();
  }

 private:
  double elapsed() const {
    return elapsed_before_ +
           std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  }
  bool over_budget() const {
    return config_.max_total_steps > 0 && total_steps_ >= config_.max_total_steps;
  }

  // What one unit of work did to a candidate: its relaxer state afterwards
  // (or the error that stopped it) and the steps it took.
  struct Outcome {
    bool failed = false;
    std::string error;
    nlohmann::json relaxer;         // from a worker; null when failed
    std::optional<Relaxer> object;  // in this process
    int taken = 0;
    double delta_force = 0.0;
  };

  // Starts or advances a candidate by up to `steps`. In a worker the
  // relaxer is rebuilt from its state (exactly, see Relaxer) and returned as
  // JSON; in this process it is taken from the entry and handed back.
  Outcome work(Entry& entry, int steps, bool in_worker) const {
    Outcome outcome;
    std::optional<Relaxer> relaxer;
    int steps_before = 0;
    try {
      if (entry.relaxer && in_worker)
        relaxer.emplace(*potential_, entry.relaxer->to_json(), config_.relax);
      else if (entry.relaxer)
        relaxer = std::move(entry.relaxer);
      else
        relaxer.emplace(*potential_, entry.initial, config_.relax);
      steps_before = relaxer->steps();
      const double before = relaxer->current().mean_force;
      outcome.taken = relaxer->advance(steps);
      outcome.delta_force = before - relaxer->current().mean_force;
      if (in_worker)
        outcome.relaxer = relaxer->to_json();
      else
        outcome.object = std::move(relaxer);
    } catch (const Error& error) {
      outcome.failed = true;
      outcome.error = error.what();
      if (relaxer) outcome.taken = relaxer->steps() - steps_before;
    }
    return outcome;
  }

  void apply(Entry& entry, Outcome& outcome) {
    total_steps_ += outcome.taken;
    if (outcome.failed) {
      entry.summary.steps += outcome.taken;
      entry.relaxer.reset();
      entry.summary.status = CandidateStatus::failed;
      entry.summary.note = outcome.error;
      entry.summary.found_at_steps = total_steps_;
      entry.summary.found_at_seconds = elapsed();
      logger().info("candidate {} failed: {}", entry.summary.index, outcome.error);
      return;
    }
    if (outcome.object)
      entry.relaxer = std::move(outcome.object);
    else
      entry.relaxer.emplace(*potential_, outcome.relaxer, config_.relax);
    entry.summary.status = CandidateStatus::active;
    entry.summary.steps = entry.relaxer->steps();
    entry.delta_force = outcome.delta_force;
    // A cell that grows without end (negative pressure: H = PV → −∞) would
    // lead LAQA's score every round until max_steps; it ends here, failed.
    const Structure& now = *entry.relaxer->current().structure;
    if (entry.relaxer->finished() || isolated_atoms(now) == now.size() || growth(entry) > 10.0)
      finish(entry);
  }

  int isolated_atoms(const Structure& structure) const {
    return atoms_without_neighbour(AtomState::from_structure(structure), potential_->cutoff());
  }

  // The candidate's volume over its generated volume.
  static double growth(const Entry& entry) {
    return entry.relaxer->current().structure->volume() / entry.initial.volume();
  }

  // Advances the candidates (in this order) by up to `steps` each: in this
  // process, or over a pool of forked workers; either way the outcomes are
  // applied in order, so the state does not depend on the number of workers.
  void advance(const std::vector<int>& indices, int steps) {
    const auto start = std::chrono::steady_clock::now();
    const long steps_before = total_steps_;
    const bool forked = workers_ > 1 && indices.size() > 1 && worth_forking(indices.size(), steps);
    if (!forked) {
      for (const int k : indices) {
        if (over_budget()) break;
        Entry& entry = entries_[static_cast<std::size_t>(k)];
        int allowed = steps;
        if (config_.max_total_steps > 0)
          allowed = static_cast<int>(std::min<long>(steps, config_.max_total_steps - total_steps_));
        Outcome outcome = work(entry, allowed, false);
        apply(entry, outcome);
      }
    } else {
      std::vector<Outcome> outcomes = work_in_parallel(indices, steps);
      for (std::size_t t = 0; t < indices.size(); ++t)
        apply(entries_[static_cast<std::size_t>(indices[t])], outcomes[t]);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!forked && total_steps_ > steps_before)
      seconds_per_step_ = seconds / static_cast<double>(total_steps_ - steps_before);
  }

  // A fork and the JSON of each relaxer's state cost milliseconds: a LAQA
  // round of 4 candidates × 10 steps on a small cell ran 4.5 times slower
  // over two workers than here. The pool takes the candidates when each
  // worker's share of the steps, at the time per step measured here, is
  // longer than fork_seconds_; the first batch runs here, to measure. Either
  // way the outcomes are the same (advance()).
  bool worth_forking(std::size_t candidates, int steps) const {
    if (fork_seconds_ <= 0) return true;
    if (!(seconds_per_step_ > 0)) return false;
    const double share = static_cast<double>(candidates) /
                         static_cast<double>(std::min<std::size_t>(workers_, candidates));
    return seconds_per_step_ * steps * share > fork_seconds_;
  }

  std::vector<Outcome> work_in_parallel(const std::vector<int>& indices, int steps) {
    // A forked child of a threaded Kokkos (OpenMP, CUDA) cannot use the
    // runtime its parent started: workers are for the Serial backend.
    if (!std::is_same<ExecSpace, Kokkos::Serial>::value)
      throw Error("search: --np above 1 needs otfgp built with Kokkos Serial (this build uses " +
                  std::string(ExecSpace::name()) + "); run with --np 1, which threads already use");
    const int pool = std::min<int>(workers_, static_cast<int>(indices.size()));
    std::vector<pid_t> children;
    std::vector<int> pipes;
    for (int w = 0; w < pool; ++w) {
      int ends[2];
      if (::pipe(ends) != 0) throw Error("search: cannot create a pipe for the worker pool");
      const pid_t pid = ::fork();
      if (pid < 0) throw Error("search: cannot fork a worker");
      if (pid == 0) {
        ::close(ends[0]);
        run_worker(indices, steps, w, pool, ends[1]);
      }
      ::close(ends[1]);
      children.push_back(pid);
      pipes.push_back(ends[0]);
    }
    std::vector<Outcome> outcomes(indices.size());
    bool broken = false;
    for (int w = 0; w < pool; ++w)
      broken |= !collect_worker(pipes[static_cast<std::size_t>(w)],
                                children[static_cast<std::size_t>(w)], w, pool, outcomes);
    if (broken) throw Error("search: a worker process died; rerun with --resume");
    return outcomes;
  }

  // Worker w of `pool` (a forked child): relaxes indices w, w + pool, … and
  // writes their outcomes to `fd` as JSON. Nothing may leave it but _exit: an
  // exception unwinding into the parent's frames would run their destructors
  // (the output lock's among them) in the child.
  [[noreturn]] void run_worker(const std::vector<int>& indices, int steps, int w, int pool,
                               int fd) {
    try {
      nlohmann::json results = nlohmann::json::array();
      for (std::size_t t = static_cast<std::size_t>(w); t < indices.size();
           t += static_cast<std::size_t>(pool)) {
        Outcome outcome;
        try {
          outcome = work(entries_[static_cast<std::size_t>(indices[t])], steps, true);
        } catch (const std::exception& error) {
          outcome.failed = true;
          outcome.error = std::string("worker: ") + error.what();
        }
        results.push_back({{"failed", outcome.failed},
                           {"error", outcome.error},
                           {"relaxer", outcome.relaxer},
                           {"taken", outcome.taken},
                           {"delta_force", outcome.delta_force}});
      }
      const std::string text = results.dump();
      std::size_t written = 0;
      while (written < text.size()) {
        const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
        if (n <= 0) ::_exit(3);
        written += static_cast<std::size_t>(n);
      }
      ::close(fd);
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);  // no destructors or atexit handlers of the parent's objects
  }

  // Reads worker w's outcomes from `fd` into `outcomes` and reaps it; false
  // when it died.
  static bool collect_worker(int fd, pid_t pid, int w, int pool, std::vector<Outcome>& outcomes) {
    std::string text;
    char buffer[65536];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, std::size_t(n));
    ::close(fd);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return false;
    const nlohmann::json results = nlohmann::json::parse(text);
    std::size_t r = 0;
    for (std::size_t t = static_cast<std::size_t>(w); t < outcomes.size();
         t += static_cast<std::size_t>(pool), ++r) {
      const auto& j = results.at(r);
      Outcome& outcome = outcomes[t];
      outcome.failed = j.at("failed").get<bool>();
      outcome.error = j.at("error").get<std::string>();
      outcome.relaxer = j.at("relaxer");
      outcome.taken = j.at("taken").get<int>();
      outcome.delta_force = j.at("delta_force").get<double>();
    }
    return true;
  }

  // The candidates in `candidates` cut into batches of the pool's size.
  std::vector<std::vector<int>> batches(const std::vector<int>& candidates) const {
    std::vector<std::vector<int>> out;
    const std::size_t size = static_cast<std::size_t>(std::max(1, workers_));
    for (std::size_t k = 0; k < candidates.size(); k += size)
      out.emplace_back(
          candidates.begin() + static_cast<long>(k),
          candidates.begin() + static_cast<long>(std::min(candidates.size(), k + size)));
    return out;
  }

  std::vector<int> with_status(std::initializer_list<CandidateStatus> statuses,
                               bool kept_only = false) const {
    std::vector<int> out;
    for (const Entry& entry : entries_)
      if (std::find(statuses.begin(), statuses.end(), entry.summary.status) != statuses.end() &&
          (!kept_only || entry.kept))
        out.push_back(entry.summary.index);
    return out;
  }

  void fill_summary(Entry& entry) const {
    const RelaxResult result = entry.relaxer->result();
    CandidateSummary& s = entry.summary;
    s.steps = result.steps;
    s.structure = result.structure;
    s.atoms = result.structure.size();
    s.enthalpy_per_atom = result.enthalpy / s.atoms;
    s.energy_per_atom = result.energy / s.atoms;
    s.volume_per_atom = result.structure.volume() / s.atoms;
    s.max_force = result.max_force;
    s.extrapolation = result.extrapolation;
    if (const auto found = find_symmetry(result.structure, config_.symprec)) {
      s.space_group = found->number;
      s.space_group_symbol = found->symbol;
    }
  }

  void finish(Entry& entry) {
    CandidateSummary& s = entry.summary;
    s.status =
        entry.relaxer->converged() ? CandidateStatus::converged : CandidateStatus::unconverged;
    s.found_at_steps = total_steps_;
    s.found_at_seconds = elapsed();
    fill_summary(entry);
    if (shortest_scaled_distance(s.structure) < config_.collapse_tolerance) {
      s.status = CandidateStatus::failed;
      s.note = "collapsed: atoms closer than collapse_tolerance × the sum of covalent radii";
    } else if (const int alone = isolated_atoms(s.structure); alone > 0) {
      // No force and no stress on them: a "minimum" in 0 steps, H = PV alone.
      s.status = CandidateStatus::failed;
      s.note = fmt::format("torn apart: {} of {} atoms with no neighbour within the cutoff", alone,
                           s.structure.size());
    } else if (const double grown = growth(entry); grown > 10.0) {
      s.status = CandidateStatus::failed;
      s.note = fmt::format(
          "blown up: the cell grew to {:.0f}× its generated volume (at negative pressure nothing "
          "may hold it: H = PV falls without end)",
          grown);
    }
    logger().info("candidate {} {} after {} steps: H = {:.5f} eV/atom, {} (total {} steps)",
                  s.index, status_name(s.status), s.steps, s.enthalpy_per_atom,
                  s.space_group_symbol, total_steps_);
  }

  void run_random() {
    // The next batch is taken afresh each time: active learning may reopen a
    // converged candidate (its forces under the updated model are not zero).
    while (!over_budget()) {
      const auto open = batches(with_status({CandidateStatus::pending, CandidateStatus::active}));
      if (open.empty()) break;
      advance_and_learn(open.front(), config_.relax.max_steps);
      save_checkpoint();
    }
  }

  double score(const Entry& entry) const {
    const RelaxStep& step = entry.relaxer->current();
    const double atoms = entry.summary.atoms;
    double value = -step.enthalpy / atoms;
    if (std::isfinite(entry.delta_force)) {
      const double drop = std::max(std::abs(entry.delta_force), 1e-8);
      value += config_.laqa.weight_force * step.mean_force * step.mean_force / (2.0 * drop);
    }
    double stress = 0.0;
    if (config_.laqa.stress == StressScore::raw) stress = step.mean_stress;
    if (config_.laqa.stress == StressScore::deviation) stress = step.mean_stress_deviation;
    return value + config_.laqa.weight_stress * stress * units::gpa_in_ev_per_a3;
  }

  void run_laqa() {
    if (phase_ == "initial") {
      for (const auto& batch : batches(with_status({CandidateStatus::pending}))) {
        if (over_budget()) break;
        advance_and_learn(batch, config_.laqa.initial_steps);
        save_checkpoint();
      }
      if (!over_budget()) phase_ = "rounds";
      save_checkpoint();
    }
    while (phase_ == "rounds" && !over_budget()) {
      std::vector<std::pair<double, int>> pool;
      for (const Entry& entry : entries_)
        if (entry.summary.status == CandidateStatus::active)
          pool.emplace_back(-score(entry), entry.summary.index);
      if (pool.empty()) break;
      std::sort(pool.begin(), pool.end());
      const std::size_t chosen =
          std::min<std::size_t>(pool.size(), static_cast<std::size_t>(config_.laqa.n_select));
      std::vector<int> selected;
      for (std::size_t k = 0; k < chosen; ++k) selected.push_back(pool[k].second);
      advance_and_learn(selected, config_.laqa.n_steps);
      save_checkpoint();
    }
  }

  void run_shotgun() {
    if (phase_ == "initial") {
      for (const auto& batch : batches(with_status({CandidateStatus::pending}))) {
        if (over_budget()) break;
        advance_and_learn(batch, config_.shotgun.pre_steps);
        save_checkpoint();
      }
      if (over_budget()) return;
      // The `keep` lowest enthalpies per atom after the pre-relaxation.
      std::vector<std::pair<double, int>> ranked;
      for (const Entry& entry : entries_)
        if (entry.relaxer && (entry.summary.status == CandidateStatus::active ||
                              entry.summary.status == CandidateStatus::converged))
          ranked.emplace_back(entry.relaxer->current().enthalpy / entry.summary.atoms,
                              entry.summary.index);
      std::sort(ranked.begin(), ranked.end());
      for (std::size_t k = 0; k < ranked.size(); ++k) {
        Entry& entry = entries_[static_cast<std::size_t>(ranked[k].second)];
        if (k < static_cast<std::size_t>(config_.shotgun.keep)) {
          entry.kept = true;
        } else if (entry.summary.status == CandidateStatus::active) {
          finish(entry);
          entry.summary.note = "screened out after the pre-relaxation";
        }
      }
      phase_ = "relax";
      save_checkpoint();
    }
    while (!over_budget()) {
      const auto open = batches(with_status({CandidateStatus::active}, true));
      if (open.empty()) break;
      advance_and_learn(open.front(), config_.relax.max_steps);
      save_checkpoint();
    }
  }

  // advance(), with active learning in chunks of check_interval steps, each
  // followed by learn(). The LAQA force drop is then taken over the whole
  // unit, as without active learning.
  void advance_and_learn(const std::vector<int>& indices, int steps) {
    if (!learner_) {
      advance(indices, steps);
      return;
    }
    const int chunk = config_.active_learning->check_interval;
    std::vector<double> before(indices.size(), std::numeric_limits<double>::quiet_NaN());
    for (std::size_t t = 0; t < indices.size(); ++t) {
      const Entry& entry = entries_[static_cast<std::size_t>(indices[t])];
      if (entry.relaxer) before[t] = entry.relaxer->current().mean_force;
    }
    for (int done = 0; done < steps && !over_budget(); done += chunk) {
      std::vector<int> open;
      for (const int k : indices) {
        const CandidateStatus status = entries_[static_cast<std::size_t>(k)].summary.status;
        if (status == CandidateStatus::pending || status == CandidateStatus::active)
          open.push_back(k);
      }
      if (open.empty()) break;
      advance(open, std::min(chunk, steps - done));
      for (std::size_t t = 0; t < indices.size(); ++t) {
        const Entry& entry = entries_[static_cast<std::size_t>(indices[t])];
        if (std::isnan(before[t]) && entry.relaxer)  // the start's mean force
          before[t] = entry.relaxer->current().mean_force + entry.delta_force;
      }
      learn(open);
    }
    for (std::size_t t = 0; t < indices.size(); ++t) {
      Entry& entry = entries_[static_cast<std::size_t>(indices[t])];
      if (entry.relaxer && std::isfinite(before[t]))
        entry.delta_force = before[t] - entry.relaxer->current().mean_force;
    }
  }

  // Active learning after a unit of work: every active candidate, and those
  // of the unit that just finished, judged in index order by the current
  // model; each labelled frame updates the model before the next is judged.
  void learn(const std::vector<int>& advanced) {
    if (!learner_) return;
    bool called = false;
    int audit = -1;  // the eligible candidate with the largest std
    double largest = -1.0;
    for (Entry& entry : entries_) {
      if (!learner_->can_call()) break;
      const CandidateStatus status = entry.summary.status;
      const bool just_finished =
          (status == CandidateStatus::converged || status == CandidateStatus::unconverged) &&
          std::find(advanced.begin(), advanced.end(), entry.summary.index) != advanced.end();
      if (!entry.relaxer || !(status == CandidateStatus::active || just_finished)) continue;
      if (entry.labelled_step == entry.relaxer->steps()) continue;  // learnt there already
      if (shortest_scaled_distance(*entry.relaxer->current().structure) <
          config_.collapse_tolerance) {
        // Collapsed on the model: no label (forces of thousands of eV/Å
        // would wreck the model), and no more steps on it.
        CandidateSummary& s = entry.summary;
        fill_summary(entry);
        entry.relaxer.reset();
        s.status = CandidateStatus::failed;
        s.note = "collapsed on the model before active learning could label it";
        s.found_at_steps = total_steps_;
        s.found_at_seconds = elapsed();
        logger().info("candidate {} failed: {}", s.index, s.note);
        continue;
      }
      ActiveLearner::Verdict verdict = learner_->judge(entry.relaxer->current());
      // A minimum just reached on the model is where the optimiser has
      // exploited the model's errors: labelled (label_minima) until the
      // oracle's forces at one are within the model's force noise — below it
      // the model cannot place the minimum better, and labelling each
      // slightly moved minimum again would spend the calls on one candidate.
      if (just_finished && status == CandidateStatus::converged &&
          config_.active_learning->label_minima && !verdict.call && !entry.minimum_confirmed) {
        verdict.call = true;
        verdict.minimum = true;
      }
      if (!verdict.call) {
        if (entry.relaxer->current().extrapolation->max_uncertainty > largest) {
          largest = entry.relaxer->current().extrapolation->max_uncertainty;
          audit = entry.summary.index;
        }
        continue;
      }
      called = true;
      label(entry, verdict);
    }
    // An audit: while the model missed the last frame it was sent by more
    // than target_force_error × its force RMS, the std is not trusted to see
    // all its errors, and the most uncertain candidate is labelled anyway.
    if (!called && audit >= 0 && learner_->can_call() && learner_->needs_audit()) {
      Entry& entry = entries_[static_cast<std::size_t>(audit)];
      ActiveLearner::Verdict verdict = learner_->judge(entry.relaxer->current());
      verdict.audit = true;
      label(entry, verdict);
    }
  }

  void label(Entry& entry, const ActiveLearner::Verdict& verdict) {
    entry.labelled_step = entry.relaxer->steps();
    const GpHyperparameters noise = learner_->model().hyperparameters();
    if (!learner_->label_and_learn(*entry.relaxer->current().structure, entry.summary.index,
                                   entry.relaxer->steps(), verdict))
      return;
    if (verdict.minimum) entry.minimum_confirmed = minimum_confirmed(entry, noise);
    rebind();
  }

  // The oracle's forces at a labelled minimum within the force noise, and its
  // stress within the stress noise of −P (at a high-symmetry minimum the
  // forces vanish by symmetry at any volume).
  bool minimum_confirmed(const Entry& entry, const GpHyperparameters& noise) const {
    if (learner_->report().history.back().force_rms > noise.force_noise) return false;
    const Structure& frame = learner_->last_frame();
    if (!config_.relax.relax_cell || !frame.stress) return true;
    const double residual = stress_residual(*frame.stress, config_.relax.pressure_gpa);
    if (residual <= noise.stress_noise) return true;
    logger().info(
        "candidate {}: the oracle's forces at its minimum are within the force noise, its stress "
        "{:.4f} GPa RMS off −P is not (stress noise {:.4f} GPa): not confirmed",
        entry.summary.index, residual * units::ev_per_a3_in_gpa,
        noise.stress_noise * units::ev_per_a3_in_gpa);
    return false;
  }

  // The updated model replaces the potential; every relaxation is restored
  // on it from its state, re-evaluating its current point (as a resumed
  // search does), so that scores and enthalpies all come from one model.
  void rebind() {
    std::vector<std::optional<nlohmann::json>> states(entries_.size());
    for (std::size_t k = 0; k < entries_.size(); ++k)
      if (entries_[k].relaxer) {
        states[k] = entries_[k].relaxer->to_json();
        entries_[k].relaxer.reset();
      }
    potential_ = make_potential(learner_->spec());
    potential_->bind(config_.stoichiometry.numbers);
    for (std::size_t k = 0; k < entries_.size(); ++k) {
      if (!states[k]) continue;
      Entry& entry = entries_[k];
      entry.relaxer.emplace(*potential_, *states[k], config_.relax);
      CandidateSummary& s = entry.summary;
      // A converged minimum of the old model with forces under the new one
      // relaxes on (shotgun: only those chosen for full relaxation).
      const bool may_continue =
          config_.strategy != Strategy::shotgun || entry.kept || phase_ == "initial";
      if (s.status == CandidateStatus::converged && !entry.relaxer->finished() && may_continue) {
        s.status = CandidateStatus::active;
        s.note.clear();
        logger().info("candidate {} reopened: not converged under the updated model", s.index);
      } else if (s.status == CandidateStatus::converged ||
                 s.status == CandidateStatus::unconverged) {
        fill_summary(entry);
      }
    }
  }

  SearchResult result() {
    SearchResult out;
    for (Entry& entry : entries_) {
      if (entry.summary.status == CandidateStatus::active && entry.relaxer) {
        // Stopped by the budget: report where it stands.
        fill_summary(entry);
        entry.summary.status = CandidateStatus::unconverged;
        entry.summary.note = "stopped by max_total_steps";
        entry.summary.found_at_steps = total_steps_;
      }
      out.candidates.push_back(entry.summary);
      if (entry.relaxer) out.statistics.total_evaluations += entry.relaxer->evaluations();
    }
    out.statistics.total_steps = total_steps_;
    out.statistics.wall_seconds = elapsed();
    if (learner_) out.active_learning = learner_->report();
    out.potential = learner_ ? learner_->spec() : config_.potential;
    return out;
  }

  const SearchConfig& config_;
  std::unique_ptr<Potential> potential_;
  std::optional<ActiveLearner> learner_;
  bool learner_started_ = false;
  int workers_ = 1;
  double fork_seconds_ = 0.1;
  double seconds_per_step_ = 0.0;  // of one candidate, measured in this process (0: not yet)
  std::vector<Entry> entries_;
  std::string phase_ = "start";
  long total_steps_ = 0;
  double elapsed_before_ = 0.0;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

// The ranking: the converged candidates in `order` (lowest enthalpy first),
// each a duplicate of a unique one before it or unique itself.
void mark_duplicates(const SearchConfig& config, const std::vector<int>& order,
                     SearchResult& result) {
  std::vector<std::vector<double>> fingerprints(result.candidates.size());
  for (const int k : order)
    fingerprints[static_cast<std::size_t>(k)] =
        pair_distance_fingerprint(result.candidates[static_cast<std::size_t>(k)].structure);
  // A minimum relaxed to the force tolerance sits near the symmetry
  // threshold at times: the same structure then shows a subgroup at symprec
  // (I4_122 for I4_132, Pmc2_1 for P-6m2 in a probe's searches) and its
  // supergroup at twice that. Groups that agree at either tolerance agree.
  std::map<int, int> loose_groups;  // by candidate; 0: spglib found none
  const auto loose_group = [&](const CandidateSummary& c) {
    const auto [at, added] = loose_groups.emplace(c.index, 0);
    if (added)
      if (const auto found = find_symmetry(c.structure, 2.0 * config.symprec))
        at->second = found->number;
    return at->second;
  };
  // A structure and its mirror image (P4_132 and P4_332: the same minimum) are one.
  const auto same_group = [&](const CandidateSummary& a, const CandidateSummary& b) {
    return same_group_up_to_mirror(a.space_group, b.space_group) ||
           (loose_group(a) != 0 && same_group_up_to_mirror(loose_group(a), loose_group(b)));
  };
  for (const int k : order) {
    auto& candidate = result.candidates[static_cast<std::size_t>(k)];
    for (const int u : result.ranking) {
      const auto& unique = result.candidates[static_cast<std::size_t>(u)];
      if (std::abs(unique.enthalpy_per_atom - candidate.enthalpy_per_atom) <
              config.duplicate_enthalpy &&
          fingerprint_distance(fingerprints[static_cast<std::size_t>(u)],
                               fingerprints[static_cast<std::size_t>(k)]) <
              config.duplicate_fingerprint &&
          same_group(unique, candidate)) {
        candidate.duplicate_of = u;
        break;
      }
    }
    if (candidate.duplicate_of < 0) result.ranking.push_back(k);
  }
}

// Duplicates, ranking and the statistics that depend on them.
void rank(const SearchConfig& config, SearchResult& result) {
  std::vector<int> order;
  for (const auto& c : result.candidates)
    if (c.status == CandidateStatus::converged) order.push_back(c.index);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return result.candidates[static_cast<std::size_t>(a)].enthalpy_per_atom <
           result.candidates[static_cast<std::size_t>(b)].enthalpy_per_atom;
  });
  mark_duplicates(config, order, result);

  SearchStatistics& stats = result.statistics;
  for (const auto& c : result.candidates) {
    if (c.status == CandidateStatus::converged) ++stats.converged;
    if (c.status == CandidateStatus::unconverged) ++stats.unconverged;
    if (c.status == CandidateStatus::failed) ++stats.failed;
  }
  stats.unique = static_cast<int>(result.ranking.size());
  // Best-so-far after each finished candidate, in the order they finished.
  std::vector<int> finished = order;
  std::stable_sort(finished.begin(), finished.end(), [&](int a, int b) {
    return result.candidates[static_cast<std::size_t>(a)].found_at_steps <
           result.candidates[static_cast<std::size_t>(b)].found_at_steps;
  });
  double best = std::numeric_limits<double>::infinity();
  for (const int k : finished) {
    const auto& c = result.candidates[static_cast<std::size_t>(k)];
    best = std::min(best, c.enthalpy_per_atom);
    stats.best_history.emplace_back(c.found_at_steps, best);
  }
  if (result.ranking.empty()) {
    logger().warn(
        "{}: no candidate reached a minimum ({} unconverged, {} failed): nothing is ranked; "
        "raise relax.max_steps or candidates",
        config.stoichiometry.formula(), stats.unconverged, stats.failed);
    return;
  }
  const auto& top = result.candidates[static_cast<std::size_t>(result.ranking.front())];
  stats.best_candidate = top.index;
  stats.best_enthalpy_per_atom = top.enthalpy_per_atom;
  // First reached: the earliest-finishing candidate that is the best or its duplicate.
  stats.steps_to_best = std::numeric_limits<long>::max();
  for (const int k : order) {
    const auto& c = result.candidates[static_cast<std::size_t>(k)];
    if (c.index != top.index && c.duplicate_of != top.index) continue;
    if (c.found_at_steps < stats.steps_to_best) {
      stats.steps_to_best = c.found_at_steps;
      stats.seconds_to_best = c.found_at_seconds;
    }
  }
  if (config.ground_state) {
    for (const int k : finished) {
      const auto& c = result.candidates[static_cast<std::size_t>(k)];
      if (c.enthalpy_per_atom < *config.ground_state + config.duplicate_enthalpy) {
        stats.steps_to_ground_state = c.found_at_steps;
        break;
      }
    }
  }
}

std::optional<RecheckComparison> compare_recheck(const SearchResult& result) {
  RecheckComparison r;
  double lowest = std::numeric_limits<double>::infinity();
  for (const int k : result.ranking) {
    const auto& c = result.candidates[static_cast<std::size_t>(k)];
    if (!c.recheck_enthalpy_per_atom) continue;
    const double difference = *c.recheck_enthalpy_per_atom - c.enthalpy_per_atom;
    r.difference_min = r.rechecked == 0 ? difference : std::min(r.difference_min, difference);
    r.difference_max = r.rechecked == 0 ? difference : std::max(r.difference_max, difference);
    ++r.rechecked;
    if (*c.recheck_enthalpy_per_atom < lowest) {
      lowest = *c.recheck_enthalpy_per_atom;
      r.oracle_lowest = k;
    }
  }
  if (r.rechecked == 0) return std::nullopt;
  return r;
}

// Single points of the top unique minima with the recheck oracle.
void recheck(const SearchConfig& config, SearchResult& result) {
  if (!config.recheck_oracle) return;
  const double pressure = config.pressure_gpa * units::gpa_in_ev_per_a3;
  int done = 0;
  for (const int k : result.ranking) {
    if (done++ >= config.recheck_top) break;
    auto& c = result.candidates[static_cast<std::size_t>(k)];
    const auto workdir =
        std::filesystem::path(config.output) / "recheck" / fmt::format("candidate{:04d}", k);
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        const Structure labelled = config.recheck_oracle->label(c.structure, workdir, attempt);
        if (!labelled.energy) throw Error("the oracle returned no energy");
        c.recheck_enthalpy_per_atom =
            (*labelled.energy + pressure * labelled.volume()) / labelled.size();
        c.recheck_error.clear();
        logger().info("recheck of candidate {}: H = {:.5f} eV/atom ({} {:.5f})", k,
                      *c.recheck_enthalpy_per_atom, result.potential, c.enthalpy_per_atom);
        break;
      } catch (const oracle::OracleFailure& failure) {
        c.recheck_error = failure.what();
        logger().warn("recheck of candidate {} (attempt {}) failed: {}", k, attempt + 1,
                      failure.what());
      }
    }
  }
  result.recheck = compare_recheck(result);
  if (!result.recheck) return;
  const RecheckComparison& r = *result.recheck;
  const int first = result.ranking.front();
  const double spread = r.difference_max - r.difference_min;
  if (r.rechecked == 1 && std::abs(r.difference_max) > 1.0)
    logger().warn(
        "the recheck oracle puts candidate {} {:+.3f} eV/atom from the model: unless the two "
        "differ by a constant (other pseudopotentials or reference energies), the model does not "
        "describe this minimum; recheck more minima (recheck.top) to compare their order",
        first, r.difference_max);
  if (r.oracle_lowest != first)
    logger().warn(
        "by the recheck oracle the lowest of the {} rechecked minima is candidate {}, not the "
        "model's first, candidate {}: rank by recheck_enthalpy_per_atom (ranking.csv)",
        r.rechecked, r.oracle_lowest, first);
  if (r.rechecked > 1 && spread > RecheckComparison::spread_warning)
    logger().warn(
        "the recheck oracle's enthalpies differ from the model's by {:+.3f} to {:+.3f} eV/atom "
        "over the {} rechecked minima: the model's order is good to about {:.3f} eV/atom only",
        r.difference_min, r.difference_max, r.rechecked, spread);
}

// Ranked minima where the model would ask for a label (novel atoms or a
// force std above 2 σ_f) that no recheck labelled: their enthalpies are the
// model's extrapolation, and a search on a GP drifts into such places (a
// model of 1000 K diamond Si ranked Si8 minima at −9.2 eV/atom, every one
// with novel atoms, against diamond's −4.34; one at −9.6 had none, but a
// force std of 150 σ_f).
void warn_extrapolated(const SearchConfig& config, const SearchResult& result) {
  std::vector<int> ranks;
  bool judged = false;  // whether a minimum had a force std to judge
  for (std::size_t r = 0; r < result.ranking.size(); ++r) {
    const auto& c = result.candidates[static_cast<std::size_t>(result.ranking[r])];
    judged = judged || force_std_judged(c.extrapolation);
    if (needs_label(c.extrapolation) && !c.recheck_enthalpy_per_atom) ranks.push_back(int(r) + 1);
  }
  if (ranks.empty()) return;
  const auto& first =
      result.candidates[static_cast<std::size_t>(result.ranking[std::size_t(ranks.front() - 1)])];
  logger().warn(
      "{}: {} of the {} ranked minima{} end where the model would ask for a label ({}: "
      "novel_atoms, max_force_std in {}/ranking.csv), the first at rank {} (candidate {}: {}): "
      "their enthalpies are the model's extrapolation, not its prediction; {} before trusting the "
      "ranking; {}",
      config.stoichiometry.formula(), ranks.size(), result.ranking.size(),
      config.recheck_oracle ? " not rechecked" : "", label_rule(judged), config.output,
      ranks.front(), first.index, describe(*first.extrapolation, first.atoms),
      config.recheck_oracle    ? "recheck more of them (recheck.top)"
      : config.active_learning ? "label them (recheck, or more oracle calls: "
                                 "active_learning.max_calls)"
                               : "label them (recheck, or an active-learning search: "
                                 "docs/search.md)",
      label_meaning(judged));
}

}  // namespace

SearchResult run_search(const SearchConfig& config, bool resume, int workers, double fork_seconds) {
  if (workers < 1) throw Error("search: --np must be at least 1");
  check_search_output_paths(config);
  make_output_folder(config.output, "output folder");
  const OutputLock lock(OutputLock::in_folder(config.output),
                        "output folder '" + config.output + "'", "otfgp search");
  if ((!resume ||
       !std::filesystem::exists(std::filesystem::path(config.output) / "checkpoint.json")) &&
      check_fresh_search_folder(config.output)) {
    logger().warn(
        "output folder '{}' holds an earlier search's outputs: this fresh search "
        "replaces them",
        config.output);
    remove_search_outputs(config.output);
  }
  check_writable(std::filesystem::path(config.output) / "checkpoint.json");
  if (config.recheck_oracle) config.recheck_oracle->check(config.stoichiometry.numbers);
  Engine engine(config, workers, fork_seconds);
  if (resume) engine.load_checkpoint();
  SearchResult result = engine.run();
  if (const auto& al = result.active_learning)
    logger().info("active learning: {} oracle calls learnt ({} failed), model {}", al->calls,
                  al->skipped, al->model);
  rank(config, result);
  recheck(config, result);
  warn_extrapolated(config, result);
  write_search_report(config, result);
  return result;
}

}  // namespace otfgp::search
