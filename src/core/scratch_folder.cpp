#include "otfgp/core/scratch_folder.hpp"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "otfgp/core/error.hpp"

namespace otfgp {

ScratchFolder::ScratchFolder(const std::string& prefix) {
  std::error_code error;
  const std::filesystem::path temporary = std::filesystem::temp_directory_path(error);
  if (error)
    throw Error("cannot find the temporary directory for a scratch folder: " + error.message());
  std::string pattern = (temporary / (prefix + "-XXXXXX")).string();
  if (!::mkdtemp(pattern.data()))
    throw Error("cannot create a scratch folder in " + temporary.string() + ": " +
                std::strerror(errno));
  path_ = pattern;
}

ScratchFolder::~ScratchFolder() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace otfgp
