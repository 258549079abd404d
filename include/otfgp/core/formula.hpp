#pragma once
// Chemical compositions: amounts of each element (any normalisation), parsed
// from formulas such as "Ba2RhO4", "(BaO)2", "Ba0.5O0.5" or "Ca3(PO4)2", and
// written back in the order chemists use (by Pauling electronegativity, as
// pymatgen does: "BaRhO3", "Ba2RhO4").

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace otfgp {

class Composition {
 public:
  Composition() = default;
  // Amounts per atomic number; zero amounts are dropped, negative ones rejected.
  explicit Composition(const std::map<int, double>& amounts);
  // Counts the atoms of a structure's atomic numbers.
  static Composition from_numbers(const std::vector<int>& numbers);

  const std::map<int, double>& amounts() const { return amounts_; }
  double amount(int atomic_number) const;
  double total() const;  // number of atoms
  bool empty() const { return amounts_.empty(); }
  std::vector<int> elements() const;  // ascending atomic numbers
  // Amounts divided by the total: atomic fractions summing to one.
  Composition fractional() const;
  // Amounts scaled to the smallest whole numbers when they are (nearly) whole
  // ratios, e.g. Ba2Rh2O6 → BaRhO3; otherwise the fractional composition.
  Composition reduced() const;
  // "Ba2RhO4": elements by electronegativity, counts of 1 omitted, non-integer
  // counts printed with up to 6 significant digits.
  std::string formula() const;
  std::string reduced_formula() const { return reduced().formula(); }
  // True when the atomic fractions agree within tolerance.
  bool same_fractions(const Composition& other, double tolerance = 1e-9) const;

 private:
  std::map<int, double> amounts_;
};

// Parses a formula. Elements are a capital letter and an optional lowercase
// letter; groups in () or [] may carry a multiplier; counts may be decimal;
// blanks between groups are ignored. Throws otfgp::Error naming the formula,
// the position and what was wrong (unknown element, unbalanced bracket, zero
// or malformed count, stray character, empty formula).
Composition parse_formula(std::string_view text);

// Pauling electronegativity used for ordering formulas; elements without one
// (He, Ne, Ar) sort last.
double ordering_electronegativity(int atomic_number);
// Pauling electronegativity of element Z (0 where none is defined: He, Ne, Ar).
double pauling_electronegativity(int atomic_number);

}  // namespace otfgp
