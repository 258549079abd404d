#pragma once
// Extended XYZ, read and written as ASE 3.22 (ase.io.extxyz) does, so that files
// move freely between otfgp, ASE, FLARE, QUIP and OVITO.
//
// Each frame: a line with the atom count, a comment line of key=value pairs,
// one line per atom. Interpreted keys: Lattice (9 numbers, the lattice vectors
// a, b, c one after the other, Å), Properties (name:type:columns triplets),
// pbc ("T T F"; default T T T with a Lattice, F F F without), energy (eV), stress
// (eV/Å³, ASE's sign; 9 numbers as ASE writes it, or 6 in Voigt order xx yy zz yz
// xz xy). Interpreted columns: species (or Z), pos (Å), forces (eV/Å). Every
// other key goes, in order and as text, to Structure::info; every other column
// to Structure::extra_properties; both are written back unchanged.
// See docs/file-formats.md. Errors name the file and the line.

#include <filesystem>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "otfgp/core/line_reader.hpp"
#include "otfgp/core/structure.hpp"

namespace otfgp {

// Reads one frame after another, for trajectories too large to hold at once.
class ExtxyzReader {
 public:
  // Throws otfgp::Error when the file is missing or unreadable.
  explicit ExtxyzReader(const std::filesystem::path& path);
  // Reads from a stream the caller keeps alive; `source` names it in messages.
  ExtxyzReader(std::istream& input, std::string source);

  // Reads the next frame into `frame`; false (and `frame` untouched) at the end
  // of the input. Throws otfgp::Error naming the file and line on bad input.
  bool next(Structure& frame);
  int frames_read() const { return frames_read_; }

 private:
  LineReader lines_;
  int frames_read_ = 0;
};

// All frames of a file, in order.
std::vector<Structure> read_extxyz(const std::filesystem::path& path);
std::vector<Structure> read_extxyz(std::istream& input, const std::string& source);

// Writes frames to a stream (positions, cell, energy, forces, stress written so
// that they read back exactly). Throws otfgp::Error for a frame that cannot be
// written (inconsistent sizes, an info key that clashes with a written key, an
// unusable extra column).
void write_extxyz(std::ostream& output, const Structure& frame);
void write_extxyz(std::ostream& output, const std::vector<Structure>& frames);

// Writes a file. append == false replaces it atomically (write a temporary,
// rename); append == true adds the frames at its end in one write, creating it
// when missing, and truncates it back to its old length if that write fails.
void write_extxyz(const std::filesystem::path& path, const std::vector<Structure>& frames,
                  bool append = false);
void write_extxyz(const std::filesystem::path& path, const Structure& frame, bool append = false);

// Splits an extended XYZ comment line into key/value pairs the way ASE's
// key_val_str_to_dict does: whitespace separates pairs; values may be quoted with
// "", '', {} or []; a backslash escapes the next character; a key without a
// value gets "T"; a repeated key keeps its first place and its last value.
// Throws otfgp::Error (without a location) on an unterminated quote.
std::vector<std::pair<std::string, std::string>> parse_extxyz_comment(std::string_view line);

}  // namespace otfgp
