#include "cluster/broadcast.h"

#include <algorithm>

#include "util/error.h"

namespace xfer::cluster {

std::vector<HostRun> broadcast(const ClusterFile& cluster, const BroadcastOptions& options) {
  if (options.command.empty()) usage_fail("broadcast: no command given; write it after --, e.g. -- uptime");
  const std::string remote = shell_join(options.command);
  std::vector<HostRun> runs(cluster.hosts.size());
  run_parallel(cluster.hosts.size(), options.fanout, [&](size_t i) {
    const Host& host = cluster.hosts[i];
    ProcessOptions p;
    p.timeout_s = options.timeout_s;
    if (options.on_line) p.on_line = [&](int stream, const std::string& line) { options.on_line(host, stream, line); };
    runs[i].host = host.name;
    runs[i].result = ssh_run(host, remote, p);
  });
  return runs;
}

int worst_code(const std::vector<HostRun>& runs) {
  int worst = 0;
  for (const auto& r : runs) worst = std::max(worst, r.code());
  return worst;
}

}  // namespace xfer::cluster
