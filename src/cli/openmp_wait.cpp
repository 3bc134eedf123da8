#include "cli/openmp_wait.h"

#include <unistd.h>

#include <cstdlib>

namespace xfer::cli {

void ensure_passive_openmp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: go on with libgomp's default
}

}  // namespace xfer::cli
