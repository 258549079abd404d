#pragma once
// The one logger of the library. The CLI decides where it writes and how much.

#include <spdlog/spdlog.h>

#include <string>

namespace otfgp {

spdlog::logger& logger();

// Logs `message` as a warning the first time this process meets it: what a
// file says is said once, however often it is read or bound (a potential
// bound afresh for each evaluation).
void warn_once(const std::string& message);

}  // namespace otfgp
