#pragma once
// A bad value of an environment variable otfgp reads (OTFGP_MANYBODY_FORM,
// OTFGP_GP_FORCE_FORM, …; docs/cli.md, "Environment variables"). Code that
// adds a config file's place to the errors it passes on (the potential
// oracle) passes this one on as it is: the config is not at fault.

#include <string>

#include "otfgp/core/error.hpp"

namespace otfgp {

class EnvironmentError : public Error {
 public:
  // "VARIABLE must be TAKES, not 'VALUE'", the value as printable_ascii shows
  // it, cut after 64 characters.
  EnvironmentError(const std::string& variable, const std::string& takes, const std::string& value);
};

// `text` with every byte outside printable ASCII as '?': safe on a terminal
// and in JSON (UTF-8 only).
std::string printable_ascii(std::string text);

}  // namespace otfgp
