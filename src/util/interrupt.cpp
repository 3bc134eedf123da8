#include "util/interrupt.h"

#include <csignal>
#include <cstring>

namespace xfer {
namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void record_signal(int signal_number) {
  g_signal = signal_number;
  std::signal(signal_number, SIG_DFL);  // a second Ctrl-C ends the process at once
}

}  // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, record_signal);
  std::signal(SIGTERM, record_signal);
}

int interrupted() { return g_signal; }

void simulate_interrupt(int signal_number) { g_signal = signal_number; }

std::string signal_name(int signal_number) {
  switch (signal_number) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "signal " + std::to_string(signal_number);
  }
}

void throw_if_interrupted(const std::string& what) {
  const int s = g_signal;
  if (s != 0) throw Interrupted(s, what + ": interrupted by " + signal_name(s));
}

}  // namespace xfer
