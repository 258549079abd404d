#include "otfgp/core/cif.hpp"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/units.hpp"

namespace otfgp {

namespace {

// Splits a CIF line into tokens: blanks separate, quotes group.
std::vector<std::string> tokens(const std::string& line) {
  std::vector<std::string> out;
  std::size_t k = 0;
  while (k < line.size()) {
    while (k < line.size() && std::isspace(static_cast<unsigned char>(line[k]))) ++k;
    if (k >= line.size() || line[k] == '#') break;
    if (line[k] == '\'' || line[k] == '"') {
      const char quote = line[k];
      const std::size_t end = line.find(quote, k + 1);
      out.push_back(line.substr(k + 1, end == std::string::npos ? std::string::npos : end - k - 1));
      k = end == std::string::npos ? line.size() : end + 1;
    } else {
      std::size_t end = k;
      while (end < line.size() && !std::isspace(static_cast<unsigned char>(line[end]))) ++end;
      out.push_back(line.substr(k, end - k));
      k = end;
    }
  }
  return out;
}

// "5.640(2)" → 5.640.
double number(const std::string& text, const std::string& what, const std::string& source) {
  const std::string plain = text.substr(0, text.find('('));
  try {
    std::size_t used = 0;
    const double value = std::stod(plain, &used);
    if (used != plain.size()) throw std::invalid_argument(plain);
    return value;
  } catch (const std::exception&) {
    throw Error(source + ": " + what + " '" + text + "' is not a number");
  }
}

struct Operation {
  Eigen::Matrix3d rotation = Eigen::Matrix3d::Zero();
  Eigen::Vector3d translation = Eigen::Vector3d::Zero();
};

// "-x+1/2, y, z-1/4" (case and blanks ignored).
Operation parse_operation(const std::string& text, const std::string& source) {
  Operation op;
  std::string compact;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) compact += static_cast<char>(std::tolower(c));
  std::vector<std::string> parts;
  std::stringstream stream(compact);
  std::string part;
  while (std::getline(stream, part, ',')) parts.push_back(part);
  if (parts.size() != 3) throw Error(source + ": symmetry operation '" + text + "' needs 3 parts");
  for (int row = 0; row < 3; ++row) {
    const std::string& p = parts[static_cast<std::size_t>(row)];
    std::size_t k = 0;
    while (k < p.size()) {
      double sign = 1.0;
      if (p[k] == '+' || p[k] == '-') {
        sign = p[k] == '-' ? -1.0 : 1.0;
        ++k;
      }
      if (k < p.size() && (p[k] == 'x' || p[k] == 'y' || p[k] == 'z')) {
        op.rotation(row, p[k] - 'x') += sign;
        ++k;
        continue;
      }
      std::size_t end = k;
      while (end < p.size() &&
             (std::isdigit(static_cast<unsigned char>(p[end])) || p[end] == '.' || p[end] == '/'))
        ++end;
      const std::string value = p.substr(k, end - k);
      if (value.empty()) throw Error(source + ": cannot read symmetry operation '" + text + "'");
      const std::size_t slash = value.find('/');
      double amount = slash == std::string::npos
                          ? std::stod(value)
                          : std::stod(value.substr(0, slash)) / std::stod(value.substr(slash + 1));
      if (end < p.size() && (p[end] == 'x' || p[end] == 'y' || p[end] == 'z')) {
        op.rotation(row, p[end] - 'x') += sign * amount;  // "2x" (rare)
        ++end;
      } else {
        op.translation[row] += sign * amount;
      }
      k = end;
    }
  }
  return op;
}

// "Na1+" or "Na1" → "Na".
int element_of(const std::string& text, const std::string& source) {
  std::string symbol;
  for (char c : text) {
    if (!std::isalpha(static_cast<unsigned char>(c))) break;
    if (symbol.size() == 2) break;
    symbol +=
        symbol.empty() ? static_cast<char>(std::toupper(c)) : static_cast<char>(std::tolower(c));
  }
  if (symbol.size() == 2 && find_atomic_number(symbol) == 0) symbol.resize(1);
  const int number = find_atomic_number(symbol);
  if (number == 0) throw Error(source + ": no element in atom site '" + text + "'");
  return number;
}

}  // namespace

namespace {

// The lines of a CIF without multi-line text fields (not data we need).
std::vector<std::string> data_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream stream(text);
  std::string line;
  bool in_text_field = false;
  while (std::getline(stream, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line[0] == ';') {
      in_text_field = !in_text_field;
      continue;
    }
    if (!in_text_field) lines.push_back(line);
  }
  return lines;
}

// A loop_: its column names (lower case) and its rows.
struct CifLoop {
  std::vector<std::string> names;
  std::vector<std::vector<std::string>> rows;
};

// The first data block: single items by name (lower case) and the loops.
struct CifBlock {
  std::map<std::string, std::string> items;
  std::vector<CifLoop> loops;
};

// Reads the loop whose names start at lines[k]; leaves k after its values.
CifLoop read_loop(const std::vector<std::string>& lines, std::size_t& k,
                  const std::string& source) {
  CifLoop loop;
  while (k < lines.size()) {
    const auto w = tokens(lines[k]);
    if (w.empty() || w[0][0] != '_') break;
    loop.names.push_back(ascii_lower(w[0]));
    ++k;
  }
  std::vector<std::string> values;
  while (k < lines.size()) {
    const auto w = tokens(lines[k]);
    if (!w.empty()) {
      const std::string first = ascii_lower(w[0]);
      if (first[0] == '_' || first == "loop_" || first.rfind("data_", 0) == 0) break;
    }
    values.insert(values.end(), w.begin(), w.end());
    ++k;
  }
  const std::size_t columns = loop.names.size();
  if (columns == 0 || values.size() % columns != 0)
    throw Error(source + ": a loop's values do not fill its columns");
  for (std::size_t v = 0; v < values.size(); v += columns)
    loop.rows.emplace_back(values.begin() + static_cast<long>(v),
                           values.begin() + static_cast<long>(v + columns));
  return loop;
}

CifBlock read_first_block(const std::vector<std::string>& lines, const std::string& source) {
  CifBlock block;
  bool seen_block = false;
  for (std::size_t k = 0; k < lines.size();) {
    const auto words = tokens(lines[k]);
    if (words.empty()) {
      ++k;
      continue;
    }
    const std::string head = ascii_lower(words[0]);
    if (head.rfind("data_", 0) == 0) {
      if (seen_block) break;  // first block only
      seen_block = true;
      ++k;
    } else if (head == "loop_") {
      ++k;
      block.loops.push_back(read_loop(lines, k, source));
    } else if (head[0] == '_') {
      if (words.size() >= 2)
        block.items[head] = words[1];
      else if (k + 1 < lines.size() && !tokens(lines[k + 1]).empty())
        block.items[head] = tokens(lines[++k])[0];
      ++k;
    } else {
      ++k;
    }
  }
  return block;
}

// The cell from a, b, c, α, β, γ, lower-triangular (a along x, b in the xy plane).
Eigen::Matrix3d cif_cell(const CifBlock& block, const std::string& source) {
  auto item = [&](const std::string& key) -> double {
    const auto it = block.items.find(key);
    if (it == block.items.end()) throw Error(source + ": missing " + key);
    return number(it->second, key, source);
  };
  const double a = item("_cell_length_a"), b = item("_cell_length_b"), c = item("_cell_length_c");
  const double to_radians = units::pi / 180.0;
  const double alpha = item("_cell_angle_alpha") * to_radians,
               beta = item("_cell_angle_beta") * to_radians,
               gamma = item("_cell_angle_gamma") * to_radians;
  const double cx = c * std::cos(beta);
  const double cy = c * (std::cos(alpha) - std::cos(beta) * std::cos(gamma)) / std::sin(gamma);
  const double cz2 = c * c - cx * cx - cy * cy;
  if (!(a > 0 && b > 0 && c > 0) || !(cz2 > 0))
    throw Error(source + ": impossible cell parameters");
  Eigen::Matrix3d cell;
  cell << a, 0, 0, b * std::cos(gamma), b * std::sin(gamma), 0, cx, cy, std::sqrt(cz2);
  return cell;
}

// The symmetry operations (x,y,z alone when the file lists none) and the
// atom-site loop with its column of each name.
struct CifSites {
  std::vector<Operation> operations;
  const std::vector<std::vector<std::string>>* rows = nullptr;
  std::map<std::string, std::size_t> columns;
  bool has_type = false;
};

CifSites find_sites(const CifBlock& block, const std::string& source) {
  CifSites sites;
  for (const auto& loop : block.loops) {
    for (std::size_t n = 0; n < loop.names.size(); ++n) {
      if (loop.names[n] == "_space_group_symop_operation_xyz" ||
          loop.names[n] == "_symmetry_equiv_pos_as_xyz")
        for (const auto& row : loop.rows)
          sites.operations.push_back(parse_operation(row[n], source));
    }
    if (std::find(loop.names.begin(), loop.names.end(), "_atom_site_fract_x") != loop.names.end()) {
      sites.rows = &loop.rows;
      for (std::size_t n = 0; n < loop.names.size(); ++n) sites.columns[loop.names[n]] = n;
    }
  }
  if (!sites.rows) throw Error(source + ": no _atom_site_ loop with fractional coordinates");
  if (sites.operations.empty()) sites.operations.push_back(parse_operation("x,y,z", source));
  for (const char* key : {"_atom_site_fract_y", "_atom_site_fract_z"})
    if (!sites.columns.count(key)) throw Error(source + std::string(": missing ") + key);
  sites.has_type = sites.columns.count("_atom_site_type_symbol") > 0;
  if (!sites.has_type && !sites.columns.count("_atom_site_label"))
    throw Error(source + ": atom sites need _atom_site_type_symbol or _atom_site_label");
  return sites;
}

// Every symmetry image of every site, once (images closer than 0.01 Å merge).
void place_atoms(CifSites& sites, const std::string& source, Structure& structure) {
  auto& columns = sites.columns;
  std::vector<Eigen::Vector3d> fractional;
  for (const auto& row : *sites.rows) {
    if (columns.count("_atom_site_occupancy")) {
      const std::string& occupancy = row[columns["_atom_site_occupancy"]];
      if (occupancy != "." && occupancy != "?" &&
          std::abs(number(occupancy, "occupancy", source) - 1.0) > 1e-3)
        throw Error(source + ": partial occupancy is not supported (site " + row[0] + ")");
    }
    const int z = element_of(
        row[columns[sites.has_type ? "_atom_site_type_symbol" : "_atom_site_label"]], source);
    const Eigen::Vector3d site(number(row[columns["_atom_site_fract_x"]], "x", source),
                               number(row[columns["_atom_site_fract_y"]], "y", source),
                               number(row[columns["_atom_site_fract_z"]], "z", source));
    for (const auto& op : sites.operations) {
      Eigen::Vector3d image = op.rotation * site + op.translation;
      for (int d = 0; d < 3; ++d) image[d] -= std::floor(image[d]);
      bool known = false;
      for (const auto& other : fractional) {
        Eigen::Vector3d difference = image - other;
        for (int d = 0; d < 3; ++d) difference[d] -= std::round(difference[d]);
        if ((difference.transpose() * structure.cell).norm() < 0.01) {
          known = true;
          break;
        }
      }
      if (known) continue;
      fractional.push_back(image);
      structure.numbers.push_back(z);
    }
  }
  structure.positions.resize(static_cast<Eigen::Index>(fractional.size()), 3);
  for (std::size_t i = 0; i < fractional.size(); ++i)
    structure.positions.row(static_cast<Eigen::Index>(i)) =
        fractional[i].transpose() * structure.cell;
}

}  // namespace

Structure parse_cif(const std::string& text, const std::string& source) {
  const CifBlock block = read_first_block(data_lines(text), source);
  Structure structure;
  structure.cell = cif_cell(block, source);
  CifSites sites = find_sites(block, source);
  place_atoms(sites, source, structure);
  return structure;
}

Structure read_cif(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read '" + path.string() + "'");
  std::stringstream text;
  text << in.rdbuf();
  return parse_cif(text.str(), path.string());
}

void write_cif(const std::filesystem::path& path, const Structure& structure,
               const std::string& data_name) {
  const Eigen::Matrix3d& cell = structure.cell;
  const double a = cell.row(0).norm(), b = cell.row(1).norm(), c = cell.row(2).norm();
  const double to_degrees = 180.0 / units::pi;
  OutputFile out(path);
  auto& s = out.stream();
  s << "data_" << data_name << "\n";
  s << fmt::format("_cell_length_a {:.8f}\n_cell_length_b {:.8f}\n_cell_length_c {:.8f}\n", a, b,
                   c);
  s << fmt::format("_cell_angle_alpha {:.8f}\n_cell_angle_beta {:.8f}\n_cell_angle_gamma {:.8f}\n",
                   std::acos(cell.row(1).dot(cell.row(2)) / (b * c)) * to_degrees,
                   std::acos(cell.row(0).dot(cell.row(2)) / (a * c)) * to_degrees,
                   std::acos(cell.row(0).dot(cell.row(1)) / (a * b)) * to_degrees);
  s << "_symmetry_space_group_name_H-M 'P 1'\nloop_\n_space_group_symop_operation_xyz\n'x, y, z'\n";
  s << "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
       "_atom_site_fract_z\n_atom_site_occupancy\n";
  const Eigen::Matrix3d inverse = cell.inverse();
  std::map<int, int> counter;
  for (int i = 0; i < structure.size(); ++i) {
    const int z = structure.numbers[static_cast<std::size_t>(i)];
    const Eigen::RowVector3d f = structure.positions.row(i) * inverse;
    s << fmt::format("{}{} {} {:.10f} {:.10f} {:.10f} 1\n", element(z).symbol, ++counter[z],
                     element(z).symbol, f[0], f[1], f[2]);
  }
  out.commit();
}

}  // namespace otfgp
