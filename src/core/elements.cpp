#include "otfgp/core/elements.hpp"

#include <array>

#include "otfgp/core/error.hpp"

namespace otfgp {

namespace {

// Masses as ASE's ase.data.atomic_masses (IUPAC 2016), so that files written by
// either code give the same kinetic energies; radii from Cordero et al. 2008.
constexpr std::array<Element, max_atomic_number> table{{
    {1, "H", 1.008, 0.31},          {2, "He", 4.002602, 0.28},     {3, "Li", 6.94, 1.28},
    {4, "Be", 9.0121831, 0.96},     {5, "B", 10.81, 0.84},         {6, "C", 12.011, 0.76},
    {7, "N", 14.007, 0.71},         {8, "O", 15.999, 0.66},        {9, "F", 18.998403163, 0.57},
    {10, "Ne", 20.1797, 0.58},      {11, "Na", 22.98976928, 1.66}, {12, "Mg", 24.305, 1.41},
    {13, "Al", 26.9815385, 1.21},   {14, "Si", 28.085, 1.11},      {15, "P", 30.973761998, 1.07},
    {16, "S", 32.06, 1.05},         {17, "Cl", 35.45, 1.02},       {18, "Ar", 39.948, 1.06},
    {19, "K", 39.0983, 2.03},       {20, "Ca", 40.078, 1.76},      {21, "Sc", 44.955908, 1.7},
    {22, "Ti", 47.867, 1.6},        {23, "V", 50.9415, 1.53},      {24, "Cr", 51.9961, 1.39},
    {25, "Mn", 54.938044, 1.39},    {26, "Fe", 55.845, 1.32},      {27, "Co", 58.933194, 1.26},
    {28, "Ni", 58.6934, 1.24},      {29, "Cu", 63.546, 1.32},      {30, "Zn", 65.38, 1.22},
    {31, "Ga", 69.723, 1.22},       {32, "Ge", 72.63, 1.2},        {33, "As", 74.921595, 1.19},
    {34, "Se", 78.971, 1.2},        {35, "Br", 79.904, 1.2},       {36, "Kr", 83.798, 1.16},
    {37, "Rb", 85.4678, 2.2},       {38, "Sr", 87.62, 1.95},       {39, "Y", 88.90584, 1.9},
    {40, "Zr", 91.224, 1.75},       {41, "Nb", 92.90637, 1.64},    {42, "Mo", 95.95, 1.54},
    {43, "Tc", 97.90721, 1.47},     {44, "Ru", 101.07, 1.46},      {45, "Rh", 102.9055, 1.42},
    {46, "Pd", 106.42, 1.39},       {47, "Ag", 107.8682, 1.45},    {48, "Cd", 112.414, 1.44},
    {49, "In", 114.818, 1.42},      {50, "Sn", 118.71, 1.39},      {51, "Sb", 121.76, 1.39},
    {52, "Te", 127.6, 1.38},        {53, "I", 126.90447, 1.39},    {54, "Xe", 131.293, 1.4},
    {55, "Cs", 132.90545196, 2.44}, {56, "Ba", 137.327, 2.15},     {57, "La", 138.90547, 2.07},
    {58, "Ce", 140.116, 2.04},      {59, "Pr", 140.90766, 2.03},   {60, "Nd", 144.242, 2.01},
    {61, "Pm", 144.91276, 1.99},    {62, "Sm", 150.36, 1.98},      {63, "Eu", 151.964, 1.98},
    {64, "Gd", 157.25, 1.96},       {65, "Tb", 158.92535, 1.94},   {66, "Dy", 162.5, 1.92},
    {67, "Ho", 164.93033, 1.92},    {68, "Er", 167.259, 1.89},     {69, "Tm", 168.93422, 1.9},
    {70, "Yb", 173.054, 1.87},      {71, "Lu", 174.9668, 1.87},    {72, "Hf", 178.49, 1.75},
    {73, "Ta", 180.94788, 1.7},     {74, "W", 183.84, 1.62},       {75, "Re", 186.207, 1.51},
    {76, "Os", 190.23, 1.44},       {77, "Ir", 192.217, 1.41},     {78, "Pt", 195.084, 1.36},
    {79, "Au", 196.966569, 1.36},   {80, "Hg", 200.592, 1.32},     {81, "Tl", 204.38, 1.45},
    {82, "Pb", 207.2, 1.46},        {83, "Bi", 208.9804, 1.48},    {84, "Po", 208.98243, 1.4},
    {85, "At", 209.98715, 1.5},     {86, "Rn", 222.01758, 1.5},    {87, "Fr", 223.01974, 2.6},
    {88, "Ra", 226.02541, 2.21},    {89, "Ac", 227.02775, 2.15},   {90, "Th", 232.0377, 2.06},
    {91, "Pa", 231.03588, 2.0},     {92, "U", 238.02891, 1.96},    {93, "Np", 237.04817, 1.9},
    {94, "Pu", 244.06421, 1.87},    {95, "Am", 243.06138, 1.8},    {96, "Cm", 247.07035, 1.69},
}};

}  // namespace

const Element& element(int atomic_number) {
  if (atomic_number < 1 || atomic_number > max_atomic_number)
    throw Error("atomic number " + std::to_string(atomic_number) + " is outside H–Cm (1–96)");
  return table[atomic_number - 1];
}

int find_atomic_number(std::string_view symbol) {
  for (const auto& entry : table)
    if (symbol == entry.symbol) return entry.number;
  return 0;
}

int number_past_table(std::string_view symbol) {
  // Bk … Og: real elements, past the radii this table is built from.
  constexpr std::array<const char*, 22> heavier{"Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf",
                                                "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn",
                                                "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};
  for (std::size_t k = 0; k < heavier.size(); ++k)
    if (symbol == heavier[k]) return max_atomic_number + 1 + static_cast<int>(k);
  return 0;
}

std::string unknown_element_text(std::string_view symbol) {
  std::string text = "unknown element '" + std::string(symbol) + "'";
  if (const int z = number_past_table(symbol))
    text += " (Z = " + std::to_string(z) +
            ": otfgp's elements end at Cm, Z = " + std::to_string(max_atomic_number) + ")";
  return text;
}

int atomic_number(std::string_view symbol) {
  const int z = find_atomic_number(symbol);
  if (z == 0) throw Error(unknown_element_text(symbol));
  return z;
}

std::string symbols_text(const std::vector<int>& numbers, std::string_view separator) {
  std::string text;
  for (std::size_t k = 0; k < numbers.size(); ++k) {
    if (k > 0) text += separator;
    text += element(numbers[k]).symbol;
  }
  return text;
}

}  // namespace otfgp
