#pragma once
// A fresh directory under the system's temporary directory, removed with
// everything in it when the object goes out of scope; and a file of given
// text in a directory of its own. Unique names keep tests that run at the same
// time (ctest -j, several checkouts on one machine) out of each other's way.

#include <filesystem>
#include <string>

#include "otfgp/core/scratch_folder.hpp"

namespace otfgp::testing {

class TemporaryDirectory : public ScratchFolder {
 public:
  explicit TemporaryDirectory(const std::string& prefix = "otfgp-test") : ScratchFolder(prefix) {}
};

// A file called `name` holding `text` (parameter files, malformed inputs),
// removed with its directory when the object goes out of scope.
struct TemporaryFile {
  TemporaryFile(const std::string& name, const std::string& text);

  TemporaryDirectory directory;
  std::filesystem::path path;
};

}  // namespace otfgp::testing
