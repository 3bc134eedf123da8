#pragma once
// Was this process started by a parallel launcher, and which world did the launcher mean to start? Read from
// the environment each launcher sets: OpenMPI's mpirun (OMPI_COMM_WORLD_*), Slurm's srun (SLURM_STEP_NUM_TASKS,
// SLURM_PROCID), PMIx and MPICH-style PMI (PMIX_RANK, PMI_SIZE). A process with none of them is a single
// process and never initialises MPI.
#include <optional>
#include <string>

namespace xfer::dist {

struct LaunchEnvironment {
  std::string launcher;  // "mpirun", "srun", "pmi"
  int size = 0;          // ranks the launcher started (0: it did not say)
  int rank = -1;
};

std::optional<LaunchEnvironment> detect_launcher();

// Threads a rank should use by default: the cores it may run on (its affinity mask, which mpirun's binding
// narrows) and its share of the host's cores (cores / ranks on the host), whichever is smaller; at least 1.
int default_threads_per_rank(int ranks_on_host);

}  // namespace xfer::dist
