#include "support/temporary_directory.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace otfgp::testing {

TemporaryFile::TemporaryFile(const std::string& name, const std::string& text)
    : path(directory / name) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace otfgp::testing
