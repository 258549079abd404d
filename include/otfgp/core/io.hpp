#pragma once
// Reading and writing structures by file name: the format comes from the name
// (or is given), so CLI verbs accept any supported file.
//   extended XYZ: *.xyz, *.extxyz (any number of frames; see extxyz.hpp)
//   POSCAR:       POSCAR*, CONTCAR*, *.vasp, *.poscar (one frame; see poscar.hpp)
// Names are matched without regard to case. Format names: "auto", "extxyz"
// (or "xyz"), "poscar" (or "vasp").

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "otfgp/core/extra_property.hpp"
#include "otfgp/core/extxyz.hpp"
#include "otfgp/core/poscar.hpp"
#include "otfgp/core/structure.hpp"

namespace otfgp {

enum class StructureFormat { extxyz, poscar };

// The format named by `format`, or guessed from the file name when it is
// "auto"; throws otfgp::Error listing the choices otherwise.
StructureFormat structure_format(const std::filesystem::path& path,
                                 std::string_view format = "auto");
std::string_view format_name(StructureFormat format);

struct StructureReadOptions {
  std::string format = "auto";
  // Element symbols for VASP 4 POSCAR files without a species line.
  std::vector<std::string> poscar_species;
};

// Every frame of the file (one for POSCAR).
std::vector<Structure> read_structures(const std::filesystem::path& path,
                                       std::string_view format = "auto");
std::vector<Structure> read_structures(const std::filesystem::path& path,
                                       const StructureReadOptions& options);
// The last frame of the file, as ase.io.read does; throws when it has none.
Structure read_structure(const std::filesystem::path& path, std::string_view format = "auto");

// Writes the frames; a POSCAR takes exactly one frame and cannot be appended to.
// append == true adds frames to an extended XYZ file (trajectories).
void write_structures(const std::filesystem::path& path, const std::vector<Structure>& frames,
                      std::string_view format = "auto", bool append = false);
void write_structure(const std::filesystem::path& path, const Structure& structure,
                     std::string_view format = "auto");

}  // namespace otfgp
