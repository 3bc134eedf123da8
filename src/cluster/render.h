#pragma once
// render: the Hadoop, Spark, Slurm and MPI files of a cluster, sized from each host's facts.
// Layout under --out: hadoop/{core,hdfs,yarn,mapred}-site.xml, hadoop/capacity-scheduler.xml, hadoop/workers,
// hadoop/hadoop-env.sh, hadoop/yarn-env.sh; spark/spark-defaults.conf, spark/spark-env.sh, spark/workers;
// slurm/slurm.conf; mpi/hostfile.
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cluster/cluster_file.h"
#include "cluster/facts.h"
#include "cluster/sizing.h"

namespace xfer::cluster {

struct SparkSizing {
  int executor_cores = 0;
  long executor_mb = 0, executor_overhead_mb = 0;
  long driver_mb = 0, driver_overhead_mb = 0;
  int executors_per_node = 0;
  int executor_instances = 0;
  std::string reason;
};

struct RenderPlan {
  YarnSizing yarn;        // of the smallest worker: one yarn-site.xml must hold on every NodeManager
  std::string yarn_host;  // which worker that was
  int nodemanager_vcores = 0;
  SparkSizing spark;
  double am_percent = 0.1;
};

struct RenderedFile {
  std::string relative_path;  // e.g. "hadoop/yarn-site.xml"
  std::string contents;
};

// Which parts: any of "hadoop", "spark", "slurm", "mpi".
std::vector<RenderedFile> render_files(const ClusterFile& cluster, const std::vector<HostFacts>& facts,
                                       const std::set<std::string>& parts, RenderPlan* plan = nullptr);

// The files the cluster's roles call for (the default of `render --for`), and the parts left out with the reason:
// hadoop needs a namenode, a resourcemanager and a worker; spark runs on YARN (a resourcemanager and a worker);
// slurm needs one slurmctld and a worker or slurmd; mpi a worker or slurmd.
struct PartsForRoles {
  std::set<std::string> parts;
  std::vector<std::pair<std::string, std::string>> skipped;  // (part, why)
};
PartsForRoles parts_for_roles(const ClusterFile& cluster);

// Hosts whose facts rendering needs: the workers (YARN, MPI) and slurmd hosts.
std::vector<const Host*> compute_hosts(const ClusterFile& cluster);

// Writes each file atomically under out.
void write_rendered(const std::filesystem::path& out, const std::vector<RenderedFile>& files);

}  // namespace xfer::cluster
