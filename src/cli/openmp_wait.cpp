#include "cli/openmp_wait.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

namespace xfer::cli {

namespace {

// Threads runnable right now besides this one: the fourth field of /proc/loadavg ("running/total") counts this
// process too. -1 when the file cannot be read.
int other_runnable_threads() {
  std::ifstream file("/proc/loadavg");
  double avg1 = 0, avg5 = 0, avg15 = 0;
  int running = 0;
  char slash = 0;
  if (!(file >> avg1 >> avg5 >> avg15 >> running >> slash) || slash != '/') return -1;
  return running - 1;
}

// Every core taken by other threads in each of three samples 10 ms apart, so that one busy instant (a shell
// starting) is not a busy host. An idle host answers at the first sample, without waiting.
bool cores_all_busy(unsigned cores) {
  for (int sample = 0; sample < 3; ++sample) {
    if (sample > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const int others = other_runnable_threads();
    if (others < 0 || others < static_cast<int>(cores)) return false;
  }
  return true;
}

}  // namespace

void choose_openmp_wait_policy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  const unsigned cores = std::thread::hardware_concurrency();
  if (cores == 0 || !cores_all_busy(cores)) return;  // a core is free (or unknown): spin
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: go on with libgomp's default
}

}  // namespace xfer::cli
