#include "cluster/doctor.h"

#include <netdb.h>
#include <sys/socket.h>

#include <cmath>
#include <sstream>

#include <fmt/format.h>

namespace xfer::cluster {
namespace {

// getaddrinfo as the system resolves it (files, then DNS per nsswitch.conf).
std::string resolve_error(const std::string& name) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(name.c_str(), nullptr, &hints, &found);
  if (found) freeaddrinfo(found);
  return rc == 0 ? "" : gai_strerror(rc);
}

bool needs_hadoop(const Host& h) {
  return h.has_role("namenode") || h.has_role("resourcemanager") || h.has_role("worker");
}

}  // namespace

std::string all_to_all_script(const ClusterFile& cluster) {
  // Every hop in the background so that unreachable hosts cost one connect time-out, not one each.
  std::string script = "cd /tmp 2>/dev/null\n";
  for (size_t i = 0; i < cluster.hosts.size(); ++i) {
    script += fmt::format("( out=$({} 2>&1 </dev/null); rc=$?; printf 'hop {} %s %s\\n' \"$rc\" \"$(printf %s \"$out\" | tr '\\n' ' ')\" ) &\n",
                          ssh_command_line(cluster.hosts[i], "true"), i);
  }
  script += "wait\n";
  return script;
}

DoctorReport run_doctor(const ClusterFile& cluster, const DoctorOptions& options) {
  DoctorReport report;
  auto problem = [&](const std::string& host, std::string what, std::string fix) {
    report.problems.push_back({host, std::move(what), std::move(fix)});
  };

  // Name resolution here first: without it nothing else can work for that host.
  for (const auto& h : cluster.hosts) {
    const auto err = resolve_error(h.address);
    if (!err.empty())
      problem(h.name, fmt::format("address {} does not resolve here: {}", h.address, err),
              "add it to DNS or /etc/hosts, or give address = \"<IP>\" in its [[host]] table");
  }

  report.facts = collect_facts(cluster, options.fanout, true);
  for (size_t i = 0; i < cluster.hosts.size(); ++i) {
    const auto& h = cluster.hosts[i];
    const auto& f = report.facts[i];
    report.hops.push_back({"", h.name, f.reach, f.reach_detail});
    if (f.reach != SshOutcome::ran) {
      problem(h.name, fmt::format("ssh from this machine: {} ({})", outcome_name(f.reach), f.reach_detail),
              outcome_fix(f.reach, h));
      continue;
    }
    // Declared cores / memory / disks (the cluster file's overrides, which sizing uses) against the measured ones.
    auto compare = [&](const char* what, long declared, long measured, const char* key) {
      if (declared == 0 || measured == 0 || declared == measured) return;
      if (declared > measured)
        problem(h.name, fmt::format("declares {} {} but has {}: files sized from it over-commit the host", declared, what, measured),
                fmt::format("set {} = {} (or remove it to use what is measured) in its [[host]] table", key, measured));
      else
        report.warnings.push_back({h.name, fmt::format("declares {} {} but has {}: the rest stays unused", declared, what, measured),
                                   fmt::format("remove {} from its [[host]] table unless the reserve is meant", key)});
    };
    compare("cores", h.cores, f.measured_cores, "cores");
    compare("MB of memory", h.memory_mb, f.measured_memory_mb, "memory_mb");
    compare("disks", h.disks, f.measured_disks, "disks");
    if (needs_hadoop(h)) {
      if (!f.versions.count("java"))
        problem(h.name, "java not found", cluster.hadoop.java_home.empty()
                                              ? "install a JDK (e.g. openjdk-17-jdk-headless) or set [hadoop] java_home"
                                              : fmt::format("install a JDK at {} or fix [hadoop] java_home", cluster.hadoop.java_home));
      if (!f.versions.count("hadoop"))
        problem(h.name, fmt::format("Hadoop not found at {}", cluster.hadoop.home),
                "unpack Hadoop there on every host or fix [hadoop] home");
    }
    if (h.has_role("resourcemanager") && !f.versions.count("spark-submit"))
      problem(h.name, fmt::format("Spark not found at {}", cluster.spark.home), "unpack Spark there or fix [spark] home");
    if (h.has_role("slurmctld") && !f.versions.count("slurmctld"))
      problem(h.name, "slurmctld not installed", "install the slurmctld package");
    if (h.has_role("slurmd") && !f.versions.count("slurmd")) problem(h.name, "slurmd not installed", "install the slurmd package");
    if (needs_hadoop(h))
      for (const auto& d : f.dfs)
        if (d.total_mb > 0 && static_cast<double>(d.free_mb) < options.min_free_fraction * static_cast<double>(d.total_mb))
          problem(h.name, fmt::format("DFS folder {} ({}) has {} MB free of {} MB", d.dir, d.mount, d.free_mb, d.total_mb),
                  "free space there or list another disk in [hadoop] dfs_dirs");
    if (f.clock_offset_s && std::abs(*f.clock_offset_s) > options.max_clock_offset_s)
      problem(h.name, fmt::format("clock is at least {:+.2f} s off this machine's", *f.clock_offset_s),
              "run a time service (chrony or systemd-timesyncd) on every host");
  }

  // Through each reachable host to every host, itself included (the recipe's prerequisite).
  const std::string script = all_to_all_script(cluster);
  std::vector<std::vector<Hop>> through(cluster.hosts.size());
  run_parallel(cluster.hosts.size(), options.fanout, [&](size_t i) {
    const auto& h = cluster.hosts[i];
    if (report.facts[i].reach != SshOutcome::ran) return;
    ProcessOptions p;
    p.timeout_s = 2.0 * h.ssh.connect_timeout_s + 30;
    const auto r = ssh_run(h, shell_join({"sh", "-c", script}), p);
    if (r.outcome != SshOutcome::ran) {
      through[i].push_back({h.name, "*", r.outcome, r.detail});
      return;
    }
    std::vector<bool> seen(cluster.hosts.size(), false);
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      std::string tag;
      size_t index = 0;
      int rc = 0;
      if (!(words >> tag >> index >> rc) || tag != "hop" || index >= cluster.hosts.size()) continue;
      std::string message;
      std::getline(words, message);
      while (!message.empty() && message.front() == ' ') message.erase(0, 1);
      while (!message.empty() && message.back() == ' ') message.pop_back();
      Hop hop{h.name, cluster.hosts[index].name, SshOutcome::ran, ""};
      if (rc != 0) hop.outcome = rc == 255 ? classify_ssh_failure(message, &hop.detail) : SshOutcome::ssh_error;
      if (rc != 0 && hop.detail.empty()) hop.detail = message.empty() ? fmt::format("exit code {}", rc) : message;
      seen[index] = true;
      through[i].push_back(hop);
    }
    for (size_t j = 0; j < seen.size(); ++j)
      if (!seen[j]) through[i].push_back({h.name, cluster.hosts[j].name, SshOutcome::ssh_error, "no answer from the check"});
  });
  for (size_t i = 0; i < through.size(); ++i)
    for (const auto& hop : through[i]) {
      report.hops.push_back(hop);
      if (hop.outcome == SshOutcome::ran) continue;
      const Host* target = nullptr;
      for (const auto& h : cluster.hosts)
        if (h.name == hop.to) target = &h;
      problem(hop.from, fmt::format("ssh from {} to {}: {} ({})", hop.from, hop.to, outcome_name(hop.outcome), hop.detail),
              target ? fmt::format("on {}: {}", hop.from, outcome_fix(hop.outcome, *target))
                     : outcome_fix(hop.outcome, cluster.hosts[i]));
    }
  return report;
}

}  // namespace xfer::cluster
