#pragma once
// Clean stops on SIGINT and SIGTERM for long verbs (md, train, relax, hull,
// otf, search). While an InterruptGuard lives, the first such signal only
// sets a flag: the work finishes its current step, writes resumable state and
// ends with InterruptedError. A second signal ends the process at once (the
// default action), for a user who does not want to wait.

#include <string>

#include "otfgp/core/error.hpp"

namespace otfgp {

class InterruptGuard {
 public:
  // The outermost guard installs the handlers and clears the flag; its end
  // restores the previous handlers and clears the flag again (the signal
  // travels on in the InterruptedError), so that nothing after it sees a stale
  // one. A guard inside another changes nothing.
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
};

// True once SIGINT or SIGTERM arrived under a guard.
bool interrupt_requested();
// The signal that arrived (SIGINT, SIGTERM), 0 when none.
int interrupt_signal();

// Stopping inside a long computation. Code that can stop between its parts
// without leaving a half-changed state (the GP's frame loops and factor
// updates, a likelihood evaluation) calls stop_point(); it throws
// InterruptedError once a signal arrived, but only while an
// InterruptibleSection lives (otfgp train), so that verbs which stop at their
// own points (md, otf) still finish their step as before.
class InterruptibleSection {
 public:
  InterruptibleSection();
  ~InterruptibleSection();
  InterruptibleSection(const InterruptibleSection&) = delete;
  InterruptibleSection& operator=(const InterruptibleSection&) = delete;
};
// `during` says what was stopped ("the label rows of frame 3"), for the message.
void stop_point(const std::string& during);
// True where stop_point would throw: a signal arrived inside an
// InterruptibleSection. For loops that end early instead of throwing.
bool stop_point_reached();

// Thrown by long verbs after they stopped cleanly on a signal; the CLI exits
// with 128 + signal (130 for SIGINT, 143 for SIGTERM), as shells expect.
class InterruptedError : public Error {
 public:
  InterruptedError(int signal, const std::string& message) : Error(message), signal_(signal) {}
  int signal() const { return signal_; }

 private:
  int signal_;
};

}  // namespace otfgp
