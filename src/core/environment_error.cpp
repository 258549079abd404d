#include "otfgp/core/environment_error.hpp"

namespace otfgp {

namespace {

std::string shown(const std::string& value) {
  constexpr std::size_t limit = 64;
  if (value.size() <= limit) return printable_ascii(value);
  return printable_ascii(value.substr(0, limit)) + "... (" + std::to_string(value.size()) +
         " bytes)";
}

}  // namespace

EnvironmentError::EnvironmentError(const std::string& variable, const std::string& takes,
                                   const std::string& value)
    : Error(variable + " must be " + takes + ", not '" + shown(value) + "'") {}

std::string printable_ascii(std::string text) {
  for (char& c : text)
    if (c < 0x20 || c > 0x7e) c = '?';
  return text;
}

}  // namespace otfgp
