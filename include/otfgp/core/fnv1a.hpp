#pragma once
// FNV-1a, 64 bit: a fingerprint that detects accidental damage or change (a
// file's content, a checkpoint's inputs), not a tampering adversary.

#include <cstddef>
#include <cstdint>
#include <string>

namespace otfgp {

inline constexpr std::uint64_t fnv1a_offset = 1469598103934665603ull;

// Folds `count` bytes into `state` (start from fnv1a_offset).
inline std::uint64_t fnv1a(const void* data, std::size_t count,
                           std::uint64_t state = fnv1a_offset) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t k = 0; k < count; ++k) state = (state ^ p[k]) * 1099511628211ull;
  return state;
}

inline std::uint64_t fnv1a(const std::string& text, std::uint64_t state = fnv1a_offset) {
  return fnv1a(text.data(), text.size(), state);
}

}  // namespace otfgp
