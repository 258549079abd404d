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

// An input file that is in none of the places looked at (the message lists
// them), so that a caller that knows one more place can say so.
class MissingFileError : public Error {
 public:
  explicit MissingFileError(const std::string& message) : Error(message) {}
};

}  // namespace otfgp
