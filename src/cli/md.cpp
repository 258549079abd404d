// otfgp md CONFIG.yaml: a molecular-dynamics run as configured (docs/md.md).
// Thermo lines go to stdout and the thermo file; on a terminal, a progress
// line (rate, ETA) on stderr.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "otfgp/log.hpp"
#include "otfgp/md_run.hpp"

namespace otfgp::cli {

namespace {

// Rewrites one line on stderr at most twice a second.
class ProgressLine final : public md::StepObserver {
 public:
  explicit ProgressLine(long final_step) : final_step_(final_step) {}
  ~ProgressLine() override {
    if (shown_) std::fputc('\n', stderr);
  }
  long interval() const override { return 1; }

  bool observe(md::Engine& engine) override {
    const auto now = std::chrono::steady_clock::now();
    if (first_step_ < 0) {
      first_step_ = engine.step();
      start_ = now;
      return true;
    }
    const bool last = engine.step() >= final_step_;
    if (!last && now - shown_at_ < std::chrono::milliseconds(500)) return true;
    shown_at_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? (engine.step() - first_step_) / seconds : 0.0;
    const long remaining = final_step_ - engine.step();
    const long eta = rate > 0 ? static_cast<long>(remaining / rate + 0.5) : 0;
    std::fprintf(
        stderr,
        "\rmd: step %ld/%ld (%5.1f%%)  %.4g steps/s  %.4g atom-steps/s  ETA %ld:%02ld:%02ld  ",
        engine.step(), final_step_, 100.0 * engine.step() / final_step_, rate,
        rate * engine.state().natoms, eta / 3600, eta / 60 % 60, eta % 60);
    std::fflush(stderr);
    shown_ = true;
    return true;
  }

 private:
  long final_step_;
  long first_step_ = -1;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_, shown_at_;
};

void run_md(const std::string& file) {
  const md::RunConfig config = md::read_run_config(file);
  std::unique_ptr<ProgressLine> progress;
  if (::isatty(STDERR_FILENO) && config.steps > 0)
    progress = std::make_unique<ProgressLine>(config.steps);
  const nlohmann::json summary = md::run(config, &std::cout, progress.get());
  progress.reset();
  std::cout << std::flush;
  logger().info(
      "md: {} steps, mean T {:.2f} K, mean P {:.4f} GPa, mean V {:.3f} Å³, {:.4g} atom-steps/s; "
      "summary in {}",
      summary["steps_this_run"].get<long>(), summary["mean_temperature_K"].get<double>(),
      summary["mean_pressure_GPa"].get<double>(), summary["mean_volume_A3"].get<double>(),
      summary["atom_steps_per_second"].get<double>(),
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
