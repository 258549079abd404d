#pragma once
// A fresh folder under the system's temporary directory (mkdtemp: a unique
// name, mode 0700), removed with everything in it however its owner's work
// ends — normally, by an error, by an interrupt. For scratch files no one must
// find afterwards: a plot's data, an oracle's trial run, a test's files.

#include <filesystem>
#include <string>

namespace otfgp {

class ScratchFolder {
 public:
  // `prefix` starts the folder's name ("otfgp-plot" → /tmp/otfgp-plot-a1B2c3).
  // Throws otfgp::Error naming the temporary directory when none can be made.
  explicit ScratchFolder(const std::string& prefix);
  ~ScratchFolder();
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::filesystem::path& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace otfgp
