#include "otfgp/core/io.hpp"

#include <algorithm>
#include <cctype>

#include "otfgp/core/error.hpp"
#include "otfgp/core/number_text.hpp"

namespace otfgp {

namespace {

bool starts_with(const std::string& text, std::string_view prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

StructureFormat structure_format(const std::filesystem::path& path, std::string_view format) {
  const std::string name = ascii_lower(format);
  if (name == "extxyz" || name == "xyz") return StructureFormat::extxyz;
  if (name == "poscar" || name == "vasp" || name == "contcar") return StructureFormat::poscar;
  if (name != "auto")
    throw Error("unknown structure format '" + std::string(format) +
                "'; expected auto, extxyz (xyz) or poscar (vasp)");
  const std::string filename = ascii_lower(path.filename().string());
  const std::string extension = ascii_lower(path.extension().string());
  if (extension == ".xyz" || extension == ".extxyz") return StructureFormat::extxyz;
  if (extension == ".vasp" || extension == ".poscar" || starts_with(filename, "poscar") ||
      starts_with(filename, "contcar"))
    return StructureFormat::poscar;
  throw Error("cannot tell the format of '" + path.string() +
              "' from its name (*.xyz, *.extxyz, POSCAR*, CONTCAR*, *.vasp, *.poscar; otfgp "
              "reads only these two formats): rename it, or give the format (extxyz or "
              "poscar) where the verb takes --format");
}

std::string_view format_name(StructureFormat format) {
  return format == StructureFormat::extxyz ? "extxyz" : "poscar";
}

std::vector<Structure> read_structures(const std::filesystem::path& path, std::string_view format) {
  StructureReadOptions options;
  options.format = std::string(format);
  return read_structures(path, options);
}

std::vector<Structure> read_structures(const std::filesystem::path& path,
                                       const StructureReadOptions& options) {
  switch (structure_format(path, options.format)) {
    case StructureFormat::extxyz:
      if (!options.poscar_species.empty())
        throw Error("species were given for '" + path.string() +
                    "', but they only apply to VASP 4 POSCAR files");
      return read_extxyz(path);
    case StructureFormat::poscar: {
      PoscarReadOptions poscar;
      poscar.species = options.poscar_species;
      return {read_poscar(path, poscar)};
    }
  }
  throw Error("unreachable structure format");
}

Structure read_structure(const std::filesystem::path& path, std::string_view format) {
  auto frames = read_structures(path, format);
  if (frames.empty()) throw Error("'" + path.string() + "' holds no structure");
  return std::move(frames.back());
}

void write_structures(const std::filesystem::path& path, const std::vector<Structure>& frames,
                      std::string_view format, bool append) {
  switch (structure_format(path, format)) {
    case StructureFormat::extxyz:
      write_extxyz(path, frames, append);
      return;
    case StructureFormat::poscar:
      if (append)
        throw Error("cannot append to '" + path.string() + "': a POSCAR holds one structure");
      if (frames.size() != 1)
        throw Error("cannot write " + std::to_string(frames.size()) +
                    " structures to the POSCAR '" + path.string() + "'; it holds exactly one");
      write_poscar(path, frames.front());
      return;
  }
}

void write_structure(const std::filesystem::path& path, const Structure& structure,
                     std::string_view format) {
  write_structures(path, std::vector<Structure>{structure}, format, false);
}

}  // namespace otfgp
