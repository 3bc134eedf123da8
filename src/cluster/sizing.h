#pragma once
// Memory and core sizing by the published rules.
// YARN: Hortonworks' YARN memory calculator (HDP "Determine YARN and MapReduce memory configuration settings",
// yarn-utils.py): memory in whole GB, reserved memory from its table, containers =
// min(2 x cores, ceil(1.8 x disks), available / minimum container size), RAM per container =
// max(minimum container size, available / containers), rounded down to 512 MB above 1 GB.
// Published example: 16 cores, 64 GB, 4 disks, no HBase -> 8 containers x 7168 MB = 57344 MB.
// Spark: container overhead max(384 MiB, 0.10 x executor memory) (spark.executor.memoryOverhead's default).
// All sizes in MiB.
#include <string>

namespace xfer::cluster {

struct YarnSizing {
  long total_gb = 0;
  long reserved_gb = 0;       // operating system and the Hadoop daemons (no HBase)
  long min_container_mb = 0;
  long containers = 0;
  long container_mb = 0;      // RAM per container
  long nodemanager_mb = 0;    // containers x container_mb: yarn.nodemanager.resource.memory-mb
  std::string reason;         // the arithmetic in words, for the comment in yarn-site.xml
};

// memory_mb is the host's total RAM; it is rounded to whole GB as the calculator takes it.
YarnSizing size_yarn(int cores, long memory_mb, int disks);
long reserved_system_gb(long total_gb);   // the table row at or below total_gb
long min_container_mb(long total_gb);

long spark_overhead_mb(long executor_mb);  // max(384, 0.10 x executor memory), rounded down like Spark
// Rounds up to a multiple of the scheduler's minimum allocation, as YARN's scheduler normalises requests.
long round_up_to(long mb, long step);

// Spark/JVM memory strings: "12g", "2048m", "1t", "512k"; a bare number is MiB (Spark's convention for
// spark.executor.memory). Throws UsageError naming `what` for anything else.
long parse_memory_mb(const std::string& text, const std::string& what);

}  // namespace xfer::cluster
