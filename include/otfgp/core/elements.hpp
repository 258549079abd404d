#pragma once
// Periodic table H–Cm (Z = 1…96): symbol, standard atomic mass (amu, ASE's)
// and covalent radius (Å, Cordero et al., Dalton Trans. 2008, whose table
// ends at Cm).

#include <string>
#include <string_view>
#include <vector>

namespace otfgp {

struct Element {
  int number;
  const char* symbol;
  double mass;             // amu
  double covalent_radius;  // Å
};

inline constexpr int max_atomic_number = 96;

// Throws otfgp::Error for Z outside 1…max_atomic_number.
const Element& element(int atomic_number);
// Case-sensitive symbol ("Ba", "O"); throws otfgp::Error naming the symbol if unknown.
int atomic_number(std::string_view symbol);
// Non-throwing variant: 0 when the symbol is unknown.
int find_atomic_number(std::string_view symbol);
// Z of an element past the table (Bk 97 … Og 118); 0 for any other symbol.
int number_past_table(std::string_view symbol);
// "unknown element 'Xx'"; for an element past Cm, "unknown element 'Bk' (Z = 97:
// otfgp's elements end at Cm, Z = 96)". Every message about an unknown symbol.
std::string unknown_element_text(std::string_view symbol);
// The symbols of `numbers`, in that order, joined by `separator` ("Si O"):
// messages and settings lines.
std::string symbols_text(const std::vector<int>& numbers, std::string_view separator = " ");

}  // namespace otfgp
