#pragma once
// broadcast: one command on every host in parallel, with a per-host time-out and a status row per host.
#include <functional>
#include <string>
#include <vector>

#include "cluster/cluster_file.h"
#include "cluster/ssh.h"

namespace xfer::cluster {

struct BroadcastOptions {
  std::vector<std::string> command;  // the words, delivered to the remote program exactly as given
  double timeout_s = 0;              // per host; 0: none (ssh's connect time-out still applies)
  int fanout = 32;                   // hosts at once
  // Streaming: called with (host, stream 1|2, line) as lines arrive; unset: output is kept per host.
  std::function<void(const Host&, int, const std::string&)> on_line;
};

struct HostRun {
  std::string host;
  SshResult result;
  // The code to report: the remote exit code, or 255 when ssh itself failed or the time-out killed it.
  int code() const { return result.outcome == SshOutcome::ran ? result.exit_code : 255; }
};

std::vector<HostRun> broadcast(const ClusterFile& cluster, const BroadcastOptions& options);
int worst_code(const std::vector<HostRun>& runs);

}  // namespace xfer::cluster
