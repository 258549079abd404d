#pragma once
// An environment variable set (or, with std::nullopt, unset) for one scope and
// put back as it was when the scope ends, however it ends (an exception, a
// failed REQUIRE), so that a test's setting never reaches the test cases after
// it and a value set from outside survives.

#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

namespace otfgp::testing {

class ScopedEnvironment {
 public:
  ScopedEnvironment(std::string name, const std::optional<std::string>& value)
      : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value)
      setenv(name_.c_str(), value->c_str(), 1);
    else
      unsetenv(name_.c_str());
  }
  ~ScopedEnvironment() {
    if (old_)
      setenv(name_.c_str(), old_->c_str(), 1);
    else
      unsetenv(name_.c_str());
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

}  // namespace otfgp::testing
