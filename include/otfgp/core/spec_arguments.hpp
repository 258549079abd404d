#pragma once
// The "key=value,key=value" part of a potential or calculator spec string,
// read so that a misspelled key is an error rather than a silent default.

#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace otfgp {

class SpecArguments {
 public:
  // owner names the spec in messages, e.g. "lj".
  SpecArguments(std::string owner, const std::string& text);

  bool has(const std::string& key) const;
  double number(const std::string& key);  // required
  double number(const std::string& key, double fallback);
  std::string text(const std::string& key);  // required
  std::string text(const std::string& key, const std::string& fallback);
  bool flag(const std::string& key, bool fallback);
  // Keys of the form "prefix.rest" not yet read, e.g. per-pair overrides "eps.Si-O".
  std::map<std::string, std::string> take_prefixed(const std::string& prefix);
  // Throws otfgp::Error listing every key that was given but never read.
  void finish() const;

 private:
  std::optional<std::string> take(const std::string& key);

  std::string owner_;
  std::map<std::string, std::string> values_;
};

// Parses a finite number; the message names owner and key on failure.
double parse_spec_number(const std::string& owner, const std::string& key,
                         const std::string& value);

// Splits "name:arguments" at the first colon; arguments may be empty.
std::pair<std::string, std::string> split_spec(const std::string& spec);

// Where a relative file named in a spec read from a config file is taken
// from: the config's folder `config_dir` when the file is there, and always
// when the name has a folder part ("./my.buck"); the absolute path then.
// nullopt for an absolute name, an empty config_dir, or a bare name not in
// the config's folder (the caller looks it up as for a spec given directly).
std::optional<std::filesystem::path> file_beside_config(const std::string& name,
                                                        const std::filesystem::path& config_dir);

}  // namespace otfgp
