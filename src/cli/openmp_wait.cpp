#include "cli/openmp_wait.h"

#include <unistd.h>

#include <cstdlib>
#include <thread>

namespace xfer::cli {

void choose_openmp_wait_policy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  double load[1] = {0.0};
  const unsigned cores = std::thread::hardware_concurrency();
  if (getloadavg(load, 1) != 1 || cores == 0 || load[0] < static_cast<double>(cores)) return;  // idle enough: spin
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: go on with libgomp's default
}

}  // namespace xfer::cli
