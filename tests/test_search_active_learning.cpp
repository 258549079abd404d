// Active learning during a search: Si8 on a deliberately weak GP (three
// rattled-diamond Stillinger–Weber frames, a tiny B2 descriptor) with the SW
// potential as the oracle. The oracle is called, the database holds exactly
// the labelled frames, the model learns them, diamond is still found, a
// search killed mid-way resumes to the same ranking and database, and bad
// keys are errors.

#include <spdlog/sinks/ostream_sink.h>
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "otfgp/analysis/relax.hpp"
#include "otfgp/core/config.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/gp/b2_descriptor.hpp"
#include "otfgp/gp/kernel.hpp"
#include "otfgp/gp/model_file.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/gp/training.hpp"
#include "otfgp/otf/training_database.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "otfgp/search/search.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using otfgp::testing::read_text;
using namespace otfgp::search;

namespace {

const std::string sw = "sw:/usr/share/lammps/potentials/Si.sw";

// Three rattled Si8 diamond cells labelled by SW, 6 sparse environments,
// fixed hyperparameters: a model that has never seen anything but slightly
// disturbed diamond.
std::filesystem::path weak_model(const std::filesystem::path& folder) {
  auto potential = make_potential(sw);
  std::vector<Structure> frames;
  for (int k = 0; k < 3; ++k) {
    Structure s = testing::diamond(14, 5.431 * (0.92 + 0.08 * k), 1);
    testing::rattle(s, 0.15, 10 + static_cast<std::uint64_t>(k));
    attach_labels(s, evaluate(*potential, s));
    frames.push_back(s);
  }
  B2Settings settings;
  settings.species = {14};
  settings.n_max = 6;
  settings.l_max = 4;
  settings.cutoff = 4.0;
  GpTrainingSettings training;
  training.sparse = {SparseSelectionMethod::uncertain, 6};
  training.hyperparameters = {2.0, 0.001, 0.03, 0.0005};
  training.optimize_hyperparameters = false;
  const SparseGp gp =
      train_sparse_gp(std::make_shared<B2Descriptor>(settings),
                      std::make_shared<NormalizedDotProductKernel>(2), frames, training);
  const auto file = folder / "weak.h5";
  save_gp_model(file, gp);
  return file;
}

// bench/search_al_seeds.sh runs this search with other seeds and gp: options
// (docs/BENCHMARKS.md, six seeds): OTFGP_BENCH_SEED, OTFGP_BENCH_MODEL_OPTIONS.
std::string bench_override(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value ? value : fallback;
}

std::string config_text(const std::filesystem::path& model, const std::filesystem::path& out) {
  return "composition: Si\nformula_units: 8\nseed: " + bench_override("OTFGP_BENCH_SEED", "3") +
         "\ncandidates: 12\n"
         "structure:\n  space_groups: [227, 229, 191, 166, 141, 194]\nalgorithm: laqa\n"
         "laqa:\n  initial_steps: 10\n  n_select: 3\n  n_steps: 10\n"
         "relax:\n  max_steps: 300\n  max_step: 0.1\n"
         "active_learning:\n  model: gp:" +
         model.string() + bench_override("OTFGP_BENCH_MODEL_OPTIONS", "") +
         "\n  max_calls: 30\n  check_interval: 3\n  max_sparse_per_frame: 4\n"
         "  oracle:\n    kind: potential\n    potential: " +
         sw +
         "\n"
         "recheck:\n  top: 12\n  oracle:\n    kind: potential\n    potential: " +
         sw +
         "\n"
         "output:\n  plots: false\n  folder: " +
         out.string() + "\n";
}

// A random search of Si8 in `space_groups` relaxed to its minima with active
// learning on `model` (at most max_calls oracle calls) and the SW oracle;
// `scalars`: the seed, the number of candidates, the pressure.
std::string minima_config(const std::filesystem::path& model, const std::filesystem::path& out,
                          const std::string& scalars, const std::string& space_groups,
                          int max_calls) {
  return "composition: Si\nformula_units: 8\n" + scalars +
         "structure: {space_groups: " + space_groups +
         "}\nalgorithm: random\n"
         "relax: {max_steps: 400, max_step: 0.1, force_tolerance: 0.01}\n"
         "active_learning:\n  model: gp:" +
         model.string() + "\n  max_calls: " + std::to_string(max_calls) +
         "\n  check_interval: 5\n"
         "  oracle: {kind: potential, potential: " +
         sw + "}\noutput: {plots: false, folder: " + out.string() + "}\n";
}

// run_search on a config text, with what it logs copied into `log`.
SearchResult run_logged_search(const std::string& text, const std::string& name, std::string& log) {
  std::ostringstream stream;
  logger().sinks().push_back(std::make_shared<spdlog::sinks::ostream_sink_mt>(stream));
  const SearchResult result =
      run_search(parse_search_config(ConfigSection::parse(text, name)), false);
  logger().sinks().pop_back();
  log = stream.str();
  return result;
}

double force_rmse(const SparseGp& gp, const std::vector<Structure>& frames) {
  const ForceErrorSample sample = force_error_sample(gp, frames);
  double squared = 0.0;
  for (const Eigen::Vector3d& e : sample.error) squared += e.squaredNorm();
  return std::sqrt(squared / (3.0 * static_cast<double>(sample.error.size())));
}

}  // namespace

TEST_CASE("active learning labels uncertain candidates and the model learns them",
          "[search_active_learning]") {
  testing::TemporaryDirectory directory;
  const auto model = weak_model(directory.path());
  const auto out = directory / "out";
  const SearchConfig config =
      parse_search_config(ConfigSection::parse(config_text(model, out), "al.yaml"));
  REQUIRE(config.active_learning);
  CHECK(config.potential == "gp:" + model.string());
  CHECK(config.active_learning->model_options.empty());
  const SearchResult result = run_search(config, false);

  REQUIRE(result.active_learning);
  const ActiveLearningReport& al = *result.active_learning;
  INFO("calls " << al.calls << ", skipped " << al.skipped);
  CHECK(al.calls >= 3);
  CHECK(al.calls + al.skipped <= 30);
  CHECK(al.skipped == 0);

  // The database holds exactly the labelled frames, with the oracle's labels.
  const auto records = otf::read_training_database(out / "training.h5");
  REQUIRE(static_cast<int>(records.size()) == al.calls);
  auto oracle = make_potential(sw);
  std::vector<Structure> labelled;
  for (std::size_t f = 0; f < records.size(); ++f) {
    const Structure& frame = records[f].frame;
    CHECK(records[f].stage == al.history[f].candidate);
    CHECK(records[f].step == al.history[f].step);
    const Evaluation e = evaluate(*oracle, frame);
    CHECK(*frame.energy == Approx(e.energy).epsilon(1e-12));
    CHECK((*frame.forces - e.forces).cwiseAbs().maxCoeff() < 1e-10);
    labelled.push_back(frame);
  }

  // The final model (named in the checkpoint) holds the start's frames and the
  // labelled ones, and fits the labelled candidates better than the start did.
  const auto checkpoint = nlohmann::json::parse(read_text(out / "checkpoint.json"));
  const auto final_file = out / checkpoint["active_learning"]["model"].get<std::string>();
  // The minima were ranked on it, and summary.json names it.
  CHECK(result.potential == "gp:" + final_file.string());
  CHECK(nlohmann::json::parse(read_text(out / "summary.json"))["potential"] == result.potential);
  CHECK(final_file.string() == al.model);
  const SparseGp start = load_gp_model(model);
  const SparseGp final_model = load_gp_model(final_file);
  CHECK(final_model.num_frames() == start.num_frames() + al.calls);
  const double before = force_rmse(start, labelled);
  const double after = force_rmse(final_model, labelled);
  INFO("force RMSE on the labelled frames: start " << before << ", final " << after);
  CHECK(after < 0.5 * before);
  // The held-out errors reported: the model's error on each frame before it was learnt.
  // High-symmetry candidates have forces that vanish by symmetry (to round-off,
  // which differs between backends), so only the distorted ones must show an error.
  int distorted = 0;
  for (const auto& call : al.history) {
    CHECK(std::isfinite(call.force_rmse_before));
    CHECK(call.force_rmse_before >= 0);
    CHECK(call.force_rms >= 0);
    if (call.force_rms > 0.1) {
      ++distorted;
      CHECK(call.force_rmse_before > 1e-3);
    }
  }
  CHECK(distorted >= 1);
  int minima = 0;  // label_minima: calls on a minimum the model relaxed into
  for (const auto& call : al.history) minima += call.minimum ? 1 : 0;
  CHECK(al.history.front().force_rmse_before ==
        Approx(force_rmse(start, {labelled.front()})).epsilon(1e-9).margin(1e-9));
  const auto summary = nlohmann::json::parse(read_text(out / "summary.json"));
  CHECK(summary["active_learning"]["calls"] == al.calls);
  CHECK(summary["active_learning"]["history"].size() == al.history.size());
  int minima_in_summary = 0;
  for (const auto& call : summary["active_learning"]["history"])
    minima_in_summary += call.at("minimum").get<bool>() ? 1 : 0;
  CHECK(minima_in_summary == minima);
  // Only the current model file is kept.
  int model_files = 0;
  for (const auto& item : std::filesystem::directory_iterator(out))
    if (item.path().filename().string().rfind("model-", 0) == 0) ++model_files;
  CHECK(model_files == 1);

  // Diamond is still found among the minima, and the oracle's single points
  // at the minima (recheck) put it lowest, at SW's diamond energy. (The GP's
  // own ranking can still be wrong: docs/search.md, "Active learning".)
  bool diamond = false;
  double best_recheck = 0.0;
  int best_group = 0;
  for (const int k : result.ranking) {
    const auto& c = result.candidates[static_cast<std::size_t>(k)];
    diamond = diamond || c.space_group == 227;
    REQUIRE(c.recheck_enthalpy_per_atom);
    if (*c.recheck_enthalpy_per_atom < best_recheck) {
      best_recheck = *c.recheck_enthalpy_per_atom;
      best_group = c.space_group;
    }
  }
  // The figures docs/BENCHMARKS.md quotes ("Active learning during the search").
  const auto& best = result.candidates[static_cast<std::size_t>(result.ranking.front())];
  logger().info(
      "figures: calls {} skipped {}; force RMSE on the labelled frames: start {:.4g}, final {:.4g} "
      "eV/Å; steps {}; GP best group {} H {:.5f} eV/atom; recheck best group {} H {:.5f} eV/atom; "
      "final σ {:.5g} σ_e {:.4g} σ_f {:.4g} σ_s {:.4g}",
      al.calls, al.skipped, before, after, result.statistics.total_steps, best.space_group,
      best.enthalpy_per_atom, best_group, best_recheck, final_model.hyperparameters().signal_std,
      final_model.hyperparameters().energy_noise, final_model.hyperparameters().force_noise,
      final_model.hyperparameters().stress_noise);
  CHECK(diamond);
  CHECK(best_group == 227);
  // SW's diamond is −4.3366 eV/atom. How close the GP-relaxed diamond gets
  // depends on which frames the 30 calls took, and any perturbation changes
  // that: over seeds 1–6 the recheck's best was diamond in 5 runs, at −3.60 …
  // −4.34 eV/atom (this seed −4.137; docs/BENCHMARKS.md "Active learning
  // during the search", six seeds).
  CHECK(best_recheck == Approx(-4.3366).margin(0.5));
}

TEST_CASE("a search with active learning killed and resumed ends with the same ranking and model",
          "[search_active_learning]") {
  testing::TemporaryDirectory directory;
  const auto model = weak_model(directory.path());
  const auto out = directory / "out";
  std::ofstream(directory / "al.yaml") << config_text(model, out);
  const auto config_path = (directory / "al.yaml").string();
  const auto whole =
      testing::run_otfgp("search " + config_path + " -o " + (directory / "whole").string());
  REQUIRE(whole.exit_code == 0);
  const std::string expected = read_text(directory / "whole" / "ranking.csv");
  const auto expected_summary =
      nlohmann::json::parse(read_text(directory / "whole" / "summary.json"));
  const int expected_calls = expected_summary["active_learning"]["calls"];
  REQUIRE(expected_calls >= 3);

  const pid_t pid = testing::spawn_otfgp({"-q", "search", config_path});
  // Killed once the model has learnt a frame and before the last call.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool midway = false;
  while (!midway && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    try {
      const auto state = nlohmann::json::parse(read_text(out / "checkpoint.json"));
      const int calls = state["active_learning"]["calls"];
      midway = calls >= 1 && calls < expected_calls;
    } catch (const std::exception&) {
    }
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(midway);
  REQUIRE(WIFSIGNALED(status));
  CHECK_FALSE(std::filesystem::exists(out / "ranking.csv"));

  // Another oracle (its labels would mix with the database's): refused, the folder kept.
  std::string other = config_text(model, out);
  const std::string active_oracle = "  oracle:\n    kind: potential\n    potential: " + sw;
  REQUIRE(other.find(active_oracle) != std::string::npos);
  other.replace(other.find(active_oracle), active_oracle.size(),
                "  oracle:\n    kind: potential\n    potential: tersoff:Si.tersoff");
  std::ofstream(directory / "other.yaml") << other;
  const std::string checkpoint = read_text(out / "checkpoint.json");
  const auto refused =
      testing::run_otfgp("search " + (directory / "other.yaml").string() + " --resume");
  CHECK(refused.exit_code != 0);
  CHECK_THAT(refused.output, Catch::Contains("different search config") &&
                                 Catch::Contains("/active_learning/oracle_settings: "
                                                 "oracle.potential: ") &&
                                 Catch::Contains("tersoff:Si.tersoff in the config"));
  CHECK(read_text(out / "checkpoint.json") == checkpoint);

  const auto resumed = testing::run_otfgp("search " + config_path + " --resume");
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.output.find("resumed") != std::string::npos);
  CHECK(read_text(out / "ranking.csv") == expected);
  const auto summary = nlohmann::json::parse(read_text(out / "summary.json"));
  CHECK(summary["active_learning"]["calls"] == expected_calls);
  int replayed = 0;
  for (const auto& call : summary["active_learning"]["history"])
    replayed += call["replayed"].get<bool>() ? 1 : 0;
  INFO(replayed << " frames taken from the database on resuming");
  // The same frames in the same order, each once.
  const auto a = otf::read_training_database(directory / "whole" / "training.h5");
  const auto b = otf::read_training_database(out / "training.h5");
  REQUIRE(a.size() == b.size());
  for (std::size_t f = 0; f < a.size(); ++f) {
    CHECK(a[f].stage == b[f].stage);
    CHECK(a[f].step == b[f].step);
    CHECK((a[f].frame.positions - b[f].frame.positions).cwiseAbs().maxCoeff() == 0.0);
  }
}

TEST_CASE("a search with active learning killed in its first oracle call is continued by --resume",
          "[search_active_learning]") {
  testing::TemporaryDirectory directory;
  const auto model = weak_model(directory.path());
  // A command oracle (SW through otfgp eval) that, until `ready` exists,
  // announces its call and waits there to be killed with the search.
  const auto ready = directory / "ready", calling = directory / "calling";
  std::ofstream(directory / "label.sh")
      << "if [ ! -e " << ready << " ]; then : > " << calling << "; sleep 20; exit 1; fi\n"
      << "exec " << OTFGP_CLI_PATH << " -q eval --potential " << sw << " \"$1\" -o \"$2\"\n";
  auto config = [&](const std::filesystem::path& out) {
    std::string text = minima_config(model, out, "seed: 2\ncandidates: 3\n", "[227, 194]", 3);
    const std::string oracle = "  oracle: {kind: potential, potential: " + sw + "}";
    REQUIRE(text.find(oracle) != std::string::npos);
    text.replace(text.find(oracle), oracle.size(),
                 "  oracle: {kind: command, command: '/bin/sh " +
                     (directory / "label.sh").string() + " {input} {output}'}");
    const auto path = out.string() + ".yaml";
    std::ofstream(path) << text;
    return path;
  };
  const auto out = directory / "out";
  const pid_t pid = testing::spawn_otfgp({"-q", "search", config(out)});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!std::filesystem::exists(calling) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(std::filesystem::exists(calling));
  CHECK(std::filesystem::exists(out / "checkpoint.json"));

  std::ofstream(ready).flush();
  const auto resumed = testing::run_otfgp("search " + config(out) + " --resume");
  REQUIRE(resumed.exit_code == 0);
  const auto whole = testing::run_otfgp("search " + config(directory / "whole"));
  REQUIRE(whole.exit_code == 0);
  CHECK(read_text(out / "ranking.csv") == read_text(directory / "whole" / "ranking.csv"));
  const auto summary = nlohmann::json::parse(read_text(out / "summary.json"));
  CHECK(summary["active_learning"]["calls"].get<int>() >= 1);
}

TEST_CASE("a search with active learning stopped at its first checkpoint is continued by --resume",
          "[search_active_learning]") {
  // A signal before the first checkpoint: the search writes it and stops, before
  // the active learner has created its database; --resume creates it.
  testing::TemporaryDirectory directory;
  const auto model = weak_model(directory.path());
  auto config = [&](const std::filesystem::path& out) {
    return parse_search_config(ConfigSection::parse(
        minima_config(model, out, "seed: 2\ncandidates: 3\n", "[227, 194]", 3), "al.yaml"));
  };
  const auto out = directory / "out";
  {
    const InterruptGuard guard;
    std::raise(SIGINT);
    CHECK_THROWS_AS(run_search(config(out), false), InterruptedError);
  }
  REQUIRE(std::filesystem::exists(out / "checkpoint.json"));
  REQUIRE_FALSE(std::filesystem::exists(out / "training.h5"));
  const SearchResult resumed = run_search(config(out), true);
  const SearchResult whole = run_search(config(directory / "whole"), false);
  REQUIRE(resumed.active_learning);
  CHECK(resumed.active_learning->calls == whole.active_learning->calls);
  CHECK(read_text(out / "ranking.csv") == read_text(directory / "whole" / "ranking.csv"));
}

TEST_CASE("active_learning configs are checked key by key", "[search_active_learning]") {
  testing::TemporaryDirectory directory;
  const auto model = weak_model(directory.path());
  auto parse = [&](const std::string& section) {
    return parse_search_config(ConfigSection::parse(
        "composition: Si\nformula_units: 8\nactive_learning:\n  model: " + model.string() +
            "\n  oracle:\n    kind: potential\n    potential: " + sw + "\n" + section,
        "al.yaml"));
  };
  CHECK_NOTHROW(parse(""));
  CHECK(parse("").active_learning->relative);
  {
    // gp: spec options go with every model the search uses.
    const SearchConfig with_options = parse_search_config(ConfigSection::parse(
        "composition: Si\nformula_units: 8\nactive_learning:\n  model: gp:" + model.string() +
            ",repulsion=none,novelty_margin=0.1\n  oracle:\n    kind: potential\n    potential: " +
            sw + "\n",
        "al.yaml"));
    CHECK(with_options.potential == "gp:" + model.string() + ",repulsion=none,novelty_margin=0.1");
    CHECK(with_options.active_learning->spec_of("model-0001.h5") ==
          "gp:model-0001.h5,repulsion=none,novelty_margin=0.1");
  }
  CHECK(parse("  std_threshold: 0.2\n").active_learning->std_threshold == 0.2);
  CHECK_FALSE(parse("  std_threshold: 0.2\n").active_learning->relative);
  CHECK_THROWS_WITH(parse("  max_cals: 3\n"), Catch::Contains("max_calls"));
  // A fork pool would make the result depend on --np (measured): refused.
  SearchConfig pooled = parse("");
  pooled.output = (directory / "pooled").string();
  CHECK_THROWS_WITH(run_search(pooled, false, 2), Catch::Contains("run with --np 1"));
  CHECK_THROWS_WITH(parse("  std_threshold: 0.2\n  std_threshold_relative: 2\n"),
                    Catch::Contains("give one of"));
  CHECK_THROWS_WITH(parse("  std_threshold_relative: -1\n"),
                    Catch::Contains("std_threshold_relative"));
  CHECK_THROWS_WITH(parse("  max_calls: 0\n"), Catch::Contains("max_calls"));
  CHECK_THROWS_WITH(parse("  max_sparse_per_frame: -2\n"), Catch::Contains("max_sparse_per_frame"));
  CHECK_THROWS_WITH(
      parse_search_config(ConfigSection::parse(
          "composition: Si\npotential: " + sw + "\nactive_learning:\n  model: " + model.string() +
              "\n  oracle:\n    kind: potential\n    potential: " + sw + "\n",
          "al.yaml")),
      Catch::Contains("remove potential"));
  CHECK_THROWS_WITH(parse_search_config(ConfigSection::parse(
                        "composition: Si\nactive_learning:\n  model: gp:missing.h5\n  oracle:\n  "
                        "  kind: potential\n    potential: " +
                            sw + "\n",
                        "al.yaml")),
                    Catch::Contains("no model file"));
  CHECK_THROWS_WITH(
      parse_search_config(ConfigSection::parse(
          "composition: Si\nactive_learning:\n  model: " + model.string() + "\n", "al.yaml")),
      Catch::Contains("oracle"));
}

namespace {

// Delegates to SW and counts; refuses once `allowed` calls are used up.
class CountingOracle final : public oracle::Oracle {
 public:
  explicit CountingOracle(int allowed) : allowed_(allowed) {}
  std::string kind() const override { return "potential"; }
  void check(const std::vector<int>&) const override {}
  Structure label(const Structure& structure, const std::filesystem::path&, int) override {
    if (++calls > allowed_) throw std::logic_error("the oracle must not be called again");
    Structure out = structure;
    attach_labels(out, evaluate(*sw_potential_, structure));
    return out;
  }
  int calls = 0;

 private:
  int allowed_;
  std::unique_ptr<Potential> sw_potential_ = make_potential(sw);
};

Structure rattled_si8(double scale, std::uint64_t seed) {
  Structure s = testing::diamond(14, 5.431 * scale, 1);
  testing::rattle(s, 0.2, seed);
  return s;
}

}  // namespace

TEST_CASE("frames labelled after the last checkpoint are taken from the database on resuming",
          "[search_active_learning]") {
  testing::TemporaryDirectory directory;
  ActiveLearningConfig config;
  config.model = weak_model(directory.path());
  auto first = std::make_shared<CountingOracle>(2);
  config.oracle = first;
  const auto out = directory / "out";
  std::filesystem::create_directories(out);
  ActiveLearner learner(config, out);
  learner.start();
  const Structure x = rattled_si8(1.0, 21), y = rattled_si8(0.97, 22);
  ActiveLearner::Verdict verdict;
  verdict.call = true;
  REQUIRE(learner.label_and_learn(x, 0, 3, verdict));
  const nlohmann::json checkpoint = learner.state();   // what the search checkpoint holds
  REQUIRE(learner.label_and_learn(y, 1, 6, verdict));  // then killed before the next checkpoint
  CHECK(first->calls == 2);

  auto second = std::make_shared<CountingOracle>(0);
  config.oracle = second;
  ActiveLearner resumed(config, out);
  resumed.restore(checkpoint);
  CHECK(resumed.report().calls == 1);
  REQUIRE(resumed.label_and_learn(y, 1, 6, verdict));
  CHECK(second->calls == 0);
  CHECK(resumed.report().history.back().replayed);
  CHECK(resumed.report().calls == 2);
  CHECK(otf::read_training_database(out / "training.h5").size() == 2);
  // The same model as the uninterrupted learner's.
  const Structure probe = rattled_si8(1.02, 23);
  const GpPrediction a = learner.model().predict(probe);
  const GpPrediction b = resumed.model().predict(probe);
  CHECK(a.energy == b.energy);
  CHECK((a.forces - b.forces).cwiseAbs().maxCoeff() == 0.0);
  CHECK(resumed.report().history.back().force_rmse_before ==
        learner.report().history.back().force_rmse_before);

  // A different structure where the database holds another is an error.
  ActiveLearner wrong(config, out);
  wrong.restore(checkpoint);
  CHECK_THROWS_WITH(wrong.label_and_learn(x, 1, 6, verdict),
                    Catch::Contains("is not the structure"));
}

TEST_CASE("label_minima: a candidate whose minimum the oracle confirms is not labelled again",
          "[search_active_learning]") {
  // Low-symmetry Si8 candidates (P1, P-1) relaxed to their minima on a GP that
  // learns as it goes: minima are labelled until the oracle's force RMS at one
  // is within the model's force noise σ_f (the threshold is 2 σ_f here) and
  // its stress within the stress noise (the log names those refused for it).
  testing::TemporaryDirectory directory;
  const auto model = weak_model(directory.path());
  const auto out = directory / "out";
  const std::string text = minima_config(model, out, "seed: 5\ncandidates: 3\n", "[1, 2]", 60);
  std::string text_log;
  const SearchResult result = run_logged_search(text, "minima.yaml", text_log);
  REQUIRE(result.active_learning);
  const ActiveLearningReport& al = *result.active_learning;
  CHECK(al.calls + al.skipped < 60);
  std::map<int, int> refused_for_stress, within_force_noise;
  const std::regex refused("candidate ([0-9]+): the oracle's forces at its minimum are within");
  for (auto m = std::sregex_iterator(text_log.begin(), text_log.end(), refused);
       m != std::sregex_iterator(); ++m)
    ++refused_for_stress[std::stoi((*m)[1])];
  std::map<int, int> confirmed_at;  // candidate → index of its confirmed minimum call
  for (std::size_t k = 0; k < al.history.size(); ++k) {
    const ActiveLearningCall& call = al.history[k];
    if (!call.minimum) continue;
    INFO("call " << k << ", candidate " << call.candidate);
    CHECK(confirmed_at.count(call.candidate) == 0);  // nothing after a confirmed minimum
    if (call.error.empty() && call.force_rms <= call.threshold / 2.0 &&
        within_force_noise[call.candidate]++ == refused_for_stress[call.candidate])
      confirmed_at[call.candidate] = static_cast<int>(k);
  }
  CHECK(!confirmed_at.empty());
}

TEST_CASE(
    "label_minima at a pressure: a minimum whose forces vanish by symmetry is confirmed only when "
    "the oracle's stress balances the pressure",
    "[search_active_learning]") {
  // Si8 in space group 227 (diamond and its kin: forces vanish by symmetry)
  // under 4 GPa of tension on the weak model, fitted to compressed and
  // equilibrium cells: the oracle's forces at every minimum it labels are
  // nothing, its stress is what tells.
  testing::TemporaryDirectory directory;
  const auto model = weak_model(directory.path());
  const auto out = directory / "out";
  const std::string text =
      minima_config(model, out, "seed: 2\ncandidates: 2\npressure: -4\n", "[227]", 40);
  std::string log;
  const SearchResult result = run_logged_search(text, "pressure.yaml", log);
  REQUIRE(result.active_learning);
  const ActiveLearningReport& al = *result.active_learning;
  const auto records = otf::read_training_database(out / "training.h5");
  REQUIRE(records.size() == static_cast<std::size_t>(al.calls));
  // Minima whose oracle forces were within the force noise but whose stress
  // was off, followed by another minimum of the same candidate.
  std::map<int, int> minima;
  int refused = 0;
  std::size_t record = 0;
  for (const ActiveLearningCall& call : al.history) {
    if (!call.error.empty()) continue;
    const Structure& frame = records[record++].frame;
    if (!call.minimum) continue;
    const double off = stress_residual(*frame.stress, -4.0) * units::ev_per_a3_in_gpa;
    INFO("candidate " << call.candidate << ", force RMS " << call.force_rms << ", stress off "
                      << off << " GPa");
    if (minima[call.candidate]++ > 0) ++refused;
  }
  CHECK(refused >= 1);
  CHECK_THAT(log, Catch::Contains("its stress") && Catch::Contains("not confirmed"));
  CHECK(al.calls + al.skipped < 40);
}

TEST_CASE("a search on a GP reports its minima's std and novel atoms and warns of novel ones",
          "[search_active_learning]") {
  // The weak model has seen only rattled diamond: a search of Si8 in other
  // groups relaxes into places it knows nothing of, whose enthalpies are its
  // extrapolation (a warning, and novel_atoms per minimum in ranking.csv).
  testing::TemporaryDirectory directory;
  const auto model = weak_model(directory.path());
  const auto text = [&](const std::string& potential, const std::string& folder) {
    return "composition: Si\nformula_units: 8\nseed: 5\ncandidates: 6\n"
           "structure: {space_groups: [229, 191, 166, 194]}\nalgorithm: random\n"
           "relax: {max_steps: 150, max_step: 0.1}\npotential: " +
           potential + "\noutput: {plots: false, folder: " + (directory / folder).string() + "}\n";
  };
  std::string log;
  const SearchResult gp = run_logged_search(text("gp:" + model.string(), "gp"), "gp.yaml", log);
  int novel = 0, unsure = 0;  // minima with novel atoms; where the model would label
  for (const int k : gp.ranking) {
    const CandidateSummary& c = gp.candidates[static_cast<std::size_t>(k)];
    REQUIRE(c.extrapolation);
    CHECK(c.extrapolation->max_uncertainty_normalised > 0.0);
    CHECK(c.extrapolation->max_uncertainty_normalised <= 1.0);  // normalised kernel: σ is the prior
    novel += c.extrapolation->novel_atoms > 0;
    unsure += needs_label(c.extrapolation);
  }
  REQUIRE(novel > 0);
  CHECK_THAT(
      log, Catch::Contains(std::to_string(unsure) + " of the " + std::to_string(gp.ranking.size()) +
                           " ranked minima end where the model would ask for a label"));
  const std::string csv = read_text(directory / "gp" / "ranking.csv");
  CHECK_THAT(csv, Catch::Contains(std::string(",") + extrapolation_csv_header + "\n"));
  const auto first = gp.candidates[static_cast<std::size_t>(gp.ranking.front())];
  // The first ranked row ends with its minimum's five figures.
  const auto second_line = csv.find('\n') + 1;
  const std::string first_row =
      csv.substr(second_line, csv.find('\n', second_line) + 1 - second_line);
  CHECK_THAT(first_row, Catch::StartsWith("1,") &&
                            Catch::EndsWith("," + extrapolation_csv(first.extrapolation) + "\n"));
  const auto summary = nlohmann::json::parse(read_text(directory / "gp" / "summary.json"));
  CHECK(summary["candidates"][static_cast<std::size_t>(first.index)]["novel_atoms"] ==
        first.extrapolation->novel_atoms);
  CHECK_THAT(ranking_text(gp), Catch::Contains("std/σ  novel  Fstd/σ_f"));

  // The same search as a variable-composition one (its hull of Si minima):
  // hull.csv carries each minimum's figures, the text marks novel entries
  // and a stable entry with novel atoms is warned about.
  {
    std::ostringstream stream;
    logger().sinks().push_back(std::make_shared<spdlog::sinks::ostream_sink_mt>(stream));
    std::string vc = text("gp:" + model.string(), "vc");
    vc.replace(vc.find("composition: Si"), 15, "compositions: [Si]\nhull_references: [Si]");
    const VariableCompositionResult hull =
        run_variable_composition(parse_search_config(ConfigSection::parse(vc, "vc.yaml")), false);
    logger().sinks().pop_back();
    const SearchResult& si = hull.searches.at(0).second;
    REQUIRE(hull.stable.size() == 1);
    const std::string best_id = "Si_" + std::to_string(si.ranking.front());
    CHECK(hull.stable.front() == best_id);
    const CandidateSummary& best = si.candidates[static_cast<std::size_t>(si.ranking.front())];
    REQUIRE(needs_label(best.extrapolation));  // the model knows nothing of the best minimum
    CHECK_THAT(stream.str(), Catch::Contains("the hull's stable entry " + best_id +
                                             " ends where the model would ask for a label"));
    CHECK_THAT(hull.hull_text,
               Catch::Contains("stable  " + label_marker(best.extrapolation) + "\n"));
    const std::string csv = read_text(directory / "vc" / "hull.csv");
    CHECK_THAT(csv, Catch::Contains(std::string(",stable,") + extrapolation_csv_header + "\n"));
    const auto row = csv.find(best_id + ",Si8,");
    REQUIRE(row != std::string::npos);
    CHECK(csv.substr(row, csv.find('\n', row) - row + 1)
              .find(",true," + extrapolation_csv(best.extrapolation) + "\n") != std::string::npos);
  }

  // A potential without an uncertainty: no columns' values, no warning.
  const SearchResult sw_search = run_logged_search(text(sw, "sw"), "sw.yaml", log);
  for (const auto& c : sw_search.candidates) CHECK_FALSE(c.extrapolation);
  CHECK_THAT(log, !Catch::Contains("novel"));
  CHECK_THAT(ranking_text(sw_search), !Catch::Contains("novel"));
  CHECK_THAT(read_text(directory / "sw" / "ranking.csv"),
             Catch::Contains(",0,,,,,\n") || Catch::Contains(",1,,,,,\n"));
}
