#include "otfgp/md/output.hpp"

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdio>
#include <system_error>

#include "otfgp/core/error.hpp"
#include "otfgp/core/extra_property.hpp"
#include "otfgp/core/extxyz.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/md/restart.hpp"

namespace otfgp::md {

ThermoOutput::ThermoOutput(long interval, const std::filesystem::path& path, std::ostream* echo,
                           bool append)
    : interval_(interval), path_(path), echo_(echo) {
  if (!path_.empty()) {
    file_.open(path_, append ? std::ios::app : std::ios::trunc);
    if (!file_) throw Error("cannot write thermo file '" + path_.string() + "'");
    if (!append) file_ << header() << '\n';
  }
}

std::string ThermoOutput::header() {
  char text[200];
  std::snprintf(text, sizeof text, "#%11s %12s %10s %17s %17s %11s %14s %17s", "step", "time[ps]",
                "T[K]", "E_pot[eV]", "E_tot[eV]", "P[GPa]", "V[A^3]", "conserved[eV]");
  return text;
}

std::string ThermoOutput::line(const ThermoSample& s) {
  char text[256];
  std::snprintf(text, sizeof text, "%12ld %12.5f %10.3f %17.8f %17.8f %11.5f %14.4f %17.8f", s.step,
                s.time * 1e-3, s.temperature, s.potential_energy, s.total_energy, s.pressure,
                s.volume, s.conserved);
  return text;
}

bool ThermoOutput::observe(Engine& engine) {
  const std::string text = line(engine.thermo());
  if (file_.is_open()) {
    // Flushed at every line: a killed run keeps its thermo up to the last line.
    file_ << text << '\n' << std::flush;
    if (!file_) throw Error("writing thermo file '" + path_.string() + "' failed (disk full?)");
  }
  if (echo_) {
    if (!header_echoed_) *echo_ << header() << '\n';
    header_echoed_ = true;
    *echo_ << text << '\n';
  }
  return true;
}

long ThermoOutput::flush() {
  if (!file_.is_open()) return 0;
  file_.flush();
  if (!file_) throw Error("writing thermo file '" + path_.string() + "' failed (disk full?)");
  return static_cast<long>(std::filesystem::file_size(path_));
}

TrajectoryOutput::TrajectoryOutput(long interval, std::filesystem::path path)
    : interval_(interval), path_(std::move(path)) {}

bool TrajectoryOutput::observe(Engine& engine) {
  Structure frame = engine.frame();
  // Per-atom columns of a potential that computed its uncertainty this step
  // (a GP): local-energy std (eV), calibrated force std (eV/Å), novelty flag.
  const ComputeResult& result = engine.last_compute();
  const auto natoms = static_cast<std::size_t>(frame.size());
  auto column = [&](const char* name, const ScalarView& view) {
    std::vector<double> values;
    if (view.extent(0) != natoms) return values;
    const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
    values.assign(host.data(), host.data() + natoms);
    set_real_property(frame, name, values);
    return values;
  };
  column("energy_std", result.uncertainty);
  column("force_std", result.force_uncertainty);
  const std::vector<double> novel = column("novel", result.novel);
  append_trajectory_frame(path_, frame);
  const int count = static_cast<int>(
      std::count_if(novel.begin(), novel.end(), [](double flag) { return flag > 0.0; }));
  if (count > 0) {
    if (novel_frames_++ == 0) first_novel_step_ = engine.step();
    if (count > most_novel_)
      logger().warn(
          "step {}: {} of {} atoms are novel (a pair closer, or a neighbour density outside, "
          "what the GP was trained on): its energies and forces there are extrapolated and may "
          "be badly wrong (docs/gp.md \"Novelty\"); learn such structures with otfgp otf",
          engine.step(), count, natoms);
    most_novel_ = std::max(most_novel_, count);
  }
  return true;
}

long TrajectoryOutput::size() const {
  std::error_code error;
  const auto bytes = std::filesystem::file_size(path_, error);
  return error ? 0 : static_cast<long>(bytes);
}

RestartOutput::RestartOutput(long interval, std::filesystem::path path,
                             std::function<void(RestartData&)> complete)
    : interval_(interval), path_(std::move(path)), complete_(std::move(complete)) {}

void RestartOutput::write(const Engine& engine) {
  RestartData data = engine.restart_data();
  if (complete_) complete_(data);
  write_restart_file(path_, data);
  last_step_ = engine.step();
}

bool RestartOutput::observe(Engine& engine) {
  // The call at step 0 of a fresh run has nothing to save.
  if (engine.step() == 0) return true;
  write(engine);
  engine.reseat();
  return true;
}

void append_trajectory_frame(const std::filesystem::path& path, const Structure& frame) {
  write_extxyz(path, frame, /*append=*/true);
}

void write_frame_file(const std::filesystem::path& path, const Structure& frame) {
  write_extxyz(path, frame, /*append=*/false);
}

void truncate_output(const std::filesystem::path& path, long size) {
  std::error_code error;
  const auto bytes = std::filesystem::file_size(path, error);
  if (error)
    throw Error("cannot continue '" + path.string() +
                "': the file is missing (the restart expects " + std::to_string(size) + " bytes)");
  if (static_cast<long>(bytes) < size)
    throw Error("cannot continue '" + path.string() + "': it has " + std::to_string(bytes) +
                " bytes, fewer than the " + std::to_string(size) +
                " it had when the restart was written (replaced or truncated since?)");
  if (static_cast<long>(bytes) > size) {
    std::filesystem::resize_file(path, static_cast<std::uintmax_t>(size), error);
    if (error)
      throw Error("cannot cut '" + path.string() +
                  "' back to the restart step: " + error.message());
  }
}

}  // namespace otfgp::md
