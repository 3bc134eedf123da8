#pragma once
// push: the same files at the same paths on every host. Each copy goes to a temporary name beside the target,
// its SHA-256 is checked on the host, and only then is it renamed over the target (rename is atomic), so an
// interrupted copy leaves the old file in place. Afterwards every host's checksum is compared with ours.
#include <string>
#include <vector>

#include "cluster/cluster_file.h"

namespace xfer::cluster {

struct PushRow {
  std::string host, path;
  std::string state;       // dry run: "same", "differs", "missing", "unreachable"; copy: "copied", "same", "failed"
  std::string remote_sha;  // after the copy (or as found, for a dry run)
  std::string detail;      // why it failed
};

struct PushOptions {
  std::vector<std::string> files;  // absolute local paths; empty: the cluster file's [push] common_files
  bool dry_run = false;
  int fanout = 32;
  double timeout_s = 300;
};

std::vector<PushRow> push_files(const ClusterFile& cluster, const PushOptions& options);

}  // namespace xfer::cluster
