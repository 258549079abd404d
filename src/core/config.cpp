#include "otfgp/core/config.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "otfgp/core/error.hpp"
#include "otfgp/core/number_text.hpp"

namespace otfgp {

namespace {

// A key written without a value (`steps: ~`), however it is read.
constexpr const char* no_value = "has no value: remove the key or give it one";

std::string line_of(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? std::string() : ", line " + std::to_string(mark.line + 1);
}

std::string join(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& word : words) text += (text.empty() ? "" : ", ") + word;
  return text;
}

// YAML 1.1 merge keys (`<<: *defaults`, `<<: [*a, *b]`), which yaml-cpp 0.7
// reads as a plain key "<<": a new tree in which each map holds its own keys
// and, in place of "<<", those of the merged maps it does not give itself
// (the first merged map first). Nodes are shared, never changed: an alias
// names the same node as its anchor. Only the maps and lists on the way to a
// merge key are new (and lose their own line numbers; their keys keep theirs).
bool has_merge_key(const YAML::Node& node) {
  if (node.IsSequence())
    return std::any_of(node.begin(), node.end(),
                       [](const YAML::Node& item) { return has_merge_key(item); });
  if (!node.IsMap()) return false;
  for (const auto& entry : node)
    if (entry.first.Scalar() == "<<" || has_merge_key(entry.second)) return true;
  return false;
}

YAML::Node expanded(const YAML::Node& node, const std::string& source) {
  // Untouched where there is nothing to merge: a new node has no line number.
  if (!has_merge_key(node)) return node;
  if (node.IsSequence()) {
    YAML::Node copy(YAML::NodeType::Sequence);
    for (const auto& item : node) copy.push_back(expanded(item, source));
    return copy;
  }
  if (!node.IsMap()) return node;
  YAML::Node copy(YAML::NodeType::Map);
  std::set<std::string> own;
  std::vector<YAML::Node> merged;
  for (const auto& entry : node) {
    if (entry.first.Scalar() != "<<") {
      own.insert(entry.first.Scalar());
      copy.force_insert(entry.first, expanded(entry.second, source));
      continue;
    }
    const YAML::Node& value = entry.second;
    if (value.IsMap()) merged.push_back(value);
    for (std::size_t k = 0; value.IsSequence() && k < value.size(); ++k) merged.push_back(value[k]);
    if (!value.IsMap() && !value.IsSequence())
      throw Error(source + line_of(entry.first) +
                  ": '<<' (a YAML merge key) takes a mapping or a list of mappings, e.g. "
                  "'<<: *defaults' after '&defaults {...}'");
  }
  for (const YAML::Node& map : merged) {
    if (!map.IsMap())
      throw Error(source + line_of(map) + ": '<<' (a YAML merge key) merges mappings only");
    for (const auto& entry : expanded(map, source))
      if (own.insert(entry.first.Scalar()).second) copy.force_insert(entry.first, entry.second);
  }
  return copy;
}

}  // namespace

int edit_distance(const std::string& a, const std::string& b) {
  std::vector<int> previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = static_cast<int>(j);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = static_cast<int>(i);
    for (std::size_t j = 1; j <= b.size(); ++j)
      current[j] = std::min(
          {previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::optional<std::string> closest_match(const std::string& word,
                                         const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  int best_distance = 0;
  for (const auto& candidate : candidates) {
    const int distance = edit_distance(word, candidate);
    if (!best || distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  // A typo changes a few letters; beyond a third of the word it is another word.
  const int allowed = std::max<int>(2, static_cast<int>(word.size()) / 3);
  if (best && best_distance <= allowed) return best;
  return std::nullopt;
}

ConfigSection::ConfigSection(YAML::Node node, std::string prefix,
                             std::shared_ptr<const std::string> file)
    : node_(std::move(node)),
      prefix_(std::move(prefix)),
      file_(std::move(file)),
      used_(std::make_shared<std::set<std::string>>()) {
  // yaml-cpp keeps the first of two equal keys without a word; a repeated key
  // is almost always an edit gone wrong, so it is an error.
  std::set<std::string> seen;
  for (const auto& entry : node_) {
    const std::string key = entry.first.Scalar();
    if (!seen.insert(key).second)
      throw Error(*file_ + line_of(entry.first) + ": key '" + name(key) + "' is given twice");
  }
}

ConfigSection ConfigSection::parse(const std::string& text, const std::string& source) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& error) {
    throw Error(source + ", line " + std::to_string(error.mark.line + 1) +
                ": not valid YAML: " + error.msg);
  }
  // A second document (after a `---` line) would otherwise go unread, its
  // keys unchecked.
  if (documents.size() > 1)
    throw Error(source + line_of(documents[1]) +
                ": a second YAML document (after a '---' line): a config is one document; "
                "merge the two or remove the '---'");
  const YAML::Node root = documents.empty() ? YAML::Node() : expanded(documents.front(), source);
  if (root.IsNull()) throw Error(source + ": the config is empty");
  if (!root.IsMap()) throw Error(source + ": the config must be a mapping of keys to values");
  return ConfigSection(root, "", std::make_shared<const std::string>(source));
}

ConfigSection ConfigSection::load(const std::filesystem::path& file) {
  if (std::error_code error; std::filesystem::is_directory(file, error))
    throw Error("config file '" + file.string() + "' is a directory: give the YAML file");
  std::ifstream input(file);
  if (!input) {
    if (!std::filesystem::exists(file))
      throw Error("config file '" + file.string() + "' does not exist");
    throw Error("cannot read config file '" + file.string() + "'");
  }
  std::stringstream text;
  text << input.rdbuf();
  return parse(text.str(), file.string());
}

std::string ConfigSection::name(const std::string& key) const {
  return prefix_.empty() ? key : prefix_ + "." + key;
}

std::string ConfigSection::location(const std::string& key) const {
  if (!key.empty())
    for (const auto& entry : node_)
      if (entry.first.Scalar() == key) return *file_ + line_of(entry.first);
  return prefix_.empty() ? *file_ : *file_ + line_of(node_);
}

std::string ConfigSection::where(const std::string& key) const {
  return location(key) + ": key '" + name(key) + "'";
}

void ConfigSection::fail(const std::string& key, const std::string& message) const {
  throw Error(where(key) + ": " + message);
}

void ConfigSection::expect_keys(const std::vector<std::string>& known) {
  known_ = known;
  for (const auto& entry : node_) {
    const std::string key = entry.first.Scalar();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string message = *file_ + line_of(entry.first) + ": unknown key '" + name(key) + "'";
    if (const auto suggestion = closest_match(key, known))
      message += " (did you mean '" + name(*suggestion) + "'?)";
    else
      message += " (known keys" + (prefix_.empty() ? std::string() : " of '" + prefix_ + "'") +
                 ": " + join(known) + ")";
    throw Error(message);
  }
}

bool ConfigSection::has(const std::string& key) const {
  const YAML::Node found = node_[key];
  return found.IsDefined() && !found.IsNull();
}

std::vector<std::string> ConfigSection::keys() const {
  std::vector<std::string> keys;
  for (const auto& entry : node_) {
    if (!entry.first.IsScalar())
      throw Error(*file_ + line_of(entry.first) + ": " +
                  (prefix_.empty() ? std::string("a key") : "a key of '" + prefix_ + "'") +
                  " is not a plain word (a list or mapping used as a key)");
    keys.push_back(entry.first.Scalar());
  }
  return keys;
}

YAML::Node ConfigSection::value(const std::string& key) const {
  if (!known_.empty() && std::find(known_.begin(), known_.end(), key) == known_.end())
    throw std::logic_error("config reader asks for undeclared key '" + name(key) + "'");
  used_->insert(key);
  const YAML::Node found = node_[key];
  if (found.IsDefined() && found.IsNull()) fail(key, no_value);
  return found;
}

std::string ConfigSection::scalar(const std::string& key, const YAML::Node& node,
                                  const char* expected) const {
  if (!node.IsScalar())
    fail(key, std::string("expected ") + expected + ", got a " +
                  (node.IsMap() ? "mapping" : "sequence"));
  return node.Scalar();
}

ConfigSection ConfigSection::section(const std::string& key) const {
  const YAML::Node found = value(key);
  if (!found.IsDefined()) throw Error(location() + ": missing required key '" + name(key) + "'");
  if (!found.IsMap()) fail(key, "expected a mapping of keys to values");
  return ConfigSection(found, name(key), file_);
}

std::optional<ConfigSection> ConfigSection::optional_section(const std::string& key) const {
  if (!value(key).IsDefined()) return std::nullopt;
  return section(key);
}

std::vector<ConfigSection> ConfigSection::sections(const std::string& key) const {
  const YAML::Node found = value(key);
  if (!found.IsDefined()) throw Error(location() + ": missing required key '" + name(key) + "'");
  if (!found.IsSequence()) fail(key, "expected a list of mappings");
  std::vector<ConfigSection> entries;
  for (std::size_t k = 0; k < found.size(); ++k) {
    if (!found[k].IsMap())
      fail(key, "entry " + std::to_string(k + 1) + " is not a mapping of keys to values");
    entries.push_back(
        ConfigSection(found[k], name(key) + "[" + std::to_string(k + 1) + "]", file_));
  }
  return entries;
}

namespace {

// A finite number (number_text's locale-independent reading), or empty.
std::optional<double> finite_number(const std::string& text) {
  const auto number = parse_real(text);
  if (!number || !std::isfinite(*number)) return std::nullopt;
  return number;
}

// An integer; 1e6 is a common way to write a step count, so a whole real is one too.
std::optional<long> whole_number(const std::string& text) {
  if (const auto number = parse_integer(text)) return static_cast<long>(*number);
  const auto real = finite_number(text);
  if (real && std::abs(*real) < 9e15 && *real == std::round(*real)) return static_cast<long>(*real);
  return std::nullopt;
}

}  // namespace

std::optional<double> ConfigSection::optional_number(const std::string& key) const {
  const YAML::Node found = value(key);
  if (!found.IsDefined()) return std::nullopt;
  const std::string text = scalar(key, found, "a number");
  const auto number = finite_number(text);
  if (!number) fail(key, "expected a number, got '" + text + "'");
  return number;
}

double ConfigSection::number(const std::string& key) const {
  const auto number = optional_number(key);
  if (!number) throw Error(location() + ": missing required key '" + name(key) + "'");
  return *number;
}

double ConfigSection::number(const std::string& key, double fallback) const {
  return optional_number(key).value_or(fallback);
}

std::optional<long> ConfigSection::optional_integer(const std::string& key) const {
  const YAML::Node found = value(key);
  if (!found.IsDefined()) return std::nullopt;
  const std::string text = scalar(key, found, "an integer");
  const auto number = whole_number(text);
  if (!number) fail(key, "expected an integer, got '" + text + "'");
  return number;
}

long ConfigSection::integer(const std::string& key) const {
  const auto number = optional_integer(key);
  if (!number) throw Error(location() + ": missing required key '" + name(key) + "'");
  return *number;
}

long ConfigSection::integer(const std::string& key, long fallback) const {
  return optional_integer(key).value_or(fallback);
}

std::optional<std::string> ConfigSection::optional_text(const std::string& key) const {
  const YAML::Node found = value(key);
  if (!found.IsDefined()) return std::nullopt;
  return scalar(key, found, "a string");
}

std::string ConfigSection::text(const std::string& key) const {
  const auto text = optional_text(key);
  if (!text) throw Error(location() + ": missing required key '" + name(key) + "'");
  return *text;
}

std::string ConfigSection::text(const std::string& key, const std::string& fallback) const {
  return optional_text(key).value_or(fallback);
}

bool ConfigSection::flag(const std::string& key, bool fallback) const {
  const YAML::Node found = value(key);
  if (!found.IsDefined()) return fallback;
  std::string text = scalar(key, found, "true or false");
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (text == "true" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "no" || text == "off") return false;
  fail(key, "expected true or false, got '" + found.Scalar() + "'");
}

std::string ConfigSection::choice(const std::string& key,
                                  const std::vector<std::string>& choices) const {
  const std::string given = text(key);
  if (std::find(choices.begin(), choices.end(), given) != choices.end()) return given;
  std::string message = "unknown value '" + given + "'";
  if (const auto suggestion = closest_match(given, choices))
    message += " (did you mean '" + *suggestion + "'?)";
  fail(key, message + "; choose one of: " + join(choices));
}

std::string ConfigSection::choice(const std::string& key, const std::vector<std::string>& choices,
                                  const std::string& fallback) const {
  if (!value(key).IsDefined()) return fallback;
  return choice(key, choices);
}

namespace {

template <class T, class Parse>
std::vector<T> read_sequence(const ConfigSection& section, const YAML::Node& found,
                             const std::string& key, int count, const char* expected, Parse parse) {
  std::vector<YAML::Node> items;
  if (found.IsScalar())
    items.push_back(found);
  else if (found.IsSequence())
    for (const auto& item : found) items.push_back(item);
  else
    section.fail(key, std::string("expected a list of ") + expected + ", got a mapping");
  if (count > 0 && static_cast<int>(items.size()) != count)
    section.fail(key, "expected " + std::to_string(count) + " " + expected + ", got " +
                          std::to_string(items.size()));
  if (items.empty())
    section.fail(key, std::string("expected a list of ") + expected + ", got an empty list");
  std::vector<T> values;
  for (const auto& item : items) {
    if (!item.IsScalar()) section.fail(key, std::string("expected a list of ") + expected);
    const auto parsed = parse(item.Scalar());
    if (!parsed)
      section.fail(key, std::string("expected ") + expected + ", got '" + item.Scalar() + "'");
    values.push_back(*parsed);
  }
  return values;
}

}  // namespace

std::vector<double> ConfigSection::numbers(const std::string& key, int count) const {
  const YAML::Node found = value(key);
  if (!found.IsDefined()) throw Error(location() + ": missing required key '" + name(key) + "'");
  return read_sequence<double>(*this, found, key, count, "numbers", finite_number);
}

std::vector<long> ConfigSection::integers(const std::string& key, int count) const {
  const YAML::Node found = value(key);
  if (!found.IsDefined()) throw Error(location() + ": missing required key '" + name(key) + "'");
  return read_sequence<long>(*this, found, key, count, "integers", whole_number);
}

std::vector<std::string> ConfigSection::texts(const std::string& key, int count) const {
  const YAML::Node found = value(key);
  if (!found.IsDefined()) throw Error(location() + ": missing required key '" + name(key) + "'");
  return read_sequence<std::string>(
      *this, found, key, count, "strings",
      [](const std::string& text) { return std::optional<std::string>(text); });
}

void ConfigSection::finish(const std::string& context) const {
  for (const auto& entry : node_) {
    const std::string key = entry.first.Scalar();
    if (used_->count(key)) continue;
    // A known key left empty (`steps: ~`) reads as absent (has): not an
    // inapplicable key, an unfinished one.
    const bool known =
        known_.empty() || std::find(known_.begin(), known_.end(), key) != known_.end();
    if (known && entry.second.IsNull()) fail(key, no_value);
    throw Error(*file_ + line_of(entry.first) + ": key '" + name(key) + "' does not apply" +
                (context.empty() ? std::string() : " " + context) + "; remove it");
  }
}

}  // namespace otfgp
