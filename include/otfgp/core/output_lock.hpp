#pragma once
// One process at a time per output: a verb that writes an output folder or a
// growing output file (otf, md, search, label) holds an exclusive advisory
// lock (flock) on a lock file for as long as it writes, so that a second run
// given the same output — a re-queued batch job, a typo — stops with a clear
// error instead of interleaving, replacing or deleting the first run's files.
// The lock file records who holds it (pid, verb, start time) for that error,
// and is removed when the holder ends; a holder killed with -9 leaves the file
// but not the lock (the kernel releases it), so the next run proceeds.

#include <filesystem>
#include <string>

namespace otfgp {

class OutputLock {
 public:
  // Locks `lock_file` (created when missing; its folder must exist) for
  // `verb` ("otfgp otf"), naming `output` in the error. Throws otfgp::Error
  // when another process holds it, or when it cannot be made; on a file
  // system without flock, warns and holds nothing.
  OutputLock(const std::filesystem::path& lock_file, const std::string& output,
             const std::string& verb);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

  // The lock file of an output folder: FOLDER/.otfgp.lock.
  static std::filesystem::path in_folder(const std::filesystem::path& folder);
  static const char* folder_file_name() { return ".otfgp.lock"; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace otfgp
