#pragma once
// MD restart files: HDF5 (readable with h5py), written to a temporary file and
// renamed, so a crash never leaves a half-written restart. Layout (format 1;
// format 2 where the atoms' masses are not their elements', with /masses):
//
//   /                 attributes format_version (int), program (str),
//                     step (int64), time_fs (float64), potential (str: spec),
//                     settings (str: YAML of the resolved run settings)
//   /positions        float64 (N, 3), Å, Cartesian, bit for bit as the engine holds them
//   /velocities       float64 (N, 3), Å/fs
//   /numbers          int32 (N), atomic numbers
//   /masses           float64 (N), amu (format 2 only)
//   /cell             float64 (3, 3), rows are lattice vectors, Å
//   /pbc              int8 (3)
//   /integrator/NAME  float64 (k): thermostat chains, cell momentum, heat
//   /statistics       float64 (17): running sums of the thermo quantities
//   /outputs          attributes NAME = int64 bytes of each output file at this step
//
// See docs/md.md.

#include <filesystem>

#include "otfgp/md/engine.hpp"

namespace otfgp::md {

inline constexpr int restart_format_version = 1;
// With /masses: builds that would ignore the dataset refuse the file instead.
inline constexpr int restart_format_with_masses = 2;

// Throws otfgp::Error when the file cannot be written; the target is then left as it was.
void write_restart_file(const std::filesystem::path& path, const RestartData& data);
// Throws otfgp::Error naming the file when it is missing, not a restart file,
// of another format version, or inconsistent.
RestartData read_restart_file(const std::filesystem::path& path);

}  // namespace otfgp::md
