#pragma once
// doctor: everything the recipe assumed but never checked. Each problem is one line: host, what, fix.
#include <string>
#include <vector>

#include "cluster/cluster_file.h"
#include "cluster/facts.h"

namespace xfer::cluster {

struct Problem {
  std::string host, what, fix;
};

struct Hop {
  std::string from, to;  // from "" = this machine
  SshOutcome outcome = SshOutcome::ran;
  std::string detail;
};

struct DoctorReport {
  std::vector<HostFacts> facts;
  std::vector<Hop> hops;  // this machine -> each host, then each reachable host -> every host (itself included)
  std::vector<Problem> problems;
  // Not failures: e.g. a host declaring fewer cores than it has (a deliberate reserve, perhaps). A declaration of
  // more cores, memory or disks than measured is a problem: everything sized from it over-commits the host.
  std::vector<Problem> warnings;
};

struct DoctorOptions {
  int fanout = 32;
  double max_clock_offset_s = 1.0;
  double min_free_fraction = 0.10;  // DFS folders with less free space are a problem
};

DoctorReport run_doctor(const ClusterFile& cluster, const DoctorOptions& options = {});

// The script a host runs to try every host by ssh; prints "hop <index> <exit code> <ssh message>" lines.
std::string all_to_all_script(const ClusterFile& cluster);

}  // namespace xfer::cluster
