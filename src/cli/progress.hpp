#pragma once
// A one-line progress display (done/total, rate, ETA) on stderr, drawn only
// when stderr is a terminal and at most a few times a second, so that logs
// and CI output stay clean.

#include <chrono>
#include <string>

namespace otfgp {

class Progress {
 public:
  Progress(std::string label, long total, std::string unit);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(long done);
  // Clears the line; called by the destructor too.
  void finish();
  double elapsed_seconds() const;

 private:
  std::string label_;
  long total_;
  std::string unit_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace otfgp
