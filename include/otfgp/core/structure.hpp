#pragma once
// An atomic configuration on the host: cell, positions, species, periodicity,
// and optional labels (energy, forces, stress) with the extra metadata that
// file formats carry. Units: Å, eV, eV/Å, stress in eV/Å³ (ASE's sign: σ = (1/V) ∂E/∂ε).

#include <Eigen/Core>
#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace otfgp {

// A periodic cell whose volume |det h| (Å³) is not above this is singular:
// Box::from_cell, Structure::validate and write_poscar refuse it.
inline constexpr double singular_cell_volume = 1e-8;

// N×3, one row per atom.
using Positions = Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor>;
// Voigt order xx yy zz yz xz xy.
using Voigt = Eigen::Matrix<double, 6, 1>;

// A per-atom column that otfgp does not interpret, kept verbatim for round trips
// (extended XYZ Properties entries such as "tags:I:1").
struct ExtraProperty {
  std::string name;
  char type = 'S';  // ASE type letter: R, I, S, L
  int columns = 1;
  std::vector<std::string> values;  // atoms × columns, row-major, as written in the file
};

struct Structure {
  Eigen::Matrix3d cell = Eigen::Matrix3d::Zero();  // rows are lattice vectors a, b, c (Å)
  Positions positions;                             // Cartesian (Å)
  std::vector<int> numbers;                        // atomic numbers
  std::array<bool, 3> pbc{true, true, true};

  std::optional<double> energy;     // eV
  std::optional<Positions> forces;  // eV/Å
  std::optional<Voigt> stress;      // eV/Å³

  // Ordered key/value pairs of the comment line that otfgp does not interpret;
  // values are kept as the text that followed "key=" (quotes removed).
  std::vector<std::pair<std::string, std::string>> info;
  std::vector<ExtraProperty> extra_properties;

  int size() const { return static_cast<int>(numbers.size()); }
  double volume() const;
  // Hill-ordered formula with the full counts, e.g. "BaO3Rh", "CH4".
  std::string formula() const;
  // Distinct atomic numbers in ascending order.
  std::vector<int> species() const;
  // Throws otfgp::Error when sizes disagree, a number is not an element, or the
  // cell is singular along a periodic direction.
  void validate() const;
  // The numeric part of validate(): cell and positions finite and within
  // ±1e8 Å, labels (energy, forces, stress) finite; the error names the atom.
  void validate_numbers() const;
  // The largest distance (Å) between an atom here and the same atom of
  // `other` (same count and order), up to lattice vectors of this cell along
  // its periodic directions: a copy of this frame with its atoms wrapped into
  // the cell is 0 away.
  double largest_displacement(const Structure& other) const;
  // The same atoms (species in order, periodicity), cell and positions as
  // `other` to within `tolerance` (Å), up to lattice vectors.
  bool same_atoms(const Structure& other, double tolerance) const;
  // How many coordinates selective-dynamics flags fix (F in a `move_mask`
  // column; POSCAR's flags arrive as one); 0 without the column.
  int fixed_coordinates() const;
  // Throws otfgp::Error saying that `verb` moves every atom when
  // fixed_coordinates() > 0 (`where` names the structure).
  void refuse_fixed_atoms(const std::string& where, const std::string& verb) const;
  // Returns the value of an info key, if present.
  std::optional<std::string> info_value(const std::string& key) const;
  // Sets an info key: replaces its value in place, or appends the pair.
  void set_info_value(const std::string& key, std::string value);
  // Forgets every result of an earlier calculation, so that a new one does not
  // stand beside stale numbers: the labels (energy, forces, stress), the info
  // keys and columns ASE reads as a calculator's results (free_energy, dipole,
  // magmom, virial; energies, stresses, charges, magmoms) and those otfgp's
  // verbs write (eval's uncertainty, uncertainty_normalised, force_std,
  // novel; md's energy_std; relax's enthalpy and converged; search's
  // enthalpy_per_atom; otf's max_std). Inputs (initial_magmoms,
  // initial_charges, masses, tags, move_mask, target_pressure_gpa, …) and
  // other keys stay.
  void clear_results();
};

}  // namespace otfgp
