#pragma once
// SIGINT / SIGTERM as a request to stop cleanly: the handler only records the signal; long work checks
// interrupted() between batches and throws Interrupted, so nothing half-written is left looking complete.
// A second signal of the same kind ends the process at once (the default action is restored by the first).
#include <string>

#include "util/error.h"

namespace xfer {

// Thrown where work notices the request. main exits with 128 + signal, as a shell does.
class Interrupted : public ExitStatus {
 public:
  Interrupted(int signal_number, const std::string& message) : ExitStatus(128 + signal_number, message) {}
};

// Installs the handlers (idempotent).
void install_interrupt_handlers();
// The signal received (SIGINT, SIGTERM), or 0.
int interrupted();
// Throws Interrupted("<what>: interrupted by SIGTERM") when a signal was received.
void throw_if_interrupted(const std::string& what);
// For tests: as if the signal had arrived (0 clears).
void simulate_interrupt(int signal_number);
// "SIGINT", "SIGTERM", ...
std::string signal_name(int signal_number);

}  // namespace xfer
