#include "otfgp/analysis/phase_table.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "otfgp/core/error.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/units.hpp"

namespace otfgp {

namespace {

const std::vector<std::string> known_columns = {
    "id", "formula", "energy", "energy_per_atom", "volume", "volume_per_atom", "std"};

std::string known_columns_text() {
  std::string text;
  for (const auto& name : known_columns) text += (text.empty() ? "" : ", ") + name;
  return text;
}

// One CSV line into fields: commas separate, double quotes protect commas, "" is a quote.
std::vector<std::string> split_csv_line(const std::string& line, const std::string& where) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(trim_blanks(field));
      field.clear();
    } else {
      field += c;
    }
  }
  if (quoted) throw Error(where + ": a quoted field is never closed");
  fields.push_back(trim_blanks(field));
  return fields;
}

// A number cell: empty or "nan" is absent (nullopt) unless it must be given.
std::optional<double> parse_cell_number(const std::string& text, const std::string& where,
                                        const std::string& column) {
  const std::string value = trim_blanks(text);
  if (value.empty() || ascii_lower(value) == "nan") return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const double number = std::strtod(value.c_str(), &end);
  if (*end != '\0' || errno != 0)
    throw Error(where + ": column '" + column + "' is not a number: '" + value + "'");
  return number;
}

// Values of one row or object, as text or number, before they become a record.
struct RawRow {
  std::string where;  // "file.csv line 3"
  std::map<std::string, std::optional<double>> numbers;
  std::optional<std::string> id;
  std::optional<std::string> formula;
};

PhaseRecord make_record(const RawRow& row, std::size_t index) {
  if (!row.formula || row.formula->empty()) throw Error(row.where + ": no formula");
  PhaseRecord record;
  try {
    record.composition = parse_formula(*row.formula);
  } catch (const Error& error) {
    throw Error(row.where + ": " + error.what());
  }
  record.id = row.id && !row.id->empty() ? *row.id : *row.formula + "@" + std::to_string(index + 1);
  record.source = row.where;
  const double atoms = record.composition.total();
  auto value = [&](const std::string& key) -> std::optional<double> {
    const auto found = row.numbers.find(key);
    return found == row.numbers.end() ? std::nullopt : found->second;
  };
  // A table may have both columns, each row giving one (an empty cell, nan
  // or null leaves a value out).
  const auto total = value("energy"), per_atom = value("energy_per_atom");
  if (total && per_atom)
    throw Error(row.where + ": give either 'energy' or 'energy_per_atom', not both");
  if (row.numbers.count("energy") == 0 && row.numbers.count("energy_per_atom") == 0)
    throw Error(row.where + ": no 'energy' or 'energy_per_atom'");
  record.energy_per_atom = total      ? *total / atoms
                           : per_atom ? *per_atom
                                      : std::numeric_limits<double>::quiet_NaN();
  const auto volume = value("volume"), volume_per_atom = value("volume_per_atom");
  if (volume && volume_per_atom)
    throw Error(row.where + ": give either 'volume' or 'volume_per_atom', not both");
  if (volume) record.volume_per_atom = *volume / atoms;
  if (volume_per_atom) record.volume_per_atom = *volume_per_atom;
  if (record.volume_per_atom &&
      !(std::isfinite(*record.volume_per_atom) && *record.volume_per_atom > 0))
    throw Error(row.where + ": the volume must be positive");
  // The hull refuses numbers beyond these (no energy per atom is that large);
  // say so here, where the file and line are known.
  constexpr double max_magnitude = 1e6;
  if (record.volume_per_atom && *record.volume_per_atom > max_magnitude)
    throw Error(row.where + ": the volume per atom exceeds 1e6 Å³ (wrong units?)");
  if (std::abs(record.energy_per_atom) > max_magnitude)  // inf too; nan is a missing value
    throw Error(row.where + ": the energy per atom is beyond ±1e6 eV (wrong units?)");
  record.std_per_atom = value("std");
  if (record.std_per_atom && *record.std_per_atom > max_magnitude)
    throw Error(row.where + ": 'std' is beyond 1e6 eV/atom (wrong units?)");
  if (record.std_per_atom && !(std::isfinite(*record.std_per_atom) && *record.std_per_atom >= 0))
    throw Error(row.where + ": 'std' must be a non-negative number of eV/atom");
  return record;
}

std::vector<PhaseRecord> read_csv(const std::filesystem::path& path, std::istream& stream) {
  const std::string name = path.filename().string();
  std::vector<std::string> header;
  std::vector<PhaseRecord> records;
  std::string line;
  int line_number = 0;
  while (std::getline(stream, line)) {
    ++line_number;
    // A UTF-8 byte-order mark (spreadsheet exports) is not part of the first column's name.
    if (line_number == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
    const std::string trimmed = trim_blanks(line);
    if (trimmed.empty() || trimmed[0] == '#') continue;
    const std::string where = name + " line " + std::to_string(line_number);
    auto fields = split_csv_line(trimmed, where);
    if (header.empty()) {
      for (auto& field : fields) {
        field = ascii_lower(field);
        if (std::find(known_columns.begin(), known_columns.end(), field) == known_columns.end())
          throw Error(where + ": unknown column '" + field + "' (known: " + known_columns_text() +
                      ")");
        if (std::count(header.begin(), header.end(), field))
          throw Error(where + ": column '" + field + "' appears twice");
        header.push_back(field);
      }
      if (std::find(header.begin(), header.end(), "formula") == header.end())
        throw Error(where + ": the header has no 'formula' column (known: " + known_columns_text() +
                    ")");
      continue;
    }
    if (fields.size() != header.size())
      throw Error(where + ": " + std::to_string(fields.size()) + " fields, but the header has " +
                  std::to_string(header.size()));
    RawRow row;
    row.where = where;
    for (std::size_t c = 0; c < header.size(); ++c) {
      if (header[c] == "id")
        row.id = fields[c];
      else if (header[c] == "formula")
        row.formula = fields[c];
      else
        row.numbers[header[c]] = parse_cell_number(fields[c], where, header[c]);
    }
    records.push_back(make_record(row, records.size()));
  }
  if (header.empty()) throw Error(name + ": empty table (no header line)");
  return records;
}

std::vector<PhaseRecord> read_json(const std::filesystem::path& path, std::istream& stream) {
  const std::string name = path.filename().string();
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(stream);
  } catch (const nlohmann::json::exception& error) {
    throw Error(name + ": not valid JSON: " + error.what());
  }
  const nlohmann::json* list = &document;
  if (document.is_object()) {
    if (!document.contains("entries"))
      throw Error(name + ": expected a list of entries or an object with \"entries\"");
    list = &document["entries"];
  }
  if (!list->is_array()) throw Error(name + ": \"entries\" must be a list");
  std::vector<PhaseRecord> records;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto& item = (*list)[i];
    const std::string where = name + " entry " + std::to_string(i + 1);
    if (!item.is_object()) throw Error(where + ": expected an object");
    RawRow row;
    row.where = where;
    for (const auto& [key, value] : item.items()) {
      if (std::find(known_columns.begin(), known_columns.end(), key) == known_columns.end())
        throw Error(where + ": unknown key '" + key + "' (known: " + known_columns_text() + ")");
      if (key == "id" || key == "formula") {
        if (!value.is_string() && !(key == "id" && value.is_number_integer()))
          throw Error(where + ": '" + key + "' must be a string");
        (key == "id" ? row.id : row.formula) =
            value.is_string() ? value.get<std::string>() : value.dump();
      } else if (value.is_null()) {
        row.numbers[key] = std::nullopt;
      } else if (value.is_number()) {
        row.numbers[key] = value.get<double>();
      } else if (value.is_string()) {
        row.numbers[key] = parse_cell_number(value.get<std::string>(), where, key);
      } else {
        throw Error(where + ": '" + key + "' must be a number");
      }
    }
    records.push_back(make_record(row, i));
  }
  return records;
}

}  // namespace

std::vector<PhaseRecord> read_phase_table(const std::filesystem::path& path) {
  std::ifstream stream(path);
  if (!stream) throw Error("cannot read '" + path.string() + "'");
  const std::string extension = ascii_lower(path.extension().string());
  std::vector<PhaseRecord> records;
  if (extension == ".csv")
    records = read_csv(path, stream);
  else if (extension == ".json")
    records = read_json(path, stream);
  else
    throw Error("'" + path.string() + "': a phase table must end in .csv or .json");
  if (records.empty()) throw Error("'" + path.string() + "' has no entries");
  check_unique_ids(records);
  return records;
}

void check_unique_ids(const std::vector<PhaseRecord>& records) {
  std::map<std::string, const PhaseRecord*> seen;
  for (const auto& record : records) {
    const auto [found, inserted] = seen.emplace(record.id, &record);
    if (!inserted)
      throw Error("entry id '" + record.id + "' is used twice (" + found->second->source + " and " +
                  record.source + ")");
  }
}

double enthalpy_per_atom(const PhaseRecord& record, double pressure_gpa) {
  if (pressure_gpa == 0.0) return record.energy_per_atom;
  if (!record.volume_per_atom)
    throw Error("entry '" + record.id + "' (" + record.source +
                ") has no volume, but H = E + PV at " + std::to_string(pressure_gpa) +
                " GPa needs one: add a 'volume' or 'volume_per_atom' column");
  return record.energy_per_atom + pressure_gpa * units::gpa_in_ev_per_a3 * *record.volume_per_atom;
}

std::vector<HullEntry> hull_entries_at(const std::vector<PhaseRecord>& records,
                                       double pressure_gpa) {
  std::vector<HullEntry> entries;
  entries.reserve(records.size());
  for (const auto& record : records)
    entries.push_back({record.id, record.composition, enthalpy_per_atom(record, pressure_gpa),
                       record.std_per_atom});
  return entries;
}

}  // namespace otfgp
