#include "otfgp/core/number_text.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace otfgp {

namespace {

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

bool equals_ignoring_case(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[i])) != lower[i]) return false;
  return true;
}

}  // namespace

std::optional<double> parse_real(std::string_view token) {
  if (token.empty()) return std::nullopt;
  bool negative = false;
  if (token.front() == '+' || token.front() == '-') {
    negative = token.front() == '-';
    token.remove_prefix(1);
  }
  if (token.empty() || token.front() == '+' || token.front() == '-') return std::nullopt;
  if (equals_ignoring_case(token, "inf") || equals_ignoring_case(token, "infinity"))
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  if (equals_ignoring_case(token, "nan")) return std::numeric_limits<double>::quiet_NaN();
  // from_chars takes only digits, '.', and e/E exponents: reject hexadecimal and
  // the other spellings it would accept, translate Fortran's D exponent.
  std::string text(token);
  for (char& c : text) {
    if (c == 'd' || c == 'D') c = 'e';
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' ||
          c == '+' || c == '-'))
      return std::nullopt;
  }
  double value = 0.0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value, std::chars_format::general);
  if (error == std::errc::result_out_of_range) {
    // Overflow reads as ±inf and underflow as 0, as in Python and Fortran.
    if (stop != end) return std::nullopt;
    const auto exponent = text.find_first_of("eE");
    const bool tiny =
        exponent != std::string::npos && text.find('-', exponent) != std::string::npos;
    value = tiny ? 0.0 : std::numeric_limits<double>::infinity();
  } else if (error != std::errc() || stop != end) {
    return std::nullopt;
  }
  return negative ? -value : value;
}

std::optional<long long> parse_integer(std::string_view token) {
  if (!token.empty() && token.front() == '+') token.remove_prefix(1);
  if (token.empty()) return std::nullopt;
  long long value = 0;
  const char* end = token.data() + token.size();
  const auto [stop, error] = std::from_chars(token.data(), end, value);
  if (error != std::errc() || stop != end) return std::nullopt;
  return value;
}

std::string format_real(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  char buffer[64];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, error == std::errc() ? end : buffer);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string format_significant(double value, int digits) {
  return fmt::format("{:.{}g}", value, digits);
}

std::vector<std::string_view> split_whitespace(std::string_view text) {
  std::vector<std::string_view> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    const std::size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > start) tokens.push_back(text.substr(start, i - start));
  }
  return tokens;
}

std::vector<double> numbers_in(std::string_view text) {
  std::vector<double> values;
  for (auto token : split_whitespace(text))
    if (auto value = parse_real(token)) values.push_back(*value);
  return values;
}

std::string ascii_lower(std::string_view text) {
  std::string result(text);
  for (char& c : result) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return result;
}

std::string trim_blanks(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "";
  return std::string(text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1));
}

}  // namespace otfgp
