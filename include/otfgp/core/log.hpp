#pragma once
// The one logger of the library. The CLI decides where it writes and how much.

#include <spdlog/spdlog.h>

namespace otfgp {

spdlog::logger& logger();

}  // namespace otfgp
