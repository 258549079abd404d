#include "otfgp/core/interrupt.hpp"

#include <atomic>
#include <csignal>

namespace otfgp {

namespace {

volatile std::sig_atomic_t received_signal = 0;
int guards = 0;  // InterruptGuards alive (one thread installs them)
std::atomic<int> interruptible_sections{0};
struct sigaction previous_int {};
struct sigaction previous_term {};

extern "C" void on_signal(int signal) {
  if (received_signal != 0) {
    // Second signal: take the default action now.
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    return;
  }
  received_signal = signal;
}

}  // namespace

InterruptGuard::InterruptGuard() {
  if (guards++ > 0) return;  // inside another guard: its handlers and flag stand
  received_signal = 0;
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, &previous_int);
  sigaction(SIGTERM, &action, &previous_term);
}

InterruptGuard::~InterruptGuard() {
  if (--guards > 0) return;
  sigaction(SIGINT, &previous_int, nullptr);
  sigaction(SIGTERM, &previous_term, nullptr);
  received_signal = 0;
}

bool interrupt_requested() {
  return received_signal != 0;
}

int interrupt_signal() {
  return received_signal;
}

InterruptibleSection::InterruptibleSection() {
  ++interruptible_sections;
}

InterruptibleSection::~InterruptibleSection() {
  --interruptible_sections;
}

bool stop_point_reached() {
  return received_signal != 0 && interruptible_sections.load() > 0;
}

void stop_point(const std::string& during) {
  if (stop_point_reached()) throw InterruptedError(received_signal, "stopped during " + during);
}

}  // namespace otfgp
