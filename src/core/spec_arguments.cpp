#include "otfgp/core/spec_arguments.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "otfgp/core/error.hpp"

namespace otfgp {

SpecArguments::SpecArguments(std::string owner, const std::string& text)
    : owner_(std::move(owner)) {
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (item.empty()) continue;
    const auto equals = item.find('=');
    if (equals == std::string::npos || equals == 0)
      throw Error(owner_ + ": expected key=value, got '" + item + "'");
    const std::string key = item.substr(0, equals);
    if (values_.count(key)) throw Error(owner_ + ": key '" + key + "' given twice");
    values_[key] = item.substr(equals + 1);
  }
}

bool SpecArguments::has(const std::string& key) const {
  return values_.count(key) > 0;
}

std::optional<std::string> SpecArguments::take(const std::string& key) {
  const auto found = values_.find(key);
  if (found == values_.end()) return std::nullopt;
  std::string value = found->second;
  values_.erase(found);
  return value;
}

double parse_spec_number(const std::string& owner, const std::string& key,
                         const std::string& value) {
  errno = 0;
  char* end = nullptr;
  const double number = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || errno != 0 || !std::isfinite(number))
    throw Error(owner + ": value of '" + key + "' is not a number: '" + value + "'");
  return number;
}

double SpecArguments::number(const std::string& key) {
  const auto value = take(key);
  if (!value) throw Error(owner_ + ": missing required key '" + key + "'");
  return parse_spec_number(owner_, key, *value);
}

double SpecArguments::number(const std::string& key, double fallback) {
  const auto value = take(key);
  return value ? parse_spec_number(owner_, key, *value) : fallback;
}

std::string SpecArguments::text(const std::string& key) {
  const auto value = take(key);
  if (!value) throw Error(owner_ + ": missing required key '" + key + "'");
  return *value;
}

std::string SpecArguments::text(const std::string& key, const std::string& fallback) {
  return take(key).value_or(fallback);
}

bool SpecArguments::flag(const std::string& key, bool fallback) {
  const auto value = take(key);
  if (!value) return fallback;
  if (*value == "yes" || *value == "true" || *value == "1") return true;
  if (*value == "no" || *value == "false" || *value == "0") return false;
  throw Error(owner_ + ": value of '" + key + "' must be yes or no, got '" + *value + "'");
}

std::map<std::string, std::string> SpecArguments::take_prefixed(const std::string& prefix) {
  std::map<std::string, std::string> result;
  const std::string start = prefix + ".";
  for (auto it = values_.begin(); it != values_.end();) {
    if (it->first.rfind(start, 0) == 0) {
      result[it->first.substr(start.size())] = it->second;
      it = values_.erase(it);
    } else {
      ++it;
    }
  }
  return result;
}

void SpecArguments::finish() const {
  if (values_.empty()) return;
  std::string keys;
  for (const auto& [key, value] : values_) keys += (keys.empty() ? "" : ", ") + key;
  throw Error(owner_ + ": unknown key(s): " + keys);
}

std::pair<std::string, std::string> split_spec(const std::string& spec) {
  const auto colon = spec.find(':');
  if (colon == std::string::npos) return {spec, ""};
  return {spec.substr(0, colon), spec.substr(colon + 1)};
}

std::optional<std::filesystem::path> file_beside_config(const std::string& name,
                                                        const std::filesystem::path& config_dir) {
  const std::filesystem::path given(name);
  if (config_dir.empty() || name.empty() || given.is_absolute()) return std::nullopt;
  const std::filesystem::path beside =
      std::filesystem::absolute(config_dir / given).lexically_normal();
  std::error_code ignored;
  if (given.has_parent_path() || std::filesystem::exists(beside, ignored)) return beside;
  return std::nullopt;
}

}  // namespace otfgp
