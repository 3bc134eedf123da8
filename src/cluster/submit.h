#pragma once
// submit: the recipe's `spark-submit`, on MPI. From the cluster file it picks the hosts (role "worker", for srun
// "slurmd"; every host when none has it), checks before anything starts that each is up (ssh for mpirun, Slurm's
// node state for srun) and that the ranks fit their cores and memory (cluster check's rules), and builds the
// launch: OpenMPI's mpirun over the cluster file's ssh settings and a hostfile, or Slurm's srun with PMIx.
#include <filesystem>
#include <string>
#include <vector>

#include "cluster/cluster_file.h"
#include "cluster/fit_check.h"

namespace xfer::cluster {

struct SubmitOptions {
  std::string launcher = "mpirun";   // mpirun | srun
  int ranks_per_host = 1;            // each rank then uses its share of the host's cores as threads
  long memory_per_rank_mb = 0;       // 0: the cluster file's [mpi] memory_per_rank_mb
  std::string xfer;                  // the xfer binary on the hosts; empty: [mpi] xfer, else this_xfer
  std::string this_xfer;             // the submitting xfer's own absolute path
  std::vector<std::string> command;  // the xfer command to run on every rank (train --data ... --out ...)
  int fanout = 32;
};

struct SubmitHost {
  std::string name, address;
  bool up = false;
  std::string why_down;  // when !up: what failed and the fix
  int cores = 0;
  long memory_mb = 0;
};

struct SubmitPlan {
  std::vector<SubmitHost> hosts;
  int ranks = 0;
  FitReport fit;
  std::vector<std::string> problems;  // hosts down, does not fit: nothing may start
  std::string hostfile;               // mpirun: the hostfile's text
  std::vector<std::string> argv;      // the launch command (the hostfile at hostfile_path)
};

// Checks the hosts and the fit and builds the command; never starts anything. hostfile_path is where the caller
// will write `hostfile` (mpirun).
SubmitPlan plan_submit(const ClusterFile& cluster, const SubmitOptions& options,
                       const std::filesystem::path& hostfile_path);

// Slurm's view of its nodes (`sinfo -h -N -o "%N %T %c %m"`): name -> state, cores, memory.
struct SlurmNode {
  std::string state;
  int cores = 0;
  long memory_mb = 0;
};
std::vector<std::pair<std::string, SlurmNode>> parse_sinfo_nodes(const std::string& sinfo_output);

}  // namespace xfer::cluster
