#include "otfgp/core/formula.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <numeric>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/number_text.hpp"

namespace otfgp {

namespace {

// Pauling electronegativities (pymatgen's), Z = 1…96 (0 where none is defined). Only the
// order matters: it is the order pymatgen uses for reduced formulas.
constexpr std::array<double, max_atomic_number> pauling{{
    2.20, 0.00, 0.98, 1.57, 2.04, 2.55, 3.04, 3.44, 3.98, 0.00,  // H–Ne
    0.93, 1.31, 1.61, 1.90, 2.19, 2.58, 3.16, 0.00,              // Na–Ar
    0.82, 1.00, 1.36, 1.54, 1.63, 1.66, 1.55, 1.83, 1.88, 1.91,  // K–Ni
    1.90, 1.65, 1.81, 2.01, 2.18, 2.55, 2.96, 3.00,              // Cu–Kr
    0.82, 0.95, 1.22, 1.33, 1.60, 2.16, 1.90, 2.20, 2.28, 2.20,  // Rb–Pd
    1.93, 1.69, 1.78, 1.96, 2.05, 2.10, 2.66, 2.60,              // Ag–Xe
    0.79, 0.89, 1.10, 1.12, 1.13, 1.14, 1.13, 1.17, 1.20, 1.20,  // Cs–Gd
    1.10, 1.22, 1.23, 1.24, 1.25, 1.10, 1.27, 1.30, 1.50, 2.36,  // Tb–W
    1.90, 2.20, 2.20, 2.28, 2.54, 2.00, 1.62, 2.33, 2.02, 2.00,  // Re–Po
    2.20, 2.20, 0.70, 0.90, 1.10, 1.30, 1.50, 1.38, 1.36, 1.28,  // At–Pu
    1.30, 1.30,                                                  // Am, Cm
}};

std::string format_count(double count) {
  const double rounded = std::round(count);
  if (std::abs(count - rounded) < 1e-8 * std::max(1.0, std::abs(count))) {
    if (rounded == 1.0) return "";
    return std::to_string(static_cast<long long>(rounded));
  }
  return format_significant(count, 6);
}

class FormulaParser {
 public:
  explicit FormulaParser(std::string_view text) : text_(text) {}

  Composition parse() {
    skip_blanks();
    if (position_ == text_.size()) fail(0, "the formula is empty");
    std::map<int, double> amounts = parse_sequence();
    if (position_ < text_.size()) {
      const char c = text_[position_];
      if (c == ')' || c == ']')
        fail(position_, std::string("'") + c + "' closes a bracket that was never opened");
      fail(position_, "unexpected character '" + character_at(position_) + "'");
    }
    return Composition(amounts);
  }

 private:
  // The whole UTF-8 sequence that starts at `at`, never a lone byte of it.
  std::string character_at(std::size_t at) const {
    std::size_t end = at + 1;
    while (end < text_.size() && (static_cast<unsigned char>(text_[end]) & 0xC0) == 0x80) ++end;
    return std::string(text_.substr(at, end - at));
  }

  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    throw Error("cannot parse formula '" + std::string(text_) + "': " + what + " (at character " +
                std::to_string(at + 1) + ")");
  }

  void skip_blanks() {
    while (position_ < text_.size() && (text_[position_] == ' ' || text_[position_] == '\t'))
      ++position_;
  }

  // Groups until the end or a closing bracket (left for the caller).
  std::map<int, double> parse_sequence() {
    std::map<int, double> amounts;
    while (true) {
      skip_blanks();
      if (position_ == text_.size()) break;
      const char c = text_[position_];
      if (c == ')' || c == ']') break;  // the caller matches or rejects it
      std::map<int, double> group;
      if (c == '(' || c == '[') {
        const std::size_t open = position_;
        const char close = c == '(' ? ')' : ']';
        ++position_;
        group = parse_sequence();
        if (group.empty()) fail(open, "empty brackets");
        skip_blanks();
        if (position_ == text_.size()) fail(open, std::string("'") + c + "' is never closed");
        if (text_[position_] != close)
          fail(position_, std::string("expected '") + close + "' to match '" + c +
                              "' at character " + std::to_string(open + 1));
        ++position_;
      } else if (std::isupper(static_cast<unsigned char>(c))) {
        group[parse_element()] = 1.0;
      } else if (std::islower(static_cast<unsigned char>(c))) {
        fail(position_,
             "element symbols start with a capital letter, got '" + character_at(position_) + "'");
      } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
        fail(position_, "a count must follow an element or a closing bracket");
      } else {
        fail(position_, "unexpected character '" + character_at(position_) + "'");
      }
      const double count = parse_count();
      for (const auto& [z, amount] : group) amounts[z] += amount * count;
    }
    return amounts;
  }

  int parse_element() {
    const std::size_t start = position_;
    std::size_t length = 1;
    if (start + 1 < text_.size() && std::islower(static_cast<unsigned char>(text_[start + 1])))
      length = 2;
    const std::string symbol(text_.substr(start, length));
    const int z = find_atomic_number(symbol);
    if (z == 0) {
      std::string message = unknown_element_text(symbol);
      // "CO" meant as "Co"? Only where both letters are elements and the pair is none.
      if (length == 2 && number_past_table(symbol) == 0) {
        const std::string first = symbol.substr(0, 1);
        const std::string second(
            1, static_cast<char>(std::toupper(static_cast<unsigned char>(symbol[1]))));
        if (find_atomic_number(first) != 0 && find_atomic_number(second) != 0)
          message +=
              " (symbols are case-sensitive: write '" + first + second + "' for two elements)";
      }
      fail(start, message);
    }
    position_ += length;
    return z;
  }

  // An optional count after an element or bracket; 1 when absent.
  double parse_count() {
    const std::size_t start = position_;
    while (position_ < text_.size() &&
           (std::isdigit(static_cast<unsigned char>(text_[position_])) || text_[position_] == '.'))
      ++position_;
    if (position_ == start) return 1.0;
    const std::string digits(text_.substr(start, position_ - start));
    if (std::count(digits.begin(), digits.end(), '.') > 1 || digits == "." || digits.back() == '.')
      fail(start, "malformed count '" + digits + "'");
    const double count = std::strtod(digits.c_str(), nullptr);
    if (!(count > 0)) fail(start, "count '" + digits + "' must be positive");
    return count;
  }

  std::string_view text_;
  std::size_t position_ = 0;
};

}  // namespace

double pauling_electronegativity(int atomic_number) {
  return pauling.at(static_cast<std::size_t>(element(atomic_number).number - 1));
}

double ordering_electronegativity(int atomic_number) {
  const double value = pauling_electronegativity(atomic_number);
  return value > 0 ? value : 10.0;
}

Composition::Composition(const std::map<int, double>& amounts) {
  for (const auto& [z, amount] : amounts) {
    element(z);
    if (!std::isfinite(amount) || amount < 0)
      throw Error("composition: amount of " + std::string(element(z).symbol) +
                  " must be a finite, non-negative number");
    if (amount > 0) amounts_[z] = amount;
  }
}

Composition Composition::from_numbers(const std::vector<int>& numbers) {
  std::map<int, double> counts;
  for (int z : numbers) counts[z] += 1.0;
  return Composition(counts);
}

double Composition::amount(int atomic_number) const {
  const auto found = amounts_.find(atomic_number);
  return found == amounts_.end() ? 0.0 : found->second;
}

double Composition::total() const {
  double sum = 0.0;
  for (const auto& entry : amounts_) sum += entry.second;
  return sum;
}

std::vector<int> Composition::elements() const {
  std::vector<int> result;
  for (const auto& entry : amounts_) result.push_back(entry.first);
  return result;
}

Composition Composition::fractional() const {
  const double sum = total();
  std::map<int, double> fractions;
  for (const auto& [z, amount] : amounts_) fractions[z] = amount / sum;
  Composition result;
  result.amounts_ = fractions;
  return result;
}

Composition Composition::reduced() const {
  if (amounts_.empty()) return *this;
  // Try whole-number ratios with a common factor up to 1000 (covers decimal
  // counts such as Ba0.25O0.25 and Li0.5CoO2).
  const double smallest =
      std::min_element(amounts_.begin(), amounts_.end(), [](const auto& a, const auto& b) {
        return a.second < b.second;
      })->second;
  for (int factor = 1; factor <= 1000; ++factor) {
    const double scale = factor / smallest;
    bool whole = true;
    for (const auto& entry : amounts_) {
      const double scaled = entry.second * scale;
      if (std::abs(scaled - std::round(scaled)) > 1e-6 * std::max(1.0, scaled)) {
        whole = false;
        break;
      }
    }
    if (!whole) continue;
    long long divisor = 0;
    for (const auto& entry : amounts_)
      divisor = std::gcd(divisor, std::llround(entry.second * scale));
    std::map<int, double> counts;
    for (const auto& [z, amount] : amounts_)
      counts[z] = static_cast<double>(std::llround(amount * scale) / divisor);
    Composition result;
    result.amounts_ = counts;
    return result;
  }
  return fractional();
}

std::string Composition::formula() const {
  std::vector<int> order = elements();
  std::stable_sort(order.begin(), order.end(), [](int a, int b) {
    const double xa = ordering_electronegativity(a), xb = ordering_electronegativity(b);
    return xa != xb ? xa < xb : a < b;
  });
  std::string text;
  for (int z : order) text += std::string(element(z).symbol) + format_count(amounts_.at(z));
  return text;
}

bool Composition::same_fractions(const Composition& other, double tolerance) const {
  const double a = total(), b = other.total();
  if (a <= 0 || b <= 0) return a <= 0 && b <= 0;
  std::map<int, double> keys = amounts_;
  for (const auto& entry : other.amounts_) keys[entry.first] += 0.0;
  for (const auto& entry : keys)
    if (std::abs(amount(entry.first) / a - other.amount(entry.first) / b) > tolerance) return false;
  return true;
}

Composition parse_formula(std::string_view text) {
  return FormulaParser(text).parse();
}

}  // namespace otfgp
