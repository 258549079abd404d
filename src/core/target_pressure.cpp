#include "otfgp/core/target_pressure.hpp"

#include <cmath>

#include "otfgp/core/config.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/number_text.hpp"

namespace otfgp {

namespace {
constexpr const char* unit_reminder = "the unit is GPa (1 GPa = 10 kbar = 1e4 bar = 1e9 Pa)";
}  // namespace

void check_target_pressure(double pressure, const std::string& source) {
  constexpr double max_pressure = 1e4;  // GPa
  if (!std::isfinite(pressure))
    throw Error(source + ": the target pressure must be a finite number (GPa)");
  if (std::abs(pressure) >= max_pressure)
    throw Error(source + ": the target pressure " + format_significant(pressure, 6) +
                " GPa is not below ±10000 GPa, far past what any structure survives; " +
                unit_reminder);
}

void check_given_pressure(double pressure, const std::string& source) {
  check_target_pressure(pressure, source);
  // Planetary interiors reach a few TPa; a value in kbar or bar is more likely.
  constexpr double unusual_pressure = 1e3;  // GPa
  if (std::abs(pressure) > unusual_pressure)
    logger().warn("{}: the target pressure {} GPa is above 1000 GPa: {}", source,
                  format_significant(pressure, 6), unit_reminder);
}

double read_target_pressure(const ConfigSection& section, const std::string& key,
                            std::optional<double> fallback) {
  const double pressure = fallback ? section.number(key, *fallback) : section.number(key);
  check_given_pressure(pressure, section.where(key));
  return pressure;
}

}  // namespace otfgp
