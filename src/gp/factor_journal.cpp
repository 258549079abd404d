#include "otfgp/gp/factor_journal.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "otfgp/core/error.hpp"
#include "otfgp/core/hdf5.hpp"
#include "otfgp/core/hdf5_checksum.hpp"
#include "otfgp/core/log.hpp"

namespace otfgp {

namespace {

constexpr const char* journal_kind = "otfgp factor blocks";

}  // namespace

FactorBlockCounts factor_block_counts(const SparseGp& gp) {
  FactorBlockCounts counts{};
  for (int g = 0; g < SparseGp::Factors::factor_count; ++g)
    counts[g] = static_cast<int>(gp.factors().factor(g).blocks().size());
  return counts;
}

void write_factor_increment(const std::filesystem::path& path, const SparseGp& gp,
                            const FactorBlockCounts& from) {
  hdf5::File file = hdf5::File::create(path);
  file.set_attribute("format_version", factor_journal_format_version);
  file.set_attribute("kind", journal_kind);
  for (int g = 0; g < SparseGp::Factors::factor_count; ++g) {
    const std::vector<GrowingQr::Block>& blocks = gp.factors().factor(g).blocks();
    if (from[g] < 0 || from[g] > static_cast<int>(blocks.size()))
      throw std::logic_error("write_factor_increment: the model has fewer blocks than written");
    const hdf5::Group group = file.create_group(SparseGp::Factors::factor_name(g));
    group.set_attribute("first", from[g]);
    group.set_attribute("count", static_cast<int>(blocks.size()) - from[g]);
    for (std::size_t k = from[g]; k < blocks.size(); ++k) {
      const GrowingQr::Block& b = blocks[k];
      const hdf5::Group one = group.create_group(std::to_string(k - from[g]));
      one.set_attribute("top_begin", b.top_begin);
      one.set_attribute("top_count", b.top_count);
      one.set_attribute("row_begin", b.row_begin);
      one.set_attribute("row_count", b.row_count);
      one.set_attribute("block_size", b.block_size);
      one.write("v", b.v);
      one.write("t", b.t);
    }
  }
  file.close();  // checksummed, then written through a temporary and a rename
}

SparseGp::FactorBlocks read_factor_increments(const std::vector<std::filesystem::path>& paths) {
  SparseGp::FactorBlocks blocks;
  for (const std::filesystem::path& path : paths) {
    const hdf5::File file = hdf5::File::open(path);
    verify_hdf5_checksum(file, true);
    if (!file.has_attribute("kind") || file.string_attribute("kind") != journal_kind)
      throw Error(path.string() + ": not an otfgp factor-block file");
    const int version = file.int_attribute("format_version");
    if (version < 1 || version > factor_journal_format_version)
      throw Error(path.string() + ": factor-block format_version " + std::to_string(version) +
                  ", this otfgp reads versions 1 to " +
                  std::to_string(factor_journal_format_version));
    for (int g = 0; g < SparseGp::Factors::factor_count; ++g) {
      const hdf5::Group group = file.open_group(SparseGp::Factors::factor_name(g));
      const int first = group.int_attribute("first"), count = group.int_attribute("count");
      if (first != static_cast<int>(blocks[g].size()) || count < 0)
        throw Error(path.string() + ": /" + SparseGp::Factors::factor_name(g) +
                    " starts at block " + std::to_string(first) +
                    ", the increments before it end at " + std::to_string(blocks[g].size()));
      for (int k = 0; k < count; ++k) {
        const hdf5::Group one = group.open_group(std::to_string(k));
        GrowingQr::Block b;
        b.top_begin = one.int_attribute("top_begin");
        b.top_count = one.int_attribute("top_count");
        b.row_begin = one.int_attribute("row_begin");
        b.row_count = one.int_attribute("row_count");
        b.block_size = one.int_attribute("block_size");
        b.v = one.read_matrix("v");
        b.t = one.read_matrix("t");
        blocks[g].push_back(std::move(b));
      }
    }
  }
  return blocks;
}

void FactorJournal::write(const std::filesystem::path& dir, const std::string& name,
                          const SparseGp& gp) {
  if (holds(name)) throw std::logic_error("FactorJournal: " + name + " is already in the chain");
  if (files_.size() + 1 >= max_files) reset();
  write_factor_increment(dir / name, gp, written_);
  files_.push_back(name);
  written_ = factor_block_counts(gp);
}

void FactorJournal::reset() {
  files_.clear();
  written_ = {};
}

bool FactorJournal::holds(const std::string& name) const {
  return std::find(files_.begin(), files_.end(), name) != files_.end();
}

void FactorJournal::resume(const std::filesystem::path& dir, std::vector<std::string> files,
                           SparseGp& gp) {
  files_ = std::move(files);
  written_ = {};
  if (files_.empty()) return;
  std::vector<std::filesystem::path> paths;
  for (const std::string& name : files_) paths.push_back(dir / name);
  try {
    gp.resume_factors(read_factor_increments(paths));
  } catch (const Error& error) {
    // The frames are all there: lose the bit-for-bit continuation, not the run.
    logger().warn(
        "{}; the model is rebuilt from its stored frames at its first update instead (the run "
        "then rounds differently from an uninterrupted one)",
        error.what());
    reset();
    return;
  }
  written_ = factor_block_counts(gp);
}

}  // namespace otfgp
