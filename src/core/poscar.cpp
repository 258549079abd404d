#include "otfgp/core/poscar.hpp"

#include <fmt/format.h>
#include <Eigen/LU>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/extra_property.hpp"
#include "otfgp/core/line_reader.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/output_file.hpp"

namespace otfgp {

namespace {

// Text before a '!' or '#' comment.
std::string_view without_comment(std::string_view line) {
  const auto mark = line.find_first_of("!#");
  return mark == std::string_view::npos ? line : line.substr(0, mark);
}

std::string next_line(LineReader& lines, const std::string& expected) {
  std::string line;
  if (!lines.next(line))
    throw lines.error_at(lines.line_number() + 1,
                         "the file ends where " + expected + " was expected");
  return line;
}

// POTCAR labels in VASP 5 species lines: "Si", "Si_pv", "Fe/5a2b1c" (VASP ≥ 5.4),
// spelled in any case.
int species_from_label(std::string_view label) {
  const auto cut = label.find_first_of("_/.");
  std::string symbol(label.substr(0, cut));
  for (std::size_t i = 0; i < symbol.size(); ++i)
    symbol[i] = static_cast<char>(i == 0 ? std::toupper(static_cast<unsigned char>(symbol[i]))
                                         : std::tolower(static_cast<unsigned char>(symbol[i])));
  return find_atomic_number(symbol);
}

// VASP 4 convention (as ASE reads it): the title names the elements in order,
// either as words ("Ba Rh O") or as a formula ("BaRhO3"). Words that are not
// made only of element symbols are skipped; '_' also separates words, so that
// "BaRhO3_relaxed" gives Ba, Rh, O (ASE only handles that form via POTCAR).
std::vector<int> species_from_title(std::string title) {
  std::replace(title.begin(), title.end(), '_', ' ');
  std::vector<int> species;
  for (const auto word : split_whitespace(title)) {
    std::string letters;
    for (char c : word)
      if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == ',' || c == '.' ||
            c == '='))
        letters += c;
    std::vector<int> word_species;
    std::size_t i = 0;
    bool valid = !letters.empty();
    while (valid && i < letters.size()) {
      if (!std::isupper(static_cast<unsigned char>(letters[i]))) {
        valid = false;
        break;
      }
      std::size_t length = 1;
      if (i + 1 < letters.size() && std::islower(static_cast<unsigned char>(letters[i + 1])))
        length = 2;
      const int z = find_atomic_number(std::string_view(letters).substr(i, length));
      if (z == 0) valid = false;
      word_species.push_back(z);
      i += length;
    }
    if (valid) species.insert(species.end(), word_species.begin(), word_species.end());
  }
  return species;
}

// Scaling factor: one number (negative: the wanted volume), or three per-axis factors.
std::vector<double> read_scale(LineReader& lines) {
  const std::string line = next_line(lines, "the scaling factor");
  const auto scale_tokens = split_whitespace(without_comment(line));
  std::vector<double> scale;
  for (std::size_t i = 0; i < scale_tokens.size() && i < 3; ++i) {
    const auto value = parse_real(scale_tokens[i]);
    if (!value) break;
    scale.push_back(*value);
  }
  if (scale.empty())
    throw lines.error("expected the scaling factor (a number), found '" + line + "'");
  if (scale.size() == 2) scale.resize(1);
  if (scale.size() == 3 &&
      std::any_of(scale.begin(), scale.end(), [](double s) { return !(s > 0); }))
    throw lines.error("three scaling factors must all be positive");
  if (scale.size() == 1 && (scale[0] == 0.0 || !std::isfinite(scale[0])))
    throw lines.error("the scaling factor must be a nonzero number, found '" + line + "'");
  return scale;
}

Eigen::Matrix3d read_lattice(LineReader& lines) {
  Eigen::Matrix3d lattice;
  const char* vector_names[3] = {"a", "b", "c"};
  for (int row = 0; row < 3; ++row) {
    const std::string line = next_line(lines, std::string("lattice vector ") + vector_names[row]);
    const auto tokens = split_whitespace(line);
    for (int k = 0; k < 3; ++k) {
      const auto value = k < static_cast<int>(tokens.size()) ? parse_real(tokens[k]) : std::nullopt;
      if (!value)
        throw lines.error(std::string("expected 3 numbers for lattice vector ") +
                          vector_names[row] + ", found '" + line + "'");
      lattice(row, k) = *value;
    }
  }
  return lattice;
}

struct SpeciesCounts {
  std::vector<int> species;  // atomic number per group
  std::vector<int> counts;   // atoms per group
  int atoms = 0;
};

// Atomic numbers of options.species; throws naming the file.
std::vector<int> given_species(const LineReader& lines, const PoscarReadOptions& options) {
  std::vector<int> given;
  for (const auto& symbol : options.species) {
    const int z = find_atomic_number(symbol);
    if (z == 0)
      throw Error(unknown_element_text(symbol) + " in the species given for '" + lines.source() +
                  "'");
    given.push_back(z);
  }
  return given;
}

// Species line (VASP 5) or straight to the counts (VASP 4); without a species
// line the species come from the options or the title.
SpeciesCounts read_species_and_counts(LineReader& lines, const std::string& title,
                                      const PoscarReadOptions& options) {
  SpeciesCounts result;
  std::vector<int>& species = result.species;
  std::string line = next_line(lines, "the species or the atom counts");
  auto tokens = split_whitespace(without_comment(line));
  if (tokens.empty())
    throw lines.error("expected the species or the atom counts, found an empty line");
  int species_line = 0;
  if (!parse_integer(tokens[0])) {
    species_line = lines.line_number();
    for (const auto token : tokens) {
      const int z = species_from_label(token);
      if (z == 0) throw lines.error(unknown_element_text(token) + " in the species line");
      species.push_back(z);
    }
    line = next_line(lines, "the atom counts");
    tokens = split_whitespace(without_comment(line));
  }
  for (const auto token : tokens) {
    const auto count = parse_integer(token);
    if (!count || *count < 0 || *count > 100000000)
      throw lines.error("expected atom counts (non-negative integers), found '" +
                        std::string(token) + "'");
    result.counts.push_back(static_cast<int>(*count));
  }
  const std::vector<int>& counts = result.counts;
  const int counts_line = lines.line_number();
  for (int count : counts) result.atoms += count;
  if (result.atoms == 0) throw lines.error("the atom counts add up to zero atoms");

  const std::vector<int> given = given_species(lines, options);
  if (species_line != 0) {
    if (species.size() != counts.size())
      throw lines.error_at(counts_line, "the species line names " + std::to_string(species.size()) +
                                            " elements but this line gives " +
                                            std::to_string(counts.size()) + " counts");
    if (!given.empty() && given != species)
      throw lines.error_at(species_line, "the species line disagrees with the species given (" +
                                             std::to_string(given.size()) + " elements)");
  } else if (!given.empty()) {
    if (given.size() != counts.size())
      throw lines.error_at(counts_line, std::to_string(given.size()) +
                                            " species were given but this line has " +
                                            std::to_string(counts.size()) + " counts");
    species = given;
  } else {
    species = species_from_title(title);
    if (species.size() < counts.size())
      throw lines.error_at(1, "this VASP 4 file has no species line and the title '" + title +
                                  "' does not name the " + std::to_string(counts.size()) +
                                  " elements in order; add a species line or give the species");
    species.resize(counts.size());
  }
  return result;
}

char first_letter(const std::string& text) {
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c)))
      return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return '\0';
}

// Optional "Selective dynamics", then the coordinate mode; true for Cartesian.
bool read_coordinate_mode(LineReader& lines, bool& selective) {
  std::string line = next_line(lines, "'Direct' or 'Cartesian'");
  selective = first_letter(line) == 's';
  if (selective) line = next_line(lines, "'Direct' or 'Cartesian'");
  const char mode = first_letter(line);
  if (mode != 'd' && mode != 'c' && mode != 'k')
    throw lines.error("expected 'Direct' or 'Cartesian', found '" + line + "'");
  return mode == 'c' || mode == 'k';
}

// The coordinate lines as read (atoms × 3) and, with selective dynamics, the
// flags in move_mask.
Positions read_coordinates(LineReader& lines, int atoms, bool selective, ExtraProperty& move_mask) {
  // Grown line by line: a corrupt count must not allocate memory up front.
  std::vector<double> coordinates;
  for (int atom = 0; atom < atoms; ++atom) {
    const std::string line =
        next_line(lines, "the coordinates of atom " + std::to_string(atom + 1) + " of " +
                             std::to_string(atoms));
    const auto tokens = split_whitespace(line);
    for (int k = 0; k < 3; ++k) {
      const auto value = k < static_cast<int>(tokens.size()) ? parse_real(tokens[k]) : std::nullopt;
      if (!value || !std::isfinite(*value))
        throw lines.error("expected 3 finite coordinates for atom " + std::to_string(atom + 1) +
                          " of " + std::to_string(atoms) + ", found '" + line + "'");
      coordinates.push_back(*value);
    }
    if (!selective) continue;
    for (int k = 3; k < 6; ++k) {
      const std::string_view flag = k < static_cast<int>(tokens.size()) ? tokens[k] : "";
      if (flag != "T" && flag != "F" && flag != "t" && flag != "f")
        throw lines.error(
            "expected 3 selective-dynamics flags (T or F) after the coordinates of atom " +
            std::to_string(atom + 1) + ", found '" + line + "'");
      move_mask.values.push_back(flag == "T" || flag == "t" ? "T" : "F");
    }
  }
  return Eigen::Map<const Positions>(coordinates.data(), atoms, 3);
}

// The cell and positions from the file's lattice, scaling factor(s) and coordinates.
void place_atoms(Structure& structure, const Eigen::Matrix3d& lattice, std::vector<double> scale,
                 const Positions& raw, bool cartesian, const LineReader& lines, int scale_line) {
  if (scale.size() == 3) {
    structure.cell = lattice * Eigen::Vector3d(scale[0], scale[1], scale[2]).asDiagonal();
  } else if (scale[0] < 0) {
    // A negative factor is the wanted volume.
    const double volume = std::abs(lattice.determinant());
    if (!(volume > 0))
      throw lines.error_at(
          scale_line, "a negative scaling factor (target volume) needs a cell with nonzero volume");
    scale[0] = std::cbrt(-scale[0] / volume);
    structure.cell = lattice * scale[0];
  } else {
    structure.cell = lattice * scale[0];
  }
  if (cartesian) {
    structure.positions =
        scale.size() == 3
            ? Positions(raw * Eigen::Vector3d(scale[0], scale[1], scale[2]).asDiagonal())
            : Positions(raw * scale[0]);
  } else {
    structure.positions = raw * structure.cell;
  }
}

Structure read(LineReader& lines, const PoscarReadOptions& options) {
  const std::string title = next_line(lines, "the title line");
  const std::vector<double> scale = read_scale(lines);
  const int scale_line = lines.line_number();
  const Eigen::Matrix3d lattice = read_lattice(lines);
  const SpeciesCounts groups = read_species_and_counts(lines, title, options);
  bool selective = false;
  const bool cartesian = read_coordinate_mode(lines, selective);
  ExtraProperty move_mask{"move_mask", 'L', 3, {}};
  const Positions raw = read_coordinates(lines, groups.atoms, selective, move_mask);

  Structure structure;
  structure.pbc = {true, true, true};
  place_atoms(structure, lattice, scale, raw, cartesian, lines, scale_line);
  for (std::size_t group = 0; group < groups.counts.size(); ++group)
    structure.numbers.insert(structure.numbers.end(), groups.counts[group], groups.species[group]);
  if (selective) structure.extra_properties.push_back(std::move(move_mask));
  try {
    structure.validate();
  } catch (const Error& error) {
    throw lines.error_at(scale_line + 1, error.what());
  }
  return structure;
}

}  // namespace

Structure read_poscar(const std::filesystem::path& path, const PoscarReadOptions& options) {
  LineReader lines(path);
  return read(lines, options);
}

Structure read_poscar(std::istream& input, const std::string& source,
                      const PoscarReadOptions& options) {
  LineReader lines(input, source);
  return read(lines, options);
}

void write_poscar(std::ostream& output, const Structure& structure,
                  const PoscarWriteOptions& options) {
  structure.validate();
  if (structure.size() == 0) throw Error("cannot write a POSCAR with no atoms");
  const double volume = structure.volume();
  if (!(volume > singular_cell_volume))
    throw Error("cannot write a POSCAR for a cell with no volume (POSCAR is always periodic)");
  if (!(structure.pbc[0] && structure.pbc[1] && structure.pbc[2]))
    logger().warn(
        "writing a POSCAR for a structure that is not periodic in all directions; "
        "VASP will treat it as periodic");
  if (options.title.find_first_of("\n\r") != std::string::npos)
    throw Error("the POSCAR title may not contain a line break");

  // Consecutive runs of one element, in atom order (as ASE writes them).
  std::vector<std::pair<int, int>> groups;
  for (int z : structure.numbers) {
    if (groups.empty() || groups.back().first != z)
      groups.emplace_back(z, 1);
    else
      ++groups.back().second;
  }

  // Selective dynamics from a move_mask column (3 flags per atom, or 1 for all three).
  const ExtraProperty* mask = find_extra_property(structure, "move_mask");
  if (mask && (mask->type != 'L' || (mask->columns != 1 && mask->columns != 3) ||
               mask->values.size() != static_cast<std::size_t>(structure.size()) * mask->columns))
    throw Error(
        "per-atom property 'move_mask' must be of type L with 1 or 3 columns, one row per atom");

  std::string text;
  if (options.title.empty()) {
    for (std::size_t i = 0; i < groups.size(); ++i)
      text += (i ? " " : "") + std::string(element(groups[i].first).symbol);
  } else {
    text += options.title;
  }
  text += "\n" + fmt::format("{:19.16f}\n", 1.0);
  for (int row = 0; row < 3; ++row) {
    text += " ";
    for (int k = 0; k < 3; ++k) text += fmt::format(" {:21.16f}", structure.cell(row, k));
    text += "\n";
  }
  for (const auto& [z, count] : groups) text += fmt::format(" {:<3s}", element(z).symbol);
  text += "\n";
  for (const auto& [z, count] : groups) text += fmt::format(" {:3d}", count);
  text += "\n";
  if (mask) text += "Selective dynamics\n";
  text += options.direct ? "Direct\n" : "Cartesian\n";

  Positions coordinates = structure.positions;
  if (options.direct) {
    coordinates = structure.positions * structure.cell.inverse();
    if (options.wrap) {
      for (Eigen::Index i = 0; i < coordinates.size(); ++i) {
        double& f = coordinates.data()[i];
        f -= std::floor(f);
        if (f >= 1.0) f = 0.0;  // -1e-20 - floor(-1e-20) rounds to 1.0
      }
    }
  } else if (options.wrap) {
    Positions fractional = structure.positions * structure.cell.inverse();
    fractional = fractional.array() - fractional.array().floor();
    coordinates = fractional * structure.cell;
  }
  for (int atom = 0; atom < structure.size(); ++atom) {
    for (int k = 0; k < 3; ++k) text += fmt::format(" {:19.16f}", coordinates(atom, k));
    if (mask) {
      for (int k = 0; k < 3; ++k) {
        const auto& flag = mask->values[static_cast<std::size_t>(atom) * mask->columns +
                                        (mask->columns == 3 ? k : 0)];
        const bool free = flag == "T" || flag == "True" || flag == "true";
        text += fmt::format("{:>4s}", free ? "T" : "F");
      }
    }
    text += "\n";
  }
  output << text;
}

void write_poscar(const std::filesystem::path& path, const Structure& structure,
                  const PoscarWriteOptions& options) {
  OutputFile file(path);
  write_poscar(file.stream(), structure, options);
  file.commit();
}

}  // namespace otfgp
