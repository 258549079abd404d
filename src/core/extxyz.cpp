#include "otfgp/core/extxyz.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/extra_property.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/output_file.hpp"

namespace otfgp {

namespace {

// Per-frame results that ASE keeps on its calculator and writes after the other
// info keys, in ase.calculators.calculator.all_properties order. otfgp keeps the
// ones it does not interpret in Structure::info; writing them in ASE's place
// makes a file that ASE wrote come back unchanged.
constexpr std::array<std::string_view, 3> trailing_result_keys{"dipole", "magmom", "free_energy"};
// Keys the writer produces itself from the Structure's fields.
constexpr std::array<std::string_view, 5> written_keys{"Lattice", "Properties", "pbc", "energy",
                                                       "stress"};

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

bool is_blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return is_space(c); });
}

template <std::size_t n>
bool contains(const std::array<std::string_view, n>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// ASE splits array values on whitespace and commas ("1.0, 2.0" and "1.0 2.0" alike).
std::vector<std::string> split_value(std::string_view value) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : value) {
    if (is_space(c) || c == ',') {
      if (!current.empty()) parts.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) parts.push_back(std::move(current));
  return parts;
}

std::optional<bool> parse_logical(std::string_view token) {
  if (token == "T" || token == "True" || token == "true") return true;
  if (token == "F" || token == "False" || token == "false") return false;
  return std::nullopt;
}

// ASE capitalises species ("SI", "si" → "Si"); plain XYZ files sometimes give
// atomic numbers instead of symbols.
int parse_species(std::string_view token) {
  std::string symbol(token);
  for (std::size_t i = 0; i < symbol.size(); ++i)
    symbol[i] = static_cast<char>(i == 0 ? std::toupper(static_cast<unsigned char>(symbol[i]))
                                         : std::tolower(static_cast<unsigned char>(symbol[i])));
  if (const int z = find_atomic_number(symbol)) return z;
  if (const auto z = parse_integer(token); z && *z >= 1 && *z <= max_atomic_number)
    return static_cast<int>(*z);
  return 0;
}

enum class ColumnRole { species, atomic_number, position, force, extra };

struct ColumnSpec {
  std::string name;
  char type;
  int columns;
  ColumnRole role;
};

std::string describe(const ColumnSpec& spec) {
  return spec.name + ":" + spec.type + ":" + std::to_string(spec.columns);
}

// Parses "species:S:1:pos:R:3:..."; throws Error (the caller adds the location).
std::vector<ColumnSpec> parse_properties(const std::string& text) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  while (true) {
    const auto colon = text.find(':', start);
    fields.push_back(text.substr(start, colon == std::string::npos ? colon : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (fields.size() % 3 != 0)
    throw Error("Properties='" + text +
                "' is not a list of name:type:columns triplets (e.g. species:S:1:pos:R:3)");
  std::vector<ColumnSpec> specs;
  for (std::size_t i = 0; i < fields.size(); i += 3) {
    ColumnSpec spec;
    spec.name = fields[i];
    if (spec.name.empty()) throw Error("Properties='" + text + "' has an entry without a name");
    if (fields[i + 1].size() != 1 ||
        std::string_view("RISL").find(fields[i + 1][0]) == std::string_view::npos)
      throw Error("Properties entry '" + spec.name + "' has type '" + fields[i + 1] +
                  "'; expected R, I, S or L");
    spec.type = fields[i + 1][0];
    const auto columns = parse_integer(fields[i + 2]);
    if (!columns || *columns < 1 || *columns > 1000000)
      throw Error("Properties entry '" + spec.name + "' has column count '" + fields[i + 2] +
                  "'; expected a positive integer");
    spec.columns = static_cast<int>(*columns);
    // ASE maps species/symbols, pos/positions and Z/numbers onto the same arrays.
    if (spec.name == "species" || spec.name == "symbols") {
      spec.role = ColumnRole::species;
      if (spec.type != 'S' || spec.columns != 1)
        throw Error("Properties entry " + describe(spec) + " must be " + spec.name + ":S:1");
    } else if (spec.name == "Z" || spec.name == "numbers") {
      spec.role = ColumnRole::atomic_number;
      if (spec.type != 'I' || spec.columns != 1)
        throw Error("Properties entry " + describe(spec) + " must be " + spec.name + ":I:1");
    } else if (spec.name == "pos" || spec.name == "positions") {
      spec.role = ColumnRole::position;
      if (spec.type != 'R' || spec.columns != 3)
        throw Error("Properties entry " + describe(spec) + " must be " + spec.name + ":R:3");
    } else if (spec.name == "forces") {
      spec.role = ColumnRole::force;
      if (spec.type != 'R' || spec.columns != 3)
        throw Error("Properties entry " + describe(spec) + " must be forces:R:3");
    } else {
      spec.role = ColumnRole::extra;
      check_extra_property_name(spec.name);
    }
    for (const auto& other : specs) {
      if (other.name == spec.name) throw Error("Properties names column '" + spec.name + "' twice");
      if (other.role == spec.role && spec.role != ColumnRole::extra)
        throw Error("Properties has both '" + other.name + "' and '" + spec.name +
                    "', which mean the same column");
    }
    specs.push_back(std::move(spec));
  }
  const auto has = [&](ColumnRole role) {
    return std::any_of(specs.begin(), specs.end(),
                       [&](const ColumnSpec& spec) { return spec.role == role; });
  };
  if (!has(ColumnRole::species) && !has(ColumnRole::atomic_number))
    throw Error("Properties='" + text + "' has neither a species nor a Z column");
  if (!has(ColumnRole::position)) throw Error("Properties='" + text + "' has no pos column");
  return specs;
}

// The comment-line values otfgp interprets, parsed; the rest of the pairs stay as text.
struct FrameHeader {
  std::optional<Eigen::Matrix3d> lattice;
  std::optional<std::array<bool, 3>> pbc;
  std::optional<double> energy;
  std::optional<Voigt> stress;
  std::string properties = "species:S:1:pos:R:3";
  std::vector<std::pair<std::string, std::string>> info;
};

std::vector<double> parse_numbers(const std::string& key, const std::string& value) {
  std::vector<double> numbers;
  for (const auto& part : split_value(value)) {
    const auto number = parse_real(part);
    if (!number) throw Error(key + " has '" + part + "' where a number was expected");
    numbers.push_back(*number);
  }
  return numbers;
}

FrameHeader parse_header(const std::string& comment) {
  FrameHeader header;
  for (auto& [key, value] : parse_extxyz_comment(comment)) {
    if (key == "Lattice") {
      const auto numbers = parse_numbers(key, value);
      if (numbers.size() != 9)
        throw Error("Lattice needs 9 numbers (a, b, c vectors), found " +
                    std::to_string(numbers.size()));
      Eigen::Matrix3d cell;
      for (int i = 0; i < 9; ++i) cell(i / 3, i % 3) = numbers[i];
      header.lattice = cell;
    } else if (key == "Properties") {
      header.properties = value;
    } else if (key == "pbc") {
      const auto parts = split_value(value);
      std::vector<bool> flags;
      for (const auto& part : parts) {
        const auto flag = parse_logical(part);
        if (!flag) throw Error("pbc has '" + part + "'; expected T or F");
        flags.push_back(*flag);
      }
      if (flags.size() == 1)
        header.pbc = std::array<bool, 3>{flags[0], flags[0], flags[0]};
      else if (flags.size() == 3)
        header.pbc = std::array<bool, 3>{flags[0], flags[1], flags[2]};
      else
        throw Error("pbc needs 1 or 3 values (T or F), found " + std::to_string(flags.size()));
    } else if (key == "energy") {
      const auto energy = parse_real(value);
      if (!energy) throw Error("energy='" + value + "' is not a number");
      header.energy = *energy;
    } else if (key == "stress") {
      const auto numbers = parse_numbers(key, value);
      Voigt stress;
      if (numbers.size() == 9) {
        // ASE reads the 9 numbers as a 3×3 matrix in Fortran order, then takes
        // xx yy zz yz xz xy from it.
        stress << numbers[0], numbers[4], numbers[8], numbers[7], numbers[6], numbers[3];
      } else if (numbers.size() == 6) {
        stress << numbers[0], numbers[1], numbers[2], numbers[3], numbers[4], numbers[5];
      } else {
        throw Error("stress needs 9 numbers (3×3) or 6 (Voigt xx yy zz yz xz xy), found " +
                    std::to_string(numbers.size()));
      }
      header.stress = stress;
    } else {
      header.info.emplace_back(std::move(key), std::move(value));
    }
  }
  return header;
}

// ASE's escape(): quote a value that holds spaces, quotes or brackets. Backslashes
// are escaped too (ASE's writer leaves them bare, which its reader then drops).
std::string quote_if_needed(const std::string& text) {
  const bool needs_quotes = text.empty() || std::any_of(text.begin(), text.end(), [](char c) {
                              return is_space(c) || c == '"' || c == '\'' || c == '{' || c == '}' ||
                                     c == '[' || c == ']' || c == '\\' || c == '=';
                            });
  if (!needs_quotes) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

// Structure::validate(), except that a direction that is not periodic may have a
// zero lattice vector: ASE writes 2D slabs and wires that way.
void check_consistent(const Structure& frame) {
  const bool periodic_everywhere = frame.pbc[0] && frame.pbc[1] && frame.pbc[2];
  if (periodic_everywhere) {
    frame.validate();
    return;
  }
  if (frame.positions.rows() != frame.size())
    throw Error("structure has " + std::to_string(frame.size()) + " atomic numbers but " +
                std::to_string(frame.positions.rows()) + " positions");
  if (frame.forces && frame.forces->rows() != frame.size())
    throw Error("structure has " + std::to_string(frame.size()) + " atoms but " +
                std::to_string(frame.forces->rows()) + " force rows");
  for (int z : frame.numbers) element(z);
  frame.validate_numbers();
  const char* names[3] = {"a", "b", "c"};
  for (int i = 0; i < 3; ++i)
    if (frame.pbc[i] && frame.cell.row(i).isZero(0.0))
      throw Error(std::string("the structure is periodic along ") + names[i] +
                  " but lattice vector " + names[i] + " is zero");
}

void check_writable(const Structure& frame) {
  check_consistent(frame);
  for (const auto& [key, value] : frame.info) {
    if (contains(written_keys, key))
      throw Error("info key '" + key +
                  "' would clash with the key otfgp writes from the structure itself");
    if (key.empty()) throw Error("info has an entry with an empty key");
    const auto has_line_break = [](const std::string& text) {
      return text.find_first_of("\n\r") != std::string::npos;
    };
    if (has_line_break(key) || has_line_break(value))
      throw Error("info entry '" + key + "' contains a line break");
  }
  const auto atoms = static_cast<std::size_t>(frame.size());
  for (std::size_t i = 0; i < frame.extra_properties.size(); ++i) {
    const auto& property = frame.extra_properties[i];
    check_extra_property_name(property.name);
    for (std::size_t j = 0; j < i; ++j)
      if (frame.extra_properties[j].name == property.name)
        throw Error("per-atom property '" + property.name + "' appears twice");
    if (std::string_view("RISL").find(property.type) == std::string_view::npos)
      throw Error("per-atom property '" + property.name + "' has type '" +
                  std::string(1, property.type) + "'; expected R, I, S or L");
    if (property.columns < 1 ||
        property.values.size() != atoms * static_cast<std::size_t>(property.columns))
      throw Error("per-atom property '" + property.name + "' has " +
                  std::to_string(property.values.size()) + " values for " + std::to_string(atoms) +
                  " atoms × " + std::to_string(property.columns) + " columns");
    for (const auto& value : property.values)
      if (value.empty() || std::any_of(value.begin(), value.end(), [](char c) {
            return is_space(c) || !std::isprint(static_cast<unsigned char>(c));
          }))
        throw Error("per-atom property '" + property.name + "' has the value '" + value +
                    "', which is empty or contains spaces");
  }
}

std::string pad_left(const std::string& text, std::size_t width) {
  return text.size() >= width ? text : std::string(width - text.size(), ' ') + text;
}

std::string join_reals(const double* values, int count) {
  std::string text;
  for (int i = 0; i < count; ++i) {
    if (i) text += ' ';
    text += format_real(values[i]);
  }
  return text;
}

// A real column: one space, then the shortest round-trip text right-aligned.
constexpr std::size_t real_width = 22;

void write_frame(std::ostream& output, const Structure& frame) {
  check_writable(frame);
  const int atoms = frame.size();

  std::string properties = "species:S:1:pos:R:3";
  for (const auto& property : frame.extra_properties)
    properties +=
        ":" + property.name + ":" + property.type + ":" + std::to_string(property.columns);
  if (frame.forces) properties += ":forces:R:3";

  std::string comment;
  if (!frame.cell.isZero(0.0)) {
    std::array<double, 9> lattice;
    for (int i = 0; i < 9; ++i) lattice[i] = frame.cell(i / 3, i % 3);
    comment += "Lattice=\"" + join_reals(lattice.data(), 9) + "\" ";
  }
  comment += "Properties=" + properties;
  const auto add_pair = [&](const std::string& key, const std::string& value) {
    comment += " " + quote_if_needed(key) + "=" + quote_if_needed(value);
  };
  for (const auto& [key, value] : frame.info)
    if (!contains(trailing_result_keys, key) && !value.empty()) add_pair(key, value);
  if (frame.energy) add_pair("energy", format_real(*frame.energy));
  if (frame.stress) {
    // ASE writes the symmetric 3×3 matrix in Fortran order.
    const Voigt& s = *frame.stress;
    const std::array<double, 9> matrix{s[0], s[5], s[4], s[5], s[1], s[3], s[4], s[3], s[2]};
    add_pair("stress", join_reals(matrix.data(), 9));
  }
  for (const auto& result_key : trailing_result_keys)
    for (const auto& [key, value] : frame.info)
      if (key == result_key) add_pair(key, value);
  comment += std::string(" pbc=\"") + (frame.pbc[0] ? "T" : "F") + (frame.pbc[1] ? " T" : " F") +
             (frame.pbc[2] ? " T" : " F") + "\"";
  // ASE's parser lets an empty value swallow the next key, so empty values go last.
  for (const auto& [key, value] : frame.info)
    if (!contains(trailing_result_keys, key) && value.empty()) add_pair(key, value);

  std::string text = std::to_string(atoms) + "\n" + comment + "\n";
  for (int atom = 0; atom < atoms; ++atom) {
    std::string line = element(frame.numbers[atom]).symbol;
    if (line.size() < 2) line += ' ';
    for (int k = 0; k < 3; ++k)
      line += " " + pad_left(format_real(frame.positions(atom, k)), real_width - 1);
    for (const auto& property : frame.extra_properties) {
      for (int k = 0; k < property.columns; ++k) {
        const auto& value = property.values[static_cast<std::size_t>(atom) * property.columns + k];
        const std::size_t width =
            property.type == 'R' ? real_width - 1 : (property.type == 'I' ? 7 : 0);
        line += " " + pad_left(value, width);
      }
    }
    if (frame.forces)
      for (int k = 0; k < 3; ++k)
        line += " " + pad_left(format_real((*frame.forces)(atom, k)), real_width - 1);
    text += line + "\n";
  }
  output << text;
}

// ASE's vec_cell variant: lattice vectors as pseudo-atoms VEC1..VEC3 after the atoms.
struct VecCell {
  Eigen::Matrix3d cell = Eigen::Matrix3d::Zero();
  std::array<bool, 3> pbc{false, false, false};
  int vectors = 0;
};

VecCell read_vec_lines(LineReader& lines, const std::string& frame_name) {
  VecCell vec;
  std::string line;
  while (lines.next(line)) {
    const auto tokens = split_whitespace(line);
    if (tokens.empty() || tokens[0].substr(0, 3) != "VEC") {
      lines.unread();
      break;
    }
    const int vectors = vec.vectors;
    if (vectors == 3) throw lines.error("more than 3 VEC lines after " + frame_name);
    if (tokens[0] != "VEC" + std::to_string(vectors + 1) || tokens.size() != 4)
      throw lines.error("expected 'VEC" + std::to_string(vectors + 1) + " x y z', found '" + line +
                        "'");
    for (int k = 0; k < 3; ++k) {
      const auto value = parse_real(tokens[1 + k]);
      if (!value)
        throw lines.error("VEC" + std::to_string(vectors + 1) + " has '" +
                          std::string(tokens[1 + k]) + "' where a number was expected");
      vec.cell(vectors, k) = *value;
    }
    vec.pbc[vectors] = true;
    ++vec.vectors;
  }
  return vec;
}

// With VEC lines the comment line is plain text (as ASE reads it).
FrameHeader plain_comment_header(std::string_view text) {
  FrameHeader header;
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  header.info.emplace_back("comment", std::string(text));
  return header;
}

// Whether one token of an extra column has the column's type.
bool valid_extra_value(char type, std::string_view value) {
  return type == 'R'   ? parse_real(value).has_value()
         : type == 'I' ? parse_integer(value).has_value()
         : type == 'L' ? parse_logical(value).has_value()
                       : true;
}

// The per-atom columns of one frame, filled atom line by atom line. Errors
// name the atom and the column; the caller adds the file and line.
class AtomColumns {
 public:
  AtomColumns(int atoms, const std::vector<ColumnSpec>& specs) : atoms_(atoms) {
    result_.numbers.assign(atoms, 0);
    result_.positions.setZero(atoms, 3);
    for (const auto& spec : specs) {
      expected_tokens_ += spec.columns;
      if (spec.role == ColumnRole::force) {
        forces_.setZero(atoms, 3);
        has_forces_ = true;
      }
      if (spec.role == ColumnRole::atomic_number) atomic_numbers_from_z_.assign(atoms, 0);
      if (spec.role == ColumnRole::extra) {
        ExtraProperty property;
        property.name = spec.name;
        property.type = spec.type;
        property.columns = spec.columns;
        property.values.reserve(static_cast<std::size_t>(atoms) * spec.columns);
        result_.extra_properties.push_back(std::move(property));
      }
    }
  }

  void parse(int atom, const std::string& line, const std::vector<ColumnSpec>& specs,
             const std::string& properties) {
    const auto tokens = split_whitespace(line);
    if (static_cast<int>(tokens.size()) != expected_tokens_)
      throw Error("expected " + std::to_string(expected_tokens_) +
                  " columns (Properties=" + properties + ") for atom " + std::to_string(atom + 1) +
                  " of " + std::to_string(atoms_) + ", found " + std::to_string(tokens.size()));
    std::size_t token = 0, extra = 0;
    for (const auto& spec : specs) {
      parse_column(atom, spec, &tokens[token], extra);
      token += spec.columns;
    }
  }

  // The frame's atoms; as in ASE, a Z column overrides the species column.
  Structure structure() {
    if (!atomic_numbers_from_z_.empty()) result_.numbers = atomic_numbers_from_z_;
    if (has_forces_) result_.forces = std::move(forces_);
    return std::move(result_);
  }

 private:
  double real(int atom, const ColumnSpec& spec, std::string_view token) const {
    const auto value = parse_real(token);
    if (!value)
      throw Error("column '" + spec.name + "' of atom " + std::to_string(atom + 1) + " has '" +
                  std::string(token) + "' where a number was expected");
    return *value;
  }

  // A position or force: nan or inf here is refused on the atom's own line.
  double finite(int atom, const ColumnSpec& spec, std::string_view token) const {
    const double value = real(atom, spec, token);
    if (!std::isfinite(value))
      throw Error("column '" + spec.name + "' of atom " + std::to_string(atom + 1) + " has '" +
                  std::string(token) + "': positions and forces must be finite");
    return value;
  }

  void parse_column(int atom, const ColumnSpec& spec, const std::string_view* tokens,
                    std::size_t& extra) {
    switch (spec.role) {
      case ColumnRole::species: {
        const int z = parse_species(tokens[0]);
        if (z == 0)
          throw Error(unknown_element_text(tokens[0]) + " for atom " + std::to_string(atom + 1));
        result_.numbers[atom] = z;
        break;
      }
      case ColumnRole::atomic_number: {
        const auto z = parse_integer(tokens[0]);
        if (!z || *z < 1 || *z > max_atomic_number)
          throw Error("column '" + spec.name + "' of atom " + std::to_string(atom + 1) + " has '" +
                      std::string(tokens[0]) + "'; expected an atomic number from 1 to " +
                      std::to_string(max_atomic_number));
        atomic_numbers_from_z_[atom] = static_cast<int>(*z);
        break;
      }
      case ColumnRole::position:
        for (int k = 0; k < 3; ++k) result_.positions(atom, k) = finite(atom, spec, tokens[k]);
        break;
      case ColumnRole::force:
        for (int k = 0; k < 3; ++k) forces_(atom, k) = finite(atom, spec, tokens[k]);
        break;
      case ColumnRole::extra:
        for (int k = 0; k < spec.columns; ++k) {
          if (!valid_extra_value(spec.type, tokens[k]))
            throw Error("column '" + spec.name + "' of atom " + std::to_string(atom + 1) +
                        " has '" + std::string(tokens[k]) + "'; expected " +
                        (spec.type == 'R'   ? "a real number"
                         : spec.type == 'I' ? "an integer"
                                            : "T or F"));
          result_.extra_properties[extra].values.emplace_back(tokens[k]);
        }
        ++extra;
        break;
    }
  }

  int atoms_;
  int expected_tokens_ = 0;
  Structure result_;
  Positions forces_;
  bool has_forces_ = false;
  std::vector<int> atomic_numbers_from_z_;
};

// The cell from the Lattice key, else from VEC lines, else none.
void set_cell(Structure& result, const FrameHeader& header, const VecCell& vec) {
  if (header.lattice) {
    result.cell = *header.lattice;
    result.pbc = header.pbc.value_or(std::array<bool, 3>{true, true, true});
  } else if (vec.vectors > 0) {
    result.cell = vec.cell;
    result.pbc = vec.pbc;
  } else {
    result.cell.setZero();
    result.pbc = header.pbc.value_or(std::array<bool, 3>{false, false, false});
  }
}

}  // namespace

std::vector<std::pair<std::string, std::string>> parse_extxyz_comment(std::string_view line) {
  // A pair is a list of parts: the key, then one part per '=' (joined back with '=').
  std::vector<std::vector<std::string>> pairs(1, std::vector<std::string>(1));
  // Whether the current part has begun: an empty quoted value ("") counts as begun.
  bool part_started = false;
  char closing = 0;
  bool escaped = false;
  while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
  while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
  for (char c : line) {
    if (escaped) {
      pairs.back().back() += c;
      part_started = true;
      escaped = false;
    } else if (c == '\\') {
      escaped = true;
    } else if (closing) {
      if (c == closing)
        closing = 0;
      else
        pairs.back().back() += c;
    } else if (c == '"' || c == '\'' || c == '{' || c == '[') {
      closing = c == '{' ? '}' : (c == '[' ? ']' : c);
      part_started = true;
    } else if (is_space(c)) {
      if (!part_started) continue;
      pairs.emplace_back(1);
      part_started = false;
    } else if (c == '=') {
      // "key = value": the space after the key opened an empty pair; drop it.
      if (pairs.back().size() == 1 && !part_started) pairs.pop_back();
      if (pairs.empty()) throw Error("the comment line starts with '=' (a value without a key)");
      pairs.back().emplace_back();
      part_started = false;
    } else {
      pairs.back().back() += c;
      part_started = true;
    }
  }
  if (closing) throw Error(std::string("a quoted value is not closed (missing ") + closing + ")");

  std::vector<std::pair<std::string, std::string>> result;
  for (auto& parts : pairs) {
    if (parts.size() == 1 && parts[0].empty()) continue;  // empty line
    std::string key = std::move(parts[0]);
    std::string value = "T";
    if (parts.size() > 1) {
      value = parts[1];
      for (std::size_t i = 2; i < parts.size(); ++i) value += "=" + parts[i];
    }
    if (key.empty()) throw Error("the comment line has a value ('" + value + "') without a key");
    const auto existing = std::find_if(result.begin(), result.end(),
                                       [&](const auto& pair) { return pair.first == key; });
    if (existing != result.end())
      existing->second = std::move(value);
    else
      result.emplace_back(std::move(key), std::move(value));
  }
  return result;
}

ExtxyzReader::ExtxyzReader(const std::filesystem::path& path) : lines_(path) {}

ExtxyzReader::ExtxyzReader(std::istream& input, std::string source)
    : lines_(input, std::move(source)) {}

bool ExtxyzReader::next(Structure& frame) {
  std::string line;
  // ASE stops at the first blank line where a frame should start; otfgp skips
  // blank lines between frames instead, so concatenated files read completely.
  do {
    if (!lines_.next(line)) return false;
  } while (is_blank(line));

  const int first_line = lines_.line_number();
  const auto count_tokens = split_whitespace(line);
  const auto count = count_tokens.size() == 1 ? parse_integer(count_tokens[0]) : std::nullopt;
  if (!count || *count < 0 || *count > 1000000000)
    throw lines_.error("expected the number of atoms of frame " + std::to_string(frames_read_ + 1) +
                       ", found '" + line + "'");
  const int atoms = static_cast<int>(*count);
  const std::string frame_name =
      "frame " + std::to_string(frames_read_ + 1) + " (line " + std::to_string(first_line) + ")";

  std::string comment;
  if (!lines_.next(comment))
    throw lines_.error_at(first_line + 1, "the file ends before the comment line of " + frame_name);
  const int comment_line = lines_.line_number();

  // The atom lines are held until we know whether VEC lines follow them: with
  // VEC lines ASE takes the comment line as plain text, not as key=value pairs.
  // Grown line by line: a corrupt atom count must not allocate memory up front.
  std::vector<std::string> atom_lines;
  for (int atom = 0; atom < atoms; ++atom)
    if (!lines_.next(atom_lines.emplace_back()))
      throw lines_.error_at(lines_.line_number() + 1,
                            "the file ends after " + std::to_string(atom) + " of " +
                                std::to_string(atoms) + " atom lines of " + frame_name);
  const VecCell vec = read_vec_lines(lines_, frame_name);

  FrameHeader header;
  std::vector<ColumnSpec> specs;
  try {
    header = vec.vectors > 0 ? plain_comment_header(comment) : parse_header(comment);
    specs = parse_properties(header.properties);
  } catch (const Error& error) {
    throw lines_.error_at(comment_line, error.what());
  }

  AtomColumns columns(atoms, specs);
  for (int atom = 0; atom < atoms; ++atom) {
    try {
      columns.parse(atom, atom_lines[atom], specs, header.properties);
    } catch (const Error& error) {
      throw lines_.error_at(comment_line + 1 + atom, error.what());
    }
  }
  Structure result = columns.structure();
  set_cell(result, header, vec);
  result.energy = header.energy;
  result.stress = header.stress;
  result.info = std::move(header.info);
  const bool periodic = result.pbc[0] || result.pbc[1] || result.pbc[2];
  if (periodic && !header.lattice && vec.vectors == 0)
    throw lines_.error_at(comment_line, "pbc is periodic but the comment line gives no Lattice");
  try {
    check_consistent(result);
  } catch (const Error& error) {
    throw lines_.error_at(comment_line, std::string(error.what()) + " in " + frame_name);
  }
  frame = std::move(result);
  ++frames_read_;
  return true;
}

std::vector<Structure> read_extxyz(const std::filesystem::path& path) {
  ExtxyzReader reader(path);
  std::vector<Structure> frames;
  Structure frame;
  while (reader.next(frame)) frames.push_back(std::move(frame));
  return frames;
}

std::vector<Structure> read_extxyz(std::istream& input, const std::string& source) {
  ExtxyzReader reader(input, source);
  std::vector<Structure> frames;
  Structure frame;
  while (reader.next(frame)) frames.push_back(std::move(frame));
  return frames;
}

void write_extxyz(std::ostream& output, const Structure& frame) {
  write_frame(output, frame);
}

void write_extxyz(std::ostream& output, const std::vector<Structure>& frames) {
  for (const auto& frame : frames) write_frame(output, frame);
}

void write_extxyz(const std::filesystem::path& path, const std::vector<Structure>& frames,
                  bool append) {
  if (!append) {
    OutputFile file(path);
    write_extxyz(file.stream(), frames);
    file.commit();
    return;
  }
  // Format everything first so that a bad frame leaves the file untouched.
  std::ostringstream text;
  write_extxyz(text, frames);
  const std::string& content = text.str();
  const auto directory = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::error_code error;
  if (!std::filesystem::is_directory(directory, error))
    throw Error("cannot write '" + path.string() + "': directory '" + directory.string() +
                "' does not exist");
  if (std::filesystem::is_directory(path, error))
    throw Error("cannot write '" + path.string() + "': it is a directory");
  const bool existed = std::filesystem::exists(path, error);
  const auto old_size = existed ? std::filesystem::file_size(path, error) : 0;
  // The frame goes out in one write() call (looping only on a short write): a
  // process killed while appending leaves either the whole frame or none of
  // it, so readers of a growing trajectory never meet half a frame.
  const int descriptor = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (descriptor < 0) throw Error("cannot append to '" + path.string() + "': permission denied");
  bool good = true;
  int cause = 0;
  for (std::size_t written = 0; written < content.size();) {
    const ssize_t count = ::write(descriptor, content.data() + written, content.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) {
      good = false;
      cause = count < 0 ? errno : ENOSPC;
      break;
    }
    written += static_cast<std::size_t>(count);
  }
  if (::close(descriptor) != 0 && good) {
    good = false;
    cause = errno;
  }
  if (!good) {
    std::error_code ignored;
    if (existed)
      std::filesystem::resize_file(path, old_size, ignored);
    else
      std::filesystem::remove(path, ignored);
    throw Error("appending to '" + path.string() + "' failed: " + write_failure(cause) +
                "; the file is unchanged");
  }
}

void write_extxyz(const std::filesystem::path& path, const Structure& frame, bool append) {
  write_extxyz(path, std::vector<Structure>{frame}, append);
}

}  // namespace otfgp
