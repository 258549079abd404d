// A Kokkos Tools library that times every kernel, deep copy and fence by name,
// for finding where an MD step spends its time on a GPU (scripts/gpu-check).
//
//   g++ -O2 -std=c++17 -shared -fPIC bench/kokkos_kernel_timer.cpp -o kernel_timer.so
//   KOKKOS_TOOLS_LIBS=$PWD/kernel_timer.so KERNEL_TIMER_OUT=kernels.txt otfgp md run.yaml
//
// Kokkos fences the device before and after each kernel while a tool is loaded
// (a tool's default "requires_global_fencing"), so the wall time between the
// begin and end callbacks is the kernel's own time plus one launch. The table
// (to KERNEL_TIMER_OUT, else stderr) lists each name with its calls, total and
// mean time and share of the timed total, largest first.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Entry {
  long calls = 0;
  double seconds = 0.0;
  double bytes = 0.0;
};

struct Open {
  std::string name;
  Clock::time_point start;
};

std::map<std::string, Entry>& table() {
  static std::map<std::string, Entry> entries;
  return entries;
}

std::vector<Open>& open_regions() {
  static std::vector<Open> stack;
  return stack;
}

void begin(const std::string& name, uint64_t* id) {
  open_regions().push_back({name, Clock::now()});
  *id = open_regions().size() - 1;
}

void end(uint64_t id, double bytes = 0.0) {
  auto& stack = open_regions();
  if (id >= stack.size()) return;
  const Open region = stack[id];
  stack.resize(id);
  Entry& entry = table()[region.name];
  ++entry.calls;
  entry.seconds += std::chrono::duration<double>(Clock::now() - region.start).count();
  entry.bytes += bytes;
}

double copy_bytes = 0.0;
uint64_t copy_id = 0;

}  // namespace

struct Kokkos_Profiling_SpaceHandle {
  char name[64];
};

struct Kokkos_Tools_ToolSettings {
  bool requires_global_fencing;
  bool padding[255];
};

extern "C" {

void kokkosp_init_library(int, uint64_t, uint32_t, void*) {}

void kokkosp_request_tool_settings(uint32_t, Kokkos_Tools_ToolSettings* settings) {
  settings->requires_global_fencing = true;
}

void kokkosp_begin_parallel_for(const char* name, uint32_t, uint64_t* id) {
  begin(std::string("for    ") + name, id);
}
void kokkosp_end_parallel_for(uint64_t id) {
  end(id);
}
void kokkosp_begin_parallel_reduce(const char* name, uint32_t, uint64_t* id) {
  begin(std::string("reduce ") + name, id);
}
void kokkosp_end_parallel_reduce(uint64_t id) {
  end(id);
}
void kokkosp_begin_parallel_scan(const char* name, uint32_t, uint64_t* id) {
  begin(std::string("scan   ") + name, id);
}
void kokkosp_end_parallel_scan(uint64_t id) {
  end(id);
}
void kokkosp_begin_fence(const char* name, uint32_t, uint64_t* id) {
  begin(std::string("fence  ") + name, id);
}
void kokkosp_end_fence(uint64_t id) {
  end(id);
}

void kokkosp_begin_deep_copy(Kokkos_Profiling_SpaceHandle destination, const char*, const void*,
                             Kokkos_Profiling_SpaceHandle source, const char*, const void*,
                             uint64_t size) {
  copy_bytes = static_cast<double>(size);
  begin(std::string("copy   ") + source.name + " -> " + destination.name, &copy_id);
}
void kokkosp_end_deep_copy() {
  end(copy_id, copy_bytes);
}

void kokkosp_finalize_library() {
  std::vector<std::pair<std::string, Entry>> rows(table().begin(), table().end());
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  double total = 0.0;
  for (const auto& row : rows) {
    if (row.first.rfind("fence", 0) != 0) total += row.second.seconds;
  }
  const char* path = std::getenv("KERNEL_TIMER_OUT");
  FILE* out = path != nullptr ? std::fopen(path, "w") : nullptr;
  if (out == nullptr) out = stderr;
  std::fprintf(out, "# kernels and copies: %.6f s in all (fences listed, not summed)\n", total);
  std::fprintf(out, "# %10s %12s %12s %7s %10s  %s\n", "calls", "total_s", "mean_us", "share", "MB",
               "name");
  for (const auto& [name, entry] : rows) {
    std::fprintf(out, "  %10ld %12.6f %12.2f %6.2f%% %10.2f  %s\n", entry.calls, entry.seconds,
                 1e6 * entry.seconds / static_cast<double>(entry.calls),
                 total > 0.0 ? 100.0 * entry.seconds / total : 0.0, entry.bytes / 1e6,
                 name.c_str());
  }
  if (out != stderr) std::fclose(out);
}

}  // extern "C"
