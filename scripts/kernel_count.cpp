// A Kokkos Tools library for scripts/kernel-count: counts the kernels
// (parallel_for, parallel_reduce, parallel_scan) each process launches, by
// name, and appends them to $KERNEL_COUNT_DIR/<pid> ("count<TAB>name" lines)
// when Kokkos finalizes. Loaded through KOKKOS_PROFILE_LIBRARY (Kokkos 3) or
// KOKKOS_TOOLS_LIBS (Kokkos 4).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

namespace {

std::mutex counts_mutex;
std::map<std::string, long>& counts() {
  static std::map<std::string, long> by_name;
  return by_name;
}

void count(const char* name) {
  std::lock_guard<std::mutex> lock(counts_mutex);
  ++counts()[name];
}

}  // namespace

extern "C" {

void kokkosp_init_library(int, uint64_t, uint32_t, void*) {}

void kokkosp_finalize_library() {
  const char* dir = std::getenv("KERNEL_COUNT_DIR");
  if (dir == nullptr || counts().empty()) return;
  const std::string path = std::string(dir) + "/" + std::to_string(getpid());
  FILE* out = std::fopen(path.c_str(), "a");
  if (out == nullptr) return;
  for (const auto& [name, n] : counts()) std::fprintf(out, "%ld\t%s\n", n, name.c_str());
  std::fclose(out);
}

void kokkosp_begin_parallel_for(const char* name, uint32_t, uint64_t*) {
  count(name);
}
void kokkosp_end_parallel_for(uint64_t) {}
void kokkosp_begin_parallel_reduce(const char* name, uint32_t, uint64_t*) {
  count(name);
}
void kokkosp_end_parallel_reduce(uint64_t) {}
void kokkosp_begin_parallel_scan(const char* name, uint32_t, uint64_t*) {
  count(name);
}
void kokkosp_end_parallel_scan(uint64_t) {}

}  // extern "C"
