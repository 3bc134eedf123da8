#include "dist/launcher.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

namespace xfer::dist {
namespace {

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  try {
    return std::stoi(value);
  } catch (const std::exception&) {
    return fallback;
  }
}

bool has_env(const char* name) { return std::getenv(name) != nullptr; }

}  // namespace

std::optional<LaunchEnvironment> detect_launcher() {
  if (has_env("OMPI_COMM_WORLD_SIZE"))
    return LaunchEnvironment{"mpirun", env_int("OMPI_COMM_WORLD_SIZE", 0), env_int("OMPI_COMM_WORLD_RANK", -1)};
  // srun sets SLURM_STEP_NUM_TASKS for the tasks of a job step; a batch script (sbatch) is not a step of tasks.
  if (has_env("SLURM_STEP_NUM_TASKS") && has_env("SLURM_PROCID"))
    return LaunchEnvironment{"srun", env_int("SLURM_STEP_NUM_TASKS", 0), env_int("SLURM_PROCID", -1)};
  if (has_env("PMIX_RANK") || has_env("PMI_RANK"))
    return LaunchEnvironment{"pmi", env_int("PMI_SIZE", 0), env_int("PMIX_RANK", env_int("PMI_RANK", -1))};
  return std::nullopt;
}

int default_threads_per_rank(int ranks_on_host) {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  int allowed = sched_getaffinity(0, sizeof(mask), &mask) == 0 ? CPU_COUNT(&mask) : 0;
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  const int host_cores = online > 0 ? static_cast<int>(online) : 1;
  if (allowed <= 0) allowed = host_cores;
  const int share = std::max(1, host_cores / std::max(1, ranks_on_host));
  return std::max(1, std::min(allowed, share));
}

}  // namespace xfer::dist
