#include "otfgp/oracle/oracle_settings.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>

#include "otfgp/core/fnv1a.hpp"
#include "otfgp/core/number_text.hpp"

namespace otfgp::oracle {

namespace {

// Keys (as flattened) that do not change a converged label.
bool steers_only(const std::string& key, const std::string& kind) {
  static const std::set<std::string> keys = {
      "timeout",      "environment", "pseudo_dir", "data_dir",         "mixing_beta",    "conv_thr",
      "mixing_alpha", "max_scf",     "eps_scf",    "electron_maxstep", "input.electrons"};
  if (key == "command") return kind != "command";
  for (const std::string& k : keys)
    if (key == k || key.rfind(k + ".", 0) == 0) return true;
  return false;
}

std::string scalar_text(const YAML::Node& node) {
  const std::string text = node.Scalar();
  const auto value = parse_real(text);
  return value ? format_significant(*value, 17) : text;
}

std::string flow_text(const YAML::Node& node) {
  if (node.IsScalar()) return scalar_text(node);
  if (node.IsSequence()) {
    std::string text = "[";
    for (std::size_t k = 0; k < node.size(); ++k) text += (k ? ", " : "") + flow_text(node[k]);
    return text + "]";
  }
  if (node.IsMap()) {
    std::map<std::string, std::string> entries;
    for (const auto& entry : node) entries[entry.first.Scalar()] = flow_text(entry.second);
    std::string text = "{";
    for (const auto& [key, value] : entries)
      text += (text.size() > 1 ? ", " : "") + key + ": " + value;
    return text + "}";
  }
  return "";
}

void flatten(const YAML::Node& node, const std::string& prefix, const std::string& kind,
             std::map<std::string, std::string>& lines) {
  for (const auto& entry : node) {
    const std::string key = prefix + entry.first.Scalar();
    if (steers_only(key, kind)) continue;
    if (entry.second.IsMap())
      flatten(entry.second, key + ".", kind, lines);
    else
      lines[key] = flow_text(entry.second);
  }
}

}  // namespace

std::string label_settings(const ConfigSection& oracle) {
  const YAML::Node& node = oracle.node();
  if (!node.IsMap()) return "";
  const std::string kind = node["kind"] && node["kind"].IsScalar() ? node["kind"].Scalar() : "";
  std::map<std::string, std::string> lines;
  flatten(node, "", kind, lines);
  std::string text;
  for (const auto& [key, value] : lines) text += "oracle." + key + ": " + value + "\n";
  return text;
}

std::string label_fingerprint(const ConfigSection& oracle) {
  const std::string text = label_settings(oracle);
  const YAML::Node& node = oracle.node();
  const std::string kind = node.IsMap() && node["kind"] ? node["kind"].Scalar() : "?";
  return fmt::format("{}-fnv1a64-{:016x}", kind, fnv1a(text.data(), text.size()));
}

}  // namespace otfgp::oracle
