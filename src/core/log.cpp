#include "otfgp/core/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>
#include <set>

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

void warn_once(const std::string& message) {
  static std::mutex mutex;
  static std::set<std::string> said;
  const std::lock_guard<std::mutex> lock(mutex);
  if (said.insert(message).second) logger().warn("{}", message);
}

}  // namespace otfgp
