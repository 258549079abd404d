#pragma once
// YAML config files read against the keys their reader knows (as n2p2 reads
// its settings): an unknown or misspelled key, a value of the wrong type, a
// missing required value or a key given twice is an otfgp::Error that names the
// key, the file and the line, and suggests the closest known key. Every verb
// with a config (`md`, `train`, `hull`, …) reads it through this class.
//
//   ConfigSection root = ConfigSection::load("md.yaml");
//   root.expect_keys({"structure", "potential", "timestep", "thermostat"});
//   const double dt = root.number("timestep", 1.0);
//   ConfigSection thermostat = root.section("thermostat");
//   thermostat.expect_keys({"type", "damping"});
//   …
//   thermostat.finish();  // a known key that was never read does not apply: error
//   root.finish();

#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace otfgp {

class ConfigSection {
 public:
  // Reads a file whose top level is a mapping; errors name the file and line.
  static ConfigSection load(const std::filesystem::path& file);
  // The same for text already in memory; `source` names it in messages.
  static ConfigSection parse(const std::string& text, const std::string& source);

  // The keys this mapping may hold. Any other key is an error now.
  void expect_keys(const std::vector<std::string>& known);

  bool has(const std::string& key) const;
  // The keys of this mapping in the file's order (for mappings whose keys are
  // data, e.g. element → file); read each value with text(), number(), … so
  // that a value of the wrong type is an error naming its key. A key that is
  // not a plain word (a list, a mapping) is an error.
  std::vector<std::string> keys() const;
  // Sub-mappings; reading one marks its key as used.
  ConfigSection section(const std::string& key) const;
  std::optional<ConfigSection> optional_section(const std::string& key) const;
  // A sequence of mappings (e.g. the stages of a campaign), named key[1], key[2], ….
  std::vector<ConfigSection> sections(const std::string& key) const;

  // Scalars; the forms without a fallback throw when the key is missing.
  double number(const std::string& key) const;
  double number(const std::string& key, double fallback) const;
  std::optional<double> optional_number(const std::string& key) const;
  long integer(const std::string& key) const;
  long integer(const std::string& key, long fallback) const;
  std::optional<long> optional_integer(const std::string& key) const;
  std::string text(const std::string& key) const;
  std::string text(const std::string& key, const std::string& fallback) const;
  std::optional<std::string> optional_text(const std::string& key) const;
  bool flag(const std::string& key, bool fallback) const;
  // One of `choices` (a string); the message lists them.
  std::string choice(const std::string& key, const std::vector<std::string>& choices) const;
  std::string choice(const std::string& key, const std::vector<std::string>& choices,
                     const std::string& fallback) const;

  // Sequences; `count` > 0 demands exactly that many entries. A scalar reads
  // as a one-entry sequence.
  std::vector<double> numbers(const std::string& key, int count = 0) const;
  std::vector<long> integers(const std::string& key, int count = 0) const;
  std::vector<std::string> texts(const std::string& key, int count = 0) const;

  // Throws for the first key that was given (and is known) but never read:
  // it does not apply in this configuration; `context` says why ("with
  // ensemble nve").
  void finish(const std::string& context = "") const;

  // "thermostat.damping" for key "damping" of section "thermostat".
  std::string name(const std::string& key) const;
  // "md.yaml, line 12" for a key (or the mapping itself when key is empty).
  std::string location(const std::string& key = "") const;
  const std::string& file() const { return *file_; }
  // "md.yaml, line 12: key 'timestep'": how a message about a key starts.
  std::string where(const std::string& key) const;
  // Throws otfgp::Error: "md.yaml, line 12: key 'timestep': <message>".
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  const YAML::Node& node() const { return node_; }

 private:
  ConfigSection(YAML::Node node, std::string prefix, std::shared_ptr<const std::string> file);
  YAML::Node value(const std::string& key) const;  // marks as used; undefined node when missing
  std::string scalar(const std::string& key, const YAML::Node& node, const char* expected) const;

  YAML::Node node_;
  std::string prefix_;
  std::shared_ptr<const std::string> file_;
  std::shared_ptr<std::set<std::string>> used_;
  std::vector<std::string> known_;
};

// Levenshtein distance, for "did you mean" suggestions.
int edit_distance(const std::string& a, const std::string& b);
// The candidate closest to `word` when it is close enough to be a likely typo.
std::optional<std::string> closest_match(const std::string& word,
                                         const std::vector<std::string>& candidates);

}  // namespace otfgp
