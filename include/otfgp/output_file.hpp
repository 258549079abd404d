#pragma once
// Writes a file so that readers never see it half-written: the text goes to a
// temporary file beside the target, renamed over it by commit(). Without
// commit() (an error on the way) the temporary is removed and the target is
// left as it was.

#include <filesystem>
#include <fstream>
#include <string>

namespace otfgp {

// Throws otfgp::Error now, before long work, when `target` could not be written later.
void check_writable(const std::filesystem::path& target);

// The hidden temporary beside `target` that this process writes before the
// rename: "DIR/.NAME.tmpPID".
std::filesystem::path temporary_path(const std::filesystem::path& target);
// Removes the temporaries of `target` left by processes that no longer run
// (killed mid-write): every writer calls it, so leftovers never accumulate.
void remove_stale_temporaries(const std::filesystem::path& target);

class OutputFile {
 public:
  // Throws otfgp::Error when the directory is not writable.
  explicit OutputFile(std::filesystem::path target, std::ios::openmode mode = std::ios::out);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  std::ostream& stream() { return stream_; }
  // Flushes, checks for write errors and renames into place.
  void commit();

 private:
  std::filesystem::path target_;
  std::filesystem::path temporary_;
  std::ofstream stream_;
  bool committed_ = false;
};

}  // namespace otfgp
