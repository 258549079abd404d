#pragma once
// The observers that write an MD run's files: thermo lines, extended-XYZ
// trajectory frames and restart files. Each appends to its file; a resumed run
// first cuts the files back to their length at the restart step
// (truncate_output), so they read as if the run had never stopped.

#include <filesystem>
#include <fstream>
#include <functional>
#include <ostream>
#include <string>

#include "otfgp/md/engine.hpp"

namespace otfgp::md {

// One line per `interval` steps: step, time (ps), T (K), E_pot, E_tot (eV),
// P (GPa), V (Å³), conserved quantity (eV), to a file and optionally echoed
// to a stream (the terminal).
class ThermoOutput final : public StepObserver {
 public:
  // An empty path writes no file. append == false starts the file with the header.
  ThermoOutput(long interval, const std::filesystem::path& path, std::ostream* echo, bool append);
  long interval() const override { return interval_; }
  bool observe(Engine& engine) override;
  // Flushes and returns the file's length in bytes (0 without a file).
  long flush();

  static std::string header();
  static std::string line(const ThermoSample& sample);

 private:
  long interval_;
  std::filesystem::path path_;
  std::ofstream file_;
  std::ostream* echo_;
  bool header_echoed_ = false;
};

// Writes Engine::frame() every `interval` steps (positions, forces, energy,
// stress, momenta, step, time, temperature), appending to an extended-XYZ file.
class TrajectoryOutput final : public StepObserver {
 public:
  TrajectoryOutput(long interval, std::filesystem::path path);
  long interval() const override { return interval_; }
  bool observe(Engine& engine) override;
  long size() const;  // bytes in the file so far
  const std::filesystem::path& path() const { return path_; }
  // Frames of this run with atoms a GP flagged novel (its `novel` column),
  // the most such atoms in one frame, and the step of the first. A frame with
  // more novel atoms than any before is also logged as a warning.
  long novel_frames() const { return novel_frames_; }
  int most_novel_atoms() const { return most_novel_; }
  long first_novel_step() const { return first_novel_step_; }

 private:
  long interval_;
  std::filesystem::path path_;
  long novel_frames_ = 0;
  int most_novel_ = 0;
  long first_novel_step_ = -1;
};

// Writes a restart file every `interval` steps, then reseats the engine (see
// Engine::reseat) so that the run continues exactly as a resumed one would.
// `complete` fills in what the engine does not know (settings, output sizes).
class RestartOutput final : public StepObserver {
 public:
  RestartOutput(long interval, std::filesystem::path path,
                std::function<void(RestartData&)> complete);
  long interval() const override { return interval_; }
  bool observe(Engine& engine) override;
  // Writes one now (used at the end of a run); does not reseat.
  void write(const Engine& engine);
  long last_step() const { return last_step_; }

 private:
  long interval_;
  std::filesystem::path path_;
  std::function<void(RestartData&)> complete_;
  long last_step_ = -1;
};

// Appends frames to an extended-XYZ file (the one writer of trajectories).
void append_trajectory_frame(const std::filesystem::path& path, const Structure& frame);
// Writes one frame to a file, replacing it atomically.
void write_frame_file(const std::filesystem::path& path, const Structure& frame);

// Cuts an output file back to `size` bytes before a resumed run appends to it;
// throws otfgp::Error when the file is missing or shorter (it was replaced or
// truncated since the restart was written).
void truncate_output(const std::filesystem::path& path, long size);

}  // namespace otfgp::md
