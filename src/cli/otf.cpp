// otfgp otf CONFIG.yaml [--resume]: on-the-fly active learning (docs/otf.md).
// MD on the GP, oracle calls where it is unsure, the model updated as it goes;
// a progress line on terminals.

#include <memory>

#include "commands.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/otf/otf_config.hpp"
#include "otfgp/otf/otf_loop.hpp"
#include "progress.hpp"

namespace otfgp::cli {

namespace {

// Steps of the whole campaign: each stage's engine counts from 0 again.
class CampaignProgress final : public md::StepObserver {
 public:
  explicit CampaignProgress(long total) : progress_("otf", total, "steps") {}
  long interval() const override { return 1; }
  bool observe(md::Engine& engine) override {
    if (engine.step() < last_) done_before_ += last_;
    last_ = engine.step();
    progress_.update(done_before_ + last_);
    return true;
  }
  void finish() { progress_.finish(); }

 private:
  Progress progress_;
  long done_before_ = 0, last_ = 0;
};

void run_otf_command(const std::string& file, bool resume) {
  const otf::OtfConfig config = otf::read_otf_config(file);
  long total = 0;
  for (const auto& stage : config.stages) total += stage.steps;
  CampaignProgress progress(total);
  nlohmann::json summary;
  try {
    summary = otf::run_otf(config, resume, &progress);
  } catch (...) {
    progress.finish();
    throw;
  }
  progress.finish();
  logger().info(
      "otf: {} MD steps, {} oracle calls ({} skipped), {} frames, {} sparse "
      "environments; summary in {}",
      summary["steps"].get<long>(), summary["oracle_calls"].get<long>(),
      summary["skipped_calls"].get<long>(), summary["frames"].get<int>(),
      summary["sparse_size"].get<int>(), (config.output / "summary.json").string());
}

}  // namespace

void add_otf_command(CLI::App& app, Commands& commands) {
  CLI::App* command = app.add_subcommand(
      "otf",
      "On-the-fly learning: MD on a GP that asks an oracle where it is unsure (docs/otf.md)");
  auto file = std::make_shared<std::string>();
  auto resume = std::make_shared<bool>(false);
  command->add_option("config", *file, "YAML config file")->required()->check(CLI::ExistingFile);
  command->add_flag("--resume", *resume,
                    "Continue from the output directory's checkpoint (after a kill or Ctrl-C)");
  commands.emplace_back(command, [file, resume] { run_otf_command(*file, *resume); });
}

}  // namespace otfgp::cli
