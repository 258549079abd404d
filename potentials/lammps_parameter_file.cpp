#include "lammps_parameter_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "parameter_file.hpp"

namespace otfgp {

namespace {

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) items.push_back(item);
  return items;
}

}  // namespace

TripletParameterFile::TripletParameterFile(const std::string& owner, const std::string& arguments,
                                           const std::vector<std::string>& value_names,
                                           const std::filesystem::path& config_dir)
    : owner_(owner) {
  const std::vector<std::string> items = split_commas(arguments);
  if (items.empty() || items[0].empty())
    throw Error(owner_ + ": expected a parameter file, e.g. '" + owner_ + ":Si." + owner_ + "'");
  const ParameterFileLocation location = find_parameter_file(items[0], owner_, config_dir);
  path_ = location.path;
  spec_argument_ = location.spec_argument;

  for (std::size_t k = 1; k < items.size(); ++k) {
    const auto equals = items[k].find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == items[k].size())
      throw Error(owner_ + ": expected Symbol=label after the file name (e.g. Si=Si(D)), got '" +
                  items[k] + "'");
    const int z = atomic_number(items[k].substr(0, equals));
    for (const auto& [known, label] : aliases_)
      if (known == z)
        throw Error(owner_ + ": element " + items[k].substr(0, equals) + " given twice");
    aliases_.emplace_back(z, items[k].substr(equals + 1));
    spec_argument_ += "," + items[k];
  }

  // Reads lines as LAMMPS's PotentialFileReader: '#' comments, a UNITS: tag on line 1.
  ParameterFileReader reader(path_, owner_);
  const std::size_t words_per_entry = 3 + value_names.size();
  std::vector<std::string> pending;
  int pending_line = 0;
  std::vector<std::string> words;
  while (reader.next_words(words)) {
    if (pending.empty()) pending_line = reader.line_number();
    pending.insert(pending.end(), words.begin(), words.end());
    if (pending.size() < words_per_entry) continue;
    if (pending.size() > words_per_entry)
      throw Error(where(pending_line) + "entry " + pending[0] + " " + pending[1] + " " +
                  pending[2] + " has " + std::to_string(pending.size()) + " words by line " +
                  std::to_string(reader.line_number()) + ", expected 3 element names and " +
                  std::to_string(value_names.size()) + " numbers");
    TripletEntry entry;
    entry.line = pending_line;
    for (int k = 0; k < 3; ++k) entry.labels[k] = pending[k];
    for (std::size_t k = 0; k < value_names.size(); ++k) {
      const std::string& text = pending[3 + k];
      errno = 0;
      char* end = nullptr;
      const double value = std::strtod(text.c_str(), &end);
      if (*end != '\0' || errno != 0 || !std::isfinite(value))
        throw Error(where(pending_line) + "'" + text + "' is not a number (" + value_names[k] +
                    " of " + pending[0] + " " + pending[1] + " " + pending[2] + ")");
      entry.values.push_back(value);
    }
    entries_.push_back(std::move(entry));
    pending.clear();
  }
  if (!pending.empty())
    throw Error(where(pending_line) +
                "the file ends inside an entry: " + std::to_string(pending.size()) + " of " +
                std::to_string(words_per_entry) + " words");
  if (entries_.empty()) throw Error(owner_ + ": " + path_.string() + " holds no parameter entries");

  for (const auto& [z, label] : aliases_)
    if (std::none_of(entries_.begin(), entries_.end(),
                     [&](const TripletEntry& e) { return e.labels[0] == label; }))
      throw Error(owner_ + ": no entry of " + path_.string() + " starts with '" + label +
                  "' (given as " + element(z).symbol + "=" + label + ")");
}

std::string TripletParameterFile::where(int line) const {
  return owner_ + ": " + path_.string() + " line " + std::to_string(line) + ": ";
}

std::string TripletParameterFile::label_of(int atomic_number) const {
  for (const auto& [z, label] : aliases_)
    if (z == atomic_number) return label;
  return element(atomic_number).symbol;
}

std::vector<int> TripletParameterFile::elements() const {
  std::set<std::string> leading;
  for (const auto& entry : entries_) leading.insert(entry.labels[0]);
  std::vector<int> numbers;
  for (int z = 1; z <= max_atomic_number; ++z)
    if (leading.count(label_of(z))) numbers.push_back(z);
  return numbers;
}

std::vector<int> TripletParameterFile::triplet_table(const std::vector<int>& species) const {
  const int n = static_cast<int>(species.size());
  std::vector<std::string> labels;
  for (int z : species) {
    labels.push_back(label_of(z));
    if (std::none_of(entries_.begin(), entries_.end(),
                     [&](const TripletEntry& e) { return e.labels[0] == labels.back(); })) {
      const std::string available = symbols_text(elements());
      throw Error(owner_ + ": element " + element(z).symbol + " is not in " + path_.string() +
                  " (it describes: " + (available.empty() ? "no known element" : available) + ")");
    }
  }
  std::vector<int> table(static_cast<std::size_t>(n) * n * n, -1);
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b)
      for (int c = 0; c < n; ++c) {
        int& slot = table[(static_cast<std::size_t>(a) * n + b) * n + c];
        for (std::size_t m = 0; m < entries_.size(); ++m) {
          const auto& entry = entries_[m];
          if (entry.labels[0] != labels[a] || entry.labels[1] != labels[b] ||
              entry.labels[2] != labels[c])
            continue;
          if (slot >= 0)
            throw Error(owner_ + ": " + path_.string() + " has two entries for " + labels[a] + " " +
                        labels[b] + " " + labels[c] + " (lines " +
                        std::to_string(entries_[slot].line) + " and " + std::to_string(entry.line) +
                        ")");
          slot = static_cast<int>(m);
        }
        if (slot < 0)
          throw Error(owner_ + ": " + path_.string() + " has no entry for " + labels[a] + " " +
                      labels[b] + " " + labels[c] +
                      " (every triplet of the elements used must be listed)");
      }
  return table;
}

}  // namespace otfgp
