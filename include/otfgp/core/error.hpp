#pragma once
// Errors the user can cause (bad file, unknown element, missing parameter):
// the CLI prints what() once and exits non-zero.

#include <stdexcept>
#include <string>

namespace otfgp {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace otfgp
