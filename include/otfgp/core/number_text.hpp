#pragma once
// Numbers as text in input and output files: locale-independent parsing that
// accepts what Python's float()/int() and Fortran list-directed reads accept,
// and formatting that reads back to the identical double.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace otfgp {

// The whole token must be a number: optional sign, digits, decimal point,
// exponent with e/E (and Fortran's d/D), "inf", "nan". Empty on anything else.
std::optional<double> parse_real(std::string_view token);
// The whole token must be a base-10 integer with an optional sign.
std::optional<long long> parse_integer(std::string_view token);

// Shortest text that reads back to exactly `value`, always recognisable as a
// real (a ".0" is added to integral values, as Python's repr does): "2.715",
// "0.0", "-1e-05", "1.2345678901234567e+20".
std::string format_real(double value);
// printf's %.<digits>g without the locale: "5", "0.001", "1e-05",
// "0.10000000000000001" (17 digits). For messages ("above the limit of 5
// eV/Å") and texts compared as strings, where format_real's ".0" or shortest
// form would change what was written before.
std::string format_significant(double value, int digits);

// Splits on spaces, tabs and other ASCII whitespace; empty tokens are dropped.
std::vector<std::string_view> split_whitespace(std::string_view text);

// `text` with ASCII letters in lower case (keys and names compared without case).
std::string ascii_lower(std::string_view text);
// `text` without leading and trailing blanks (spaces, tabs, \r, \n).
std::string trim_blanks(std::string_view text);
// The tokens of `text` (split_whitespace's) that are numbers (parse_real's), in
// order; the others are skipped: the numbers of a labelled line of program output.
std::vector<double> numbers_in(std::string_view text);

}  // namespace otfgp
