#pragma once
// LAMMPS's multi-element many-body parameter files (.sw, .tersoff, …): each
// entry is three element names followed by a fixed number of numbers, spread
// over as many lines as the author liked, with '#' comments. Shared by the
// Stillinger–Weber and Tersoff potentials; read once on the host.
//
// Spec argument: "FILE[,Symbol=label,...]". FILE is a path, or a bare file
// name looked up in the current directory and then along the search path of
// parameter_file.hpp ($LAMMPS_POTENTIALS, /usr/share/lammps/potentials, …).
// "Si=Si(D)" makes entries labelled "Si(D)" (SiCGe.tersoff) stand for silicon;
// without it, labels are element symbols.

#include <array>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace otfgp {

struct TripletEntry {
  std::array<std::string, 3> labels;  // element names as written in the file
  std::vector<double> values;         // the numbers after the names, in file order
  int line = 0;                       // line on which the entry starts
};

class TripletParameterFile {
 public:
  // owner: spec name for messages ("sw"); value_names: one per number of an
  // entry, in file order, for messages; config_dir: the folder of the config
  // the spec came from, or empty (find_parameter_file). Throws otfgp::Error
  // naming the file and line for anything malformed.
  TripletParameterFile(const std::string& owner, const std::string& arguments,
                       const std::vector<std::string>& value_names,
                       const std::filesystem::path& config_dir);

  // The argument that recreates this file choice: a bare name that was found
  // through the search path stays bare, anything else becomes absolute.
  const std::string& spec_argument() const { return spec_argument_; }
  const std::filesystem::path& path() const { return path_; }
  const std::vector<TripletEntry>& entries() const { return entries_; }

  // Atomic numbers (ascending) that lead at least one entry.
  std::vector<int> elements() const;
  // Entry index for every triplet of `species` (atomic numbers), flattened as
  // (a·n + b)·n + c. Throws otfgp::Error naming the element and the file when
  // a species is absent, or the triplet when one is missing or duplicated —
  // as LAMMPS, only the triplets of the species used must be complete.
  std::vector<int> triplet_table(const std::vector<int>& species) const;
  // Error text prefix "owner: path line N: ".
  std::string where(int line) const;

 private:
  std::string label_of(int atomic_number) const;

  std::string owner_;
  std::string spec_argument_;
  std::filesystem::path path_;
  std::vector<std::pair<int, std::string>> aliases_;  // atomic number → label
  std::vector<TripletEntry> entries_;
};

}  // namespace otfgp
