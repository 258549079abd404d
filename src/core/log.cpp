#include "otfgp/core/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace otfgp {

spdlog::logger& logger() {
  static const std::shared_ptr<spdlog::logger> instance = [] {
    auto existing = spdlog::get("otfgp");
    if (existing) return existing;
    auto created = spdlog::stderr_color_mt("otfgp");
    created->set_pattern("%^%l%$: %v");
    return created;
  }();
  return *instance;
}

}  // namespace otfgp
