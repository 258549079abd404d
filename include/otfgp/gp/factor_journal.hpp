#pragma once
// Checkpoint increments of a growing model's factors. A model file holds each
// factor's R, z and residual but not its Householder blocks, which take about
// as much as the label matrix itself; rewriting them at every checkpoint would
// cost more than the update. Blocks are only ever appended, so a checkpoint
// writes the blocks added since the previous one as a file of its own (built in
// memory, checksummed, written through a temporary and a rename). The blocks of
// every increment, read in order, give the model loaded from the checkpoint
// its blocks back (SparseGp::resume_factors): it then grows bit for bit as the
// model that wrote it, with no rebuild.
//
// HDF5 layout (format_version 1):
//   /                attributes format_version, kind "otfgp factor blocks", checksum
//   /<factor>        energy, force, stress, splits (SparseGp::Factors::factor_name);
//                    attributes first (index of its first block here), count
//   /<factor>/<k>    block first + k: attributes top_begin, top_count,
//                    row_begin, row_count, block_size; datasets v, t (growing_qr.hpp)

#include <array>
#include <filesystem>
#include <vector>

#include "otfgp/gp/sparse_gp.hpp"

namespace otfgp {

// 2: square triangular blocks of 64 rows or more stored packed (hdf5.hpp);
// version 1 is read too.
inline constexpr int factor_journal_format_version = 2;

// How many blocks each factor of `gp` has (Factors::factor order).
using FactorBlockCounts = std::array<int, SparseGp::Factors::factor_count>;
FactorBlockCounts factor_block_counts(const SparseGp& gp);

// Writes the blocks of `gp` after the first `from` of each factor to `path`.
void write_factor_increment(const std::filesystem::path& path, const SparseGp& gp,
                            const FactorBlockCounts& from);

// The blocks of the increments, in order. Throws otfgp::Error naming the file
// when one is unreadable or damaged, or does not start where the previous ended.
SparseGp::FactorBlocks read_factor_increments(const std::vector<std::filesystem::path>& paths);

// The increments of one run's checkpoints, oldest first, in one folder: what
// the on-the-fly loop and the search's active learning keep beside their
// model files and name in their checkpoint state.
class FactorJournal {
 public:
  // Writes the blocks `gp` gained since the last write to dir/name (all of
  // them after reset() and every max_files writes, so that a long run does
  // not collect a file per update) and adds the file to files().
  void write(const std::filesystem::path& dir, const std::string& name, const SparseGp& gp);
  // The model's factors were rebuilt: the next write starts afresh.
  void reset();
  // The files the model's blocks are in, oldest first.
  const std::vector<std::string>& files() const { return files_; }
  bool holds(const std::string& name) const;
  // Gives `gp`, loaded from the checkpoint that named `files` in `dir`, its
  // blocks back; no files: nothing to do (the model rebuilds at its first
  // update). Missing, damaged or mismatched files are logged as a warning and
  // treated the same way: the frames are what matters, the blocks only make
  // the continuation bit for bit.
  void resume(const std::filesystem::path& dir, std::vector<std::string> files, SparseGp& gp);

  static constexpr std::size_t max_files = 64;

 private:
  std::vector<std::string> files_;
  FactorBlockCounts written_{};
};

}  // namespace otfgp
