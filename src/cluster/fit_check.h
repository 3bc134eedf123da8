#pragma once
// check: will a Spark-on-YARN job (or an xfer MPI job) fit the cluster, before it is submitted and sits in
// ACCEPTED? Each container = memory + overhead, normalised by the scheduler (rounded up to a multiple of
// yarn.scheduler.minimum-allocation-mb), checked against yarn.scheduler.maximum-allocation-mb/-vcores, placed on
// the NodeManagers' yarn.nodemanager.resource.memory-mb and cpu-vcores, and the ApplicationMaster against
// yarn.scheduler.capacity.maximum-am-resource-percent. Sizes in MiB.
#include <filesystem>
#include <string>
#include <vector>

namespace xfer::cluster {

// Hadoop's defaults (yarn-default.xml; 0.1 for the CapacityScheduler's AM share) unless the files say otherwise.
struct YarnLimits {
  long min_allocation_mb = 1024, max_allocation_mb = 8192;
  long min_allocation_vcores = 1, max_allocation_vcores = 4;
  long nodemanager_mb = 8192, nodemanager_vcores = 8;
  double max_am_percent = 0.1;
  bool vcores_count = false;  // DominantResourceCalculator; the default calculator places by memory only
  std::string source;         // the files read, for messages
};

// Reads yarn-site.xml, and capacity-scheduler.xml beside it when present (AM share, resource calculator).
YarnLimits read_yarn_limits(const std::filesystem::path& yarn_site);

struct SparkJob {
  int executors = 2;
  long executor_mb = 1024;
  int executor_cores = 1;
  long executor_overhead_mb = 0;  // 0: Spark's default max(384, 0.10 x executor memory)
  long driver_mb = 1024;
  int driver_cores = 1;
  long driver_overhead_mb = 0;    // 0: max(384, 0.10 x driver memory)
  std::string deploy_mode = "cluster";  // cluster: the driver is the ApplicationMaster; client: a 512 MB AM
  long client_am_mb = 512;        // spark.yarn.am.memory (client mode)
};

struct Container {
  std::string kind;  // "ApplicationMaster (driver)", "executor 1"...
  long requested_mb = 0, allocated_mb = 0;
  int vcores = 0;
  std::string placed_on;  // empty: nowhere
};

struct NodeUse {
  std::string host;
  long used_mb = 0, capacity_mb = 0;
  long used_vcores = 0, capacity_vcores = 0;
};

struct FitReport {
  bool fits = true;
  std::vector<Container> containers;
  std::vector<NodeUse> nodes;
  std::vector<std::string> problems;  // each says what does not fit and which setting to change
  std::vector<std::string> notes;     // true but not blocking
};

FitReport check_spark_fit(const YarnLimits& limits, const std::vector<std::string>& nodemanagers, const SparkJob& job);

struct MpiHost {
  std::string name;
  int cores = 0;
  long memory_mb = 0;
};
struct MpiJob {
  int ranks = 1;
  long memory_per_rank_mb = 1024;
};
// mpirun's default by-slot mapping (slots = cores), memory per host after the system's share (the YARN
// calculator's reserved-memory table).
FitReport check_mpi_fit(const std::vector<MpiHost>& hosts, const MpiJob& job);

}  // namespace xfer::cluster
