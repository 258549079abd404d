// otfgp md CONFIG.yaml: a molecular-dynamics run as configured (docs/md.md).
// Thermo lines go to stdout and the thermo file; on a terminal, a progress
// line (rate, ETA) on stderr.

#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <sstream>

#include "commands.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/md/run.hpp"
#include "progress.hpp"

namespace otfgp::cli {

namespace {

// Feeds the shared progress line (drawn only when stderr is a terminal) and
// passes the thermo lines on to stdout, clearing the progress line first so
// the two never share a line. It starts counting at the first step it sees:
// step 0 of a fresh run, or the step after the restart of a continued one.
class ProgressObserver final : public md::StepObserver {
 public:
  explicit ProgressObserver(long final_step) : final_step_(final_step) {}
  ~ProgressObserver() override { finish(); }
  long interval() const override { return 1; }
  bool reads_engine() const override { return false; }  // only step()
  std::ostream& thermo() { return thermo_; }

  bool observe(md::Engine& engine) override {
    if (!progress_) {
      first_step_ = engine.step() == 0 ? 0 : engine.step() - 1;
      progress_ = std::make_unique<Progress>("md", final_step_ - first_step_, "steps");
    }
    flush_thermo();
    progress_->update(engine.step() - first_step_);
    return true;
  }

  void finish() {
    flush_thermo();
    if (progress_) progress_->finish();
  }

 private:
  void flush_thermo() {
    if (thermo_.tellp() <= 0) return;
    if (progress_) progress_->finish();
    std::cout << thermo_.str() << std::flush;
    thermo_.str("");
  }

  long final_step_;
  long first_step_ = 0;
  std::unique_ptr<Progress> progress_;
  std::ostringstream thermo_;
};

void run_md(const std::string& file) {
  const md::RunConfig config = md::read_run_config(file);
  ProgressObserver progress(config.steps);
  nlohmann::json summary;
  try {
    summary = md::run(config, &progress.thermo(), &progress);
  } catch (...) {
    progress.finish();
    throw;
  }
  progress.finish();
  std::cout << std::flush;
  // The means are the run's statistics, continued across restarts: over every
  // step from the start of the first run, not only this one's.
  const long first = summary["first_step"].get<long>(), last = summary["final_step"].get<long>();
  logger().info(
      "md: {} steps{}, mean T {:.2f} K, mean P {:.4f} GPa, mean V {:.3f} Å³, {:.4g} "
      "atom-steps/s; summary in {}",
      summary["steps_this_run"].get<long>(),
      first > 0 ? fmt::format(" ({} to {}; means over steps 0 to {})", first, last, last) : "",
      summary["mean_temperature_K"].get<double>(), summary["mean_pressure_GPa"].get<double>(),
      summary["mean_volume_A3"].get<double>(), summary["atom_steps_per_second"].get<double>(),
      (config.output.directory / config.output.summary_file).string());
}

}  // namespace

void add_md_command(CLI::App& app, Commands& commands) {
  CLI::App* command =
      app.add_subcommand("md", "Run molecular dynamics as configured in a YAML file (docs/md.md)");
  auto file = std::make_shared<std::string>();
  command->add_option("config", *file, "YAML config file")->required();
  commands.emplace_back(command, [file] { run_md(*file); });
}

}  // namespace otfgp::cli
