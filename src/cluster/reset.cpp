#include "cluster/reset.h"

#include "util/error.h"

namespace xfer::cluster {
namespace {

// The environment Hadoop's scripts expect, then the script: sh -c 'export ...; exec "$0" "$@"' script args.
std::vector<std::string> hadoop_command(const ClusterFile& c, const std::string& program, std::vector<std::string> args) {
  std::string env = "export HADOOP_HOME=\"$1\" HADOOP_CONF_DIR=\"$2\"";
  if (!c.hadoop.java_home.empty()) env += " JAVA_HOME=\"$3\"";
  std::vector<std::string> words = {"sh", "-c", env + "; shift 3; exec \"$@\"", "sh", c.hadoop.home, c.conf_dir(),
                                    c.hadoop.java_home, c.hadoop.home + "/" + program};
  words.insert(words.end(), args.begin(), args.end());
  return words;
}

}  // namespace

std::vector<ResetStep> reset_dfs_plan(const ClusterFile& c) {
  const Host& nn = c.only_host_with_role("namenode");
  std::vector<ResetStep> steps;
  steps.push_back({nn.name, "stop HDFS", hadoop_command(c, "sbin/stop-dfs.sh", {})});
  // The contents of each DFS folder, not the folder itself (it may be a mount point owned by root).
  for (const auto& h : c.hosts) {
    if (!(h.has_role("namenode") || h.has_role("worker"))) continue;
    std::vector<std::string> words = {"sh", "-c",
                                      "for d in \"$@\"; do [ -d \"$d\" ] || continue; find \"$d\" -mindepth 1 -delete || exit 1; done",
                                      "sh"};
    words.insert(words.end(), c.hadoop.dfs_dirs.begin(), c.hadoop.dfs_dirs.end());
    steps.push_back({h.name, "wipe the DFS folders", words});
  }
  steps.push_back({nn.name, "format the NameNode", hadoop_command(c, "bin/hdfs", {"namenode", "-format", "-force", "-nonInteractive"})});
  steps.push_back({nn.name, "start HDFS", hadoop_command(c, "sbin/start-dfs.sh", {})});
  return steps;
}

std::vector<ResetStep> reset_yarn_plan(const ClusterFile& c) {
  const Host& rm = c.only_host_with_role("resourcemanager");
  return {{rm.name, "stop YARN", hadoop_command(c, "sbin/stop-yarn.sh", {})},
          {rm.name, "start YARN", hadoop_command(c, "sbin/start-yarn.sh", {})}};
}

std::vector<ResetStep> reset_slurm_plan(const ClusterFile& c) {
  const Host& ctld = c.only_host_with_role("slurmctld");
  std::vector<ResetStep> steps = {{ctld.name, "restart slurmctld", c.slurm.restart_slurmctld}};
  for (const auto& h : c.hosts)
    if (h.has_role("slurmd") || h.has_role("worker")) steps.push_back({h.name, "restart slurmd", c.slurm.restart_slurmd});
  return steps;
}

std::vector<StepResult> run_steps(const ClusterFile& cluster, const std::vector<ResetStep>& steps, double timeout_s,
                                  const std::function<void(const ResetStep&)>& on_step) {
  std::vector<StepResult> results;
  bool failed = false;
  for (const auto& step : steps) {
    StepResult r;
    r.step = step;
    if (!failed) {
      const Host* host = nullptr;
      for (const auto& h : cluster.hosts)
        if (h.name == step.host) host = &h;
      if (!host) fail("reset: no host {}", step.host);
      if (on_step) on_step(step);
      ProcessOptions p;
      p.timeout_s = timeout_s;
      r.result = ssh_run(*host, shell_join(step.words), p);
      r.ran = true;
      failed = !r.ok();
    }
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace xfer::cluster
