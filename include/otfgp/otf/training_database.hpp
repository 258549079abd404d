#pragma once
// The on-the-fly loop's training database: every frame an oracle labelled, in
// the order it was labelled, appended and flushed before the model learns from
// it, so that nothing an oracle computed is lost when the run is killed.
//
// Two files in step: an HDF5 file (readable with h5py; layout below) and an
// extended-XYZ mirror. Each append goes to the mirror first (one write, then
// fsync), then to the HDF5 file, whose root attributes `frames` and
// `mirror_bytes` are written last and mark the append as complete. Opening
// after a crash repairs whatever an interrupted append left: rows beyond
// `frames` are dropped, a complete frame that reached only the mirror is added,
// a partial one is cut off, and an HDF5 file that cannot be read is rebuilt
// from the mirror. Appends never rewrite earlier frames.
//
// HDF5 layout (format_version 1), F frames of A atoms in all, rows in order:
//   /                attributes format_version, kind, created, frames, mirror_bytes
//   /natoms          int32 (F)
//   /numbers         int32 (A)          atomic numbers
//   /positions       float64 (A, 3)     Å
//   /forces          float64 (A, 3)     eV/Å (NaN when absent)
//   /cells           float64 (F, 3, 3)  rows are lattice vectors, Å
//   /pbc             int32 (F, 3)
//   /energy          float64 (F)        eV (NaN when absent)
//   /stress          float64 (F, 6)     eV/Å³, ASE sign, Voigt order (NaN when absent)
//   /labels_used     int32 (F, 3)       energy, forces, stress learnt from (0/1)
//   /stage           int32 (F)          campaign stage, from 0 (calls.csv's stage − 1)
//   /step            int32 (F)          MD step within the stage
//   /max_std         float64 (F)        the uncertainty that triggered the call (NaN: first frame)

#include <filesystem>
#include <vector>

#include "otfgp/core/structure.hpp"
#include "otfgp/gp/sparse_gp.hpp"

namespace otfgp::otf {

inline constexpr int training_database_format_version = 1;

struct TrainingRecord {
  Structure frame;  // positions, numbers, cell, pbc and the oracle's energy, forces, stress
  LabelSelection labels;
  int stage = 0;
  long step = 0;
  double max_std = 0.0;  // NaN for a frame labelled without a trigger
};

class TrainingDatabase {
 public:
  // Creates both files (replacing any old ones).
  static TrainingDatabase create(const std::filesystem::path& path,
                                 const std::filesystem::path& mirror);
  // Opens an existing database for appending, repairing what a crash left.
  static TrainingDatabase open(const std::filesystem::path& path,
                               const std::filesystem::path& mirror);

  // Appends one record to the mirror and the HDF5 file; returns when both are on disk.
  void append(const TrainingRecord& record);
  int size() const { return static_cast<int>(records_.size()); }
  const std::vector<TrainingRecord>& records() const { return records_; }
  const std::filesystem::path& path() const { return path_; }
  const std::filesystem::path& mirror() const { return mirror_; }

 private:
  TrainingDatabase(std::filesystem::path path, std::filesystem::path mirror);
  void rebuild_hdf5();

  std::filesystem::path path_;
  std::filesystem::path mirror_;
  std::vector<TrainingRecord> records_;
  std::uintmax_t mirror_bytes_ = 0;
};

// Reads the HDF5 file alone (no repair). Throws otfgp::Error naming the file
// when it is missing, not a training database, or of another format_version.
std::vector<TrainingRecord> read_training_database(const std::filesystem::path& path);

}  // namespace otfgp::otf
