#include "otfgp/gp_training.hpp"

#include <chrono>

#include "otfgp/core/interrupt.hpp"
#include "otfgp/error.hpp"
#include "otfgp/evaluate.hpp"
#include "otfgp/log.hpp"
#include "otfgp/reference_energies.hpp"

namespace otfgp {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Logs about ten progress lines per phase.
class PhaseLog {
 public:
  PhaseLog(const char* phase, int total) : phase_(phase), total_(total), start_(Clock::now()) {}
  void step(int done) {
    const int every = std::max(1, total_ / 10);
    if (done % every == 0 || done == total_)
      logger().info("{}: {}/{} frames ({:.0f}%), {:.1f} s", phase_, done, total_,
                    100.0 * done / std::max(total_, 1), seconds_since(start_));
  }

 private:
  const char* phase_;
  int total_;
  Clock::time_point start_;
};

}  // namespace

std::vector<int> add_frame_with_sparse_selection(SparseGp& gp, const Structure& frame,
                                                 const SparseSelection& selection,
                                                 std::mt19937_64& rng, const LabelSelection& labels,
                                                 double min_residual) {
  const DescriptorValues values = gp.describe(frame, true);
  const Eigen::VectorXd uncertainty =
      needs_uncertainty(selection.method) ? gp.atom_std(values) : Eigen::VectorXd();
  const std::vector<int> atoms = select_sparse_atoms(selection, frame.size(), uncertainty, rng);
  const int frame_index = gp.num_frames();
  Eigen::MatrixXd rows(atoms.size(), values.size);
  std::vector<int> species(atoms.size());
  std::vector<SparseEnvironmentSource> sources(atoms.size());
  for (std::size_t a = 0; a < atoms.size(); ++a) {
    rows.row(a) = values.values.row(atoms[a]);
    species[a] = values.species[atoms[a]];
    sources[a] = {frame_index, atoms[a]};
  }
  // Columns first: the new frame's rows then come in with every column at once.
  gp.add_sparse_environments(rows, species, sources, min_residual);
  gp.add_frame(frame, values, labels);
  return atoms;
}

namespace {
void stop_if_interrupted(std::size_t done, std::size_t total) {
  if (interrupt_requested())
    throw InterruptedError(interrupt_signal(),
                           "training stopped after " + std::to_string(done) + " of " +
                               std::to_string(total) +
                               " frames; no model was written (training has no partial state to "
                               "resume from): run the same command again");
}
}  // namespace

void check_training_frames(const std::vector<Structure>& frames) {
  // Bad labels or a broken frame end here, named, not deep in the factorisation.
  for (std::size_t f = 0; f < frames.size(); ++f) try {
      frames[f].validate();
      check_no_coincident_atoms(frames[f]);
    } catch (const Error& error) {
      throw Error("frame " + std::to_string(f + 1) + " (" + frames[f].formula() +
                  "): " + error.what());
    }
}

SparseGp train_sparse_gp(std::shared_ptr<const Descriptor> descriptor,
                         std::shared_ptr<const Kernel> kernel, const std::vector<Structure>& frames,
                         const GpTrainingSettings& settings, GpTrainingReport* report_out) {
  const auto start = Clock::now();
  if (frames.empty()) throw Error("no training frames");
  check_training_frames(frames);
  GpTrainingReport report;
  const std::vector<int>& species = descriptor->species();
  report.reference_energies = settings.reference_energies ? *settings.reference_energies
                                                          : fit_reference_energies(frames, species);
  if (report.reference_energies.size() != static_cast<Eigen::Index>(species.size()))
    throw Error("reference energies: one value per species expected");
  SparseGp gp(descriptor, kernel, settings.hyperparameters, report.reference_energies);
  std::mt19937_64 rng(settings.sparse.seed);

  if (needs_uncertainty(settings.sparse.method) && settings.replay) {
    PhaseLog progress("training (sparse set chosen by uncertainty, frame by frame)",
                      static_cast<int>(frames.size()));
    for (std::size_t f = 0; f < frames.size(); ++f) {
      add_frame_with_sparse_selection(gp, frames[f], settings.sparse, rng, settings.labels,
                                      settings.min_residual);
      progress.step(static_cast<int>(f) + 1);
      stop_if_interrupted(f + 1, frames.size());
    }
    report.seconds_frames = seconds_since(start);
  } else {
    // Sparse set first (descriptors only), then one pass of label rows.
    const auto sparse_start = Clock::now();
    std::vector<std::pair<int, int>> chosen;  // (frame, atom)
    if (needs_uncertainty(settings.sparse.method)) {
      // Frame by frame, each frame's least represented atoms join at once.
      const bool threshold = settings.sparse.method == SparseSelectionMethod::threshold;
      int added = 0;
      for (std::size_t f = 0; f < frames.size(); ++f) {
        const DescriptorValues values = gp.describe(frames[f], false);
        const std::vector<int> atoms = gp.least_represented_atoms(
            values, settings.sparse.count, threshold ? settings.sparse.threshold : 0.0);
        Eigen::MatrixXd rows(atoms.size(), values.size);
        std::vector<int> species(atoms.size());
        std::vector<SparseEnvironmentSource> sources(atoms.size());
        for (std::size_t a = 0; a < atoms.size(); ++a) {
          rows.row(a) = values.values.row(atoms[a]);
          species[a] = values.species[atoms[a]];
          sources[a] = {static_cast<int>(f), atoms[a]};
        }
        added += gp.add_sparse_environments(rows, species, sources, settings.min_residual);
      }
      report.seconds_sparse = seconds_since(sparse_start);
      logger().info("sparse set: {} environments chosen greedily frame by frame ({}), {:.1f} s",
                    added, sparse_selection_method_name(settings.sparse.method),
                    report.seconds_sparse);
    } else if (settings.sparse.method == SparseSelectionMethod::random &&
               settings.sparse.total > 0) {
      std::vector<std::pair<int, int>> every;
      for (std::size_t f = 0; f < frames.size(); ++f)
        for (int i = 0; i < frames[f].size(); ++i) every.emplace_back(static_cast<int>(f), i);
      std::shuffle(every.begin(), every.end(), rng);
      every.resize(std::min<std::size_t>(every.size(), settings.sparse.total));
      std::sort(every.begin(), every.end());
      chosen = std::move(every);
    } else {
      for (std::size_t f = 0; f < frames.size(); ++f)
        for (int atom :
             select_sparse_atoms(settings.sparse, frames[f].size(), Eigen::VectorXd(), rng))
          chosen.emplace_back(static_cast<int>(f), atom);
    }
    if (!needs_uncertainty(settings.sparse.method)) {
      Eigen::MatrixXd rows(chosen.size(), descriptor->size());
      std::vector<int> sparse_species(chosen.size());
      std::vector<SparseEnvironmentSource> sources(chosen.size());
      std::size_t next = 0;
      for (std::size_t f = 0; f < frames.size() && next < chosen.size(); ++f) {
        if (chosen[next].first != static_cast<int>(f)) continue;
        const DescriptorValues values = gp.describe(frames[f], false);
        for (; next < chosen.size() && chosen[next].first == static_cast<int>(f); ++next) {
          rows.row(next) = values.values.row(chosen[next].second);
          sparse_species[next] = values.species[chosen[next].second];
          sources[next] = {chosen[next].first, chosen[next].second};
        }
      }
      const int added =
          gp.add_sparse_environments(rows, sparse_species, sources, settings.min_residual);
      report.seconds_sparse = seconds_since(sparse_start);
      logger().info(
          "sparse set: {} environments ({} candidates, {} near-duplicates skipped), {:.1f} s",
          added, chosen.size(), chosen.size() - added, report.seconds_sparse);
    }
    const auto frames_start = Clock::now();
    PhaseLog progress("training", static_cast<int>(frames.size()));
    for (std::size_t f = 0; f < frames.size(); ++f) {
      gp.add_frame(frames[f], settings.labels);
      progress.step(static_cast<int>(f) + 1);
      stop_if_interrupted(f + 1, frames.size());
    }
    report.seconds_frames = seconds_since(frames_start);
  }

  if (settings.optimize_hyperparameters) {
    const auto h_start = Clock::now();
    report.hyperparameters = optimize_hyperparameters(gp, settings.optimization);
    report.seconds_hyperparameters = seconds_since(h_start);
  }
  gp.alpha();  // solve now, so that the timing below includes it
  report.frames = gp.num_frames();
  report.sparse = gp.num_sparse();
  for (int g = 0; g < label_kind_count; ++g)
    report.labels[g] = gp.num_labels(static_cast<LabelKind>(g));
  report.factor_bytes = gp.memory_bytes();
  report.seconds_total = seconds_since(start);
  logger().info(
      "trained on {} frames: {} energy, {} force and {} stress labels, {} sparse environments, "
      "{:.1f} s",
      report.frames, report.labels[0], report.labels[1], report.labels[2], report.sparse,
      report.seconds_total);
  if (report_out) *report_out = report;
  return gp;
}

}  // namespace otfgp
