#include "otfgp/oracle/oracle_settings.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "otfgp/core/error.hpp"
#include "otfgp/core/file_fingerprint.hpp"
#include "otfgp/core/fnv1a.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/process.hpp"
#include "otfgp/md/run.hpp"

namespace otfgp::oracle {

namespace {

// The lines of label_files entries no config key names (named_files).
constexpr const char* file_prefix = "oracle.files.";
// The `command` kind's command line: its words, as join_command writes them.
constexpr const char* command_line = "oracle.command: ";

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

// One line: newlines (a block scalar's: a lammps oracle's `commands: |`) are
// written as \n, so that every line of the text is compared.
std::string one_line(const std::string& text) {
  std::string line;
  for (char c : text) line += c == '\n' ? std::string("\\n") : std::string(1, c);
  return line;
}

std::string scalar_text(const YAML::Node& node) {
  const std::string text = node.Scalar();
  const auto value = parse_real(text);
  return value ? format_significant(*value, 17) : one_line(text);
}

// The `command` kind's command as the words it runs (join_command), on one line.
std::string command_text(const std::string& command) {
  return one_line(join_command(split_command(command)));
}

// one_line undone: what a command line recorded on one line was written as.
std::string written_text(const std::string& line) {
  std::string text;
  for (std::size_t k = 0; k < line.size(); ++k) {
    const bool newline = line[k] == '\\' && k + 1 < line.size() && line[k + 1] == 'n';
    text += newline ? '\n' : line[k];
    k += newline ? 1 : 0;
  }
  return text;
}

// Where the value of `text`'s `oracle.command` line starts, and its length;
// npos when there is none.
std::pair<std::size_t, std::size_t> command_value(const std::string& text) {
  const std::size_t start =
      text.rfind(command_line, 0) == 0 ? 0 : text.find(std::string("\n") + command_line);
  if (start == std::string::npos) return {start, 0};
  const std::size_t value = start + (start == 0 ? 0 : 1) + std::strlen(command_line);
  return {value, text.find('\n', value) - value};
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
    // QE's namelists and their keys are case-insensitive (ELECTRONS, Mixing_Beta).
    const std::string name = entry.first.Scalar();
    const std::string key = prefix + (prefix.rfind("input.", 0) == 0 ? ascii_lower(name) : name);
    if (steers_only(key, kind)) continue;
    if (key == "command" && entry.second.IsScalar())  // the words run, however spaced
      lines[key] = command_text(entry.second.Scalar());
    else if (entry.second.IsMap())
      flatten(entry.second, key + ".", kind, lines);
    else
      lines[key] = flow_text(entry.second);
  }
}

}  // namespace

std::string label_settings(const ConfigSection& section, const Oracle& made) {
  const YAML::Node& node = section.node();
  if (!node.IsMap()) return "";
  const std::string kind = node["kind"] && node["kind"].IsScalar() ? node["kind"].Scalar() : "";
  std::map<std::string, std::string> lines;
  flatten(node, "", kind, lines);
  // Species-indexed QE keys (starting_magnetization(1)) mean the elements in
  // the order of `pseudopotentials`, which the sorted lines above lose.
  const bool indexed = std::any_of(lines.begin(), lines.end(), [](const auto& line) {
    return line.first.rfind("input.", 0) == 0 && line.first.find('(') != std::string::npos;
  });
  if (indexed && node["pseudopotentials"] && node["pseudopotentials"].IsMap()) {
    std::string order;
    for (const auto& entry : node["pseudopotentials"])
      order += (order.empty() ? "" : " ") + entry.first.Scalar();
    lines["pseudopotentials_order"] = order;
  }
  for (const auto& [key, file] : made.label_files()) lines[key] = content_fingerprint(file);
  std::string text;
  for (const auto& [key, value] : lines) text += "oracle." + key + ": " + value + "\n";
  return text;
}

std::string label_settings_as_written(const ConfigSection& section, const Oracle& made) {
  std::string text = label_settings(section, made);
  const YAML::Node& command = section.node()["command"];
  const auto [at, size] = command_value(text);
  if (at != std::string::npos && command.IsScalar()) text.replace(at, size, scalar_text(command));
  return text;
}

std::string settings_as_recorded(const std::string& recorded, const std::string& now) {
  std::string compared = file_lines_as_recorded(recorded, now, file_prefix);
  // Before 2026-12-03 the command line was recorded as written (scalar_text):
  // the same words spaced or quoted otherwise are the same calculation.
  const auto [at, size] = command_value(recorded);
  const auto [now_at, now_size] = command_value(compared);
  if (at == std::string::npos || now_at == std::string::npos) return compared;
  const std::string written = recorded.substr(at, size);
  try {
    if (command_text(written_text(written)) == compared.substr(now_at, now_size))
      compared.replace(now_at, now_size, written);
  } catch (const Error&) {  // an unterminated quote: not the same
  }
  return compared;
}

bool file_contents_uncompared(const std::string& recorded, const std::string& now) {
  return file_lines_as_recorded(recorded, now, file_prefix) != now;
}

std::string with_label_defaults(const std::string& text, const Oracle& made) {
  std::string other;
  std::map<std::string, std::string> set;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const auto colon = line.find(": ");
    if (line.rfind("oracle.", 0) != 0 || colon == std::string::npos) {
      other += line + "\n";
      continue;
    }
    const std::string key = line.substr(7, colon - 7);
    set[key] = made.canonical_label_value(key, line.substr(colon + 2));
  }
  for (const auto& [key, value] : made.label_defaults(set)) set.emplace(key, value);
  for (const auto& [key, value] : set) other += "oracle." + key + ": " + value + "\n";
  return other;
}

std::optional<md::SettingChange> first_label_change(const std::string& before,
                                                    const std::string& now) {
  std::optional<md::SettingChange> change = md::first_setting_change(before, now);
  if (change && change->key.rfind(file_prefix, 0) == 0)
    if (auto key_change = md::first_setting_change(without_file_lines(before, file_prefix),
                                                   without_file_lines(now, file_prefix)))
      return key_change;
  return change;
}

std::optional<md::SettingChange> first_label_change(const std::string& before,
                                                    const std::string& now, const Oracle& made) {
  const std::string full_before = with_label_defaults(before, made);
  const std::string full_now = with_label_defaults(now, made);
  // The lines of keys that `before` or `now` writes.
  const auto written = [&](const std::string& text) {
    std::string kept;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      const std::string key = line.substr(0, line.find(": ") + 2);
      const auto in = [&](const std::string& raw) {
        return raw.rfind(key, 0) == 0 || raw.find("\n" + key) != std::string::npos;
      };
      if (in(before) || in(now)) kept += line + "\n";
    }
    return kept;
  };
  if (auto change = first_label_change(written(full_before), written(full_now))) return change;
  return first_label_change(full_before, full_now);
}

std::string label_fingerprint(const ConfigSection& section, const Oracle& made) {
  const YAML::Node& node = section.node();
  return label_fingerprint(node.IsMap() && node["kind"] ? node["kind"].Scalar() : "?",
                           label_settings(section, made));
}

std::string label_fingerprint(const std::string& kind, const std::string& settings) {
  return fmt::format("{}-fnv1a64-{:016x}", kind, fnv1a(settings.data(), settings.size()));
}

}  // namespace otfgp::oracle
