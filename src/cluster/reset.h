#pragma once
// reset-dfs, reset-yarn, reset-slurm: Hadoop's own sbin scripts (and Slurm's restart commands) run over ssh on
// the hosts whose roles call for them, one step after another, stopping at the first failure.
#include <functional>
#include <string>
#include <vector>

#include "cluster/cluster_file.h"
#include "cluster/ssh.h"

namespace xfer::cluster {

struct ResetStep {
  std::string host;
  std::string what;                // in words, e.g. "stop HDFS"
  std::vector<std::string> words;  // the remote command, quoted for the remote shell when run
};

struct StepResult {
  ResetStep step;
  SshResult result;
  bool ran = false;  // false: skipped after an earlier failure
  bool ok() const { return ran && result.outcome == SshOutcome::ran && result.exit_code == 0; }
};

// The plans, in order.
std::vector<ResetStep> reset_dfs_plan(const ClusterFile& cluster);    // stop-dfs, wipe every host's dfs_dirs, format, start-dfs
std::vector<ResetStep> reset_yarn_plan(const ClusterFile& cluster);   // stop-yarn, start-yarn on the resourcemanager
std::vector<ResetStep> reset_slurm_plan(const ClusterFile& cluster);  // slurmctld, then every slurmd

// Runs the steps in order and stops at the first failure; on_step is told before each step runs.
std::vector<StepResult> run_steps(const ClusterFile& cluster, const std::vector<ResetStep>& steps, double timeout_s,
                                  const std::function<void(const ResetStep&)>& on_step = {});

}  // namespace xfer::cluster
