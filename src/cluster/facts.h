#pragma once
// What each host has, measured over ssh: cores (nproc), memory (/proc/meminfo MemTotal), the file systems under
// the DFS folders (df), tool versions, and its clock against ours. Overrides in the cluster file win.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cluster/cluster_file.h"
#include "cluster/ssh.h"

namespace xfer::cluster {

struct DiskFacts {
  std::string dir;         // the DFS folder asked about
  std::string filesystem;  // df's device column: folders on one device count as one disk
  std::string mount;
  long total_mb = 0, free_mb = 0;
};

struct HostFacts {
  std::string host;
  SshOutcome reach = SshOutcome::ran;
  std::string reach_detail;
  int cores = 0;
  long memory_mb = 0;
  int disks = 0;  // distinct file systems under the DFS folders (or the override)
  std::vector<DiskFacts> dfs;
  std::map<std::string, std::string> versions;  // tool -> first version line; absent: not installed
  std::optional<double> clock_offset_s;         // remote minus local: 0 when the remote reading fell within our
                                                // round trip, else its distance to the nearer end (a lower bound)
  double clock_uncertainty_s = 0;               // the round trip's length
  bool measured = false;                        // facts came from the host (false: overrides only)
  // What the host itself reported, before the cluster file's overrides (0: not measured). cores, memory_mb and
  // disks above are the values sizing uses: the override when one is declared, else these.
  int measured_cores = 0;
  long measured_memory_mb = 0;
  int measured_disks = 0;
};

// The shell script run on each host; prints "key value..." lines that parse_facts reads.
std::string facts_script(const ClusterFile& cluster);
HostFacts parse_facts(const Host& host, const std::string& output);

// Measures every host in parallel. Hosts that cannot be reached keep reach != ran and their overrides.
std::vector<HostFacts> collect_facts(const ClusterFile& cluster, int fanout, bool with_clock);

// Facts for sizing: every value present (overrides, else measured); throws Error naming the host and the
// missing value with the fix (set cores/memory_mb/disks in the cluster file, or make the host reachable).
std::vector<HostFacts> facts_for_sizing(const ClusterFile& cluster, const std::vector<const Host*>& hosts, int fanout);

}  // namespace xfer::cluster
