#include "cluster/fit_check.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "cluster/hadoop_properties.h"
#include "cluster/sizing.h"
#include "util/error.h"

namespace xfer::cluster {
namespace {

long to_long(const std::map<std::string, std::string>& values, const std::string& name, long fallback,
             const std::filesystem::path& file) {
  const auto it = values.find(name);
  if (it == values.end()) return fallback;
  try {
    size_t used = 0;
    const long v = std::stol(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (const std::exception&) {
  }
  fail("{}: {} = \"{}\" is not a whole number; fix the value", file.string(), name, it->second);
}

}  // namespace

YarnLimits read_yarn_limits(const std::filesystem::path& yarn_site) {
  YarnLimits l;
  const auto values = read_hadoop_configuration(yarn_site);
  l.source = yarn_site.string();
  l.min_allocation_mb = to_long(values, "yarn.scheduler.minimum-allocation-mb", l.min_allocation_mb, yarn_site);
  l.max_allocation_mb = to_long(values, "yarn.scheduler.maximum-allocation-mb", l.max_allocation_mb, yarn_site);
  l.min_allocation_vcores = to_long(values, "yarn.scheduler.minimum-allocation-vcores", l.min_allocation_vcores, yarn_site);
  l.max_allocation_vcores = to_long(values, "yarn.scheduler.maximum-allocation-vcores", l.max_allocation_vcores, yarn_site);
  l.nodemanager_mb = to_long(values, "yarn.nodemanager.resource.memory-mb", l.nodemanager_mb, yarn_site);
  l.nodemanager_vcores = to_long(values, "yarn.nodemanager.resource.cpu-vcores", l.nodemanager_vcores, yarn_site);
  auto scheduler_values = values;
  const auto capacity = yarn_site.parent_path() / "capacity-scheduler.xml";
  std::error_code ec;
  if (std::filesystem::is_regular_file(capacity, ec)) {
    for (const auto& [k, v] : read_hadoop_configuration(capacity)) scheduler_values[k] = v;
    l.source += " and " + capacity.string();
  }
  if (auto it = scheduler_values.find("yarn.scheduler.capacity.maximum-am-resource-percent"); it != scheduler_values.end()) {
    try {
      l.max_am_percent = std::stod(it->second);
    } catch (const std::exception&) {
      fail("{}: yarn.scheduler.capacity.maximum-am-resource-percent = \"{}\" is not a number", l.source, it->second);
    }
  }
  if (auto it = scheduler_values.find("yarn.scheduler.capacity.resource-calculator"); it != scheduler_values.end())
    l.vcores_count = it->second.find("DominantResourceCalculator") != std::string::npos;
  if (l.min_allocation_mb <= 0 || l.nodemanager_mb <= 0)
    fail("{}: minimum-allocation-mb and nodemanager memory must be positive", l.source);
  return l;
}

FitReport check_spark_fit(const YarnLimits& l, const std::vector<std::string>& nodemanagers, const SparkJob& job) {
  FitReport r;
  if (nodemanagers.empty()) {
    r.fits = false;
    r.problems.push_back("no NodeManagers: give at least one host the role \"worker\" in the cluster file");
    return r;
  }
  for (const auto& n : nodemanagers) r.nodes.push_back({n, 0, l.nodemanager_mb, 0, l.nodemanager_vcores});

  auto make = [&](std::string kind, long memory, long overhead, int vcores, const char* memory_flag) {
    Container c;
    c.kind = std::move(kind);
    c.requested_mb = memory + overhead;
    // The scheduler normalises each request up to a multiple of the minimum allocation.
    c.allocated_mb = std::max(l.min_allocation_mb, round_up_to(c.requested_mb, l.min_allocation_mb));
    c.vcores = std::max<int>(vcores, static_cast<int>(l.min_allocation_vcores));
    if (c.allocated_mb > l.max_allocation_mb)
      r.problems.push_back(fmt::format(
          "the {} container needs {} MB ({} MB + {} MB overhead, rounded up to a multiple of {} MB), more than "
          "yarn.scheduler.maximum-allocation-mb = {} MB: YARN rejects it; lower {} or raise "
          "yarn.scheduler.maximum-allocation-mb (and yarn.nodemanager.resource.memory-mb) in {}",
          c.kind, c.allocated_mb, memory, overhead, l.min_allocation_mb, l.max_allocation_mb, memory_flag,
          l.max_allocation_mb, l.source));
    if (l.vcores_count && c.vcores > l.max_allocation_vcores)
      r.problems.push_back(fmt::format("the {} container asks for {} vcores, more than yarn.scheduler.maximum-allocation-vcores = {}; "
                                       "lower the cores or raise that setting in {}",
                                       c.kind, c.vcores, l.max_allocation_vcores, l.source));
    return c;
  };

  const bool cluster_mode = job.deploy_mode == "cluster";
  const long am_memory = cluster_mode ? job.driver_mb : job.client_am_mb;
  const long am_overhead = job.driver_overhead_mb ? job.driver_overhead_mb : spark_overhead_mb(am_memory);
  r.containers.push_back(make(cluster_mode ? "ApplicationMaster (driver)" : "ApplicationMaster", am_memory, am_overhead,
                              cluster_mode ? job.driver_cores : 1, cluster_mode ? "--driver-memory" : "spark.yarn.am.memory"));
  const long ex_overhead = job.executor_overhead_mb ? job.executor_overhead_mb : spark_overhead_mb(job.executor_mb);
  for (int i = 0; i < job.executors; ++i)
    r.containers.push_back(make(fmt::format("executor {}", i + 1), job.executor_mb, ex_overhead, job.executor_cores, "--executor-memory"));
  if (!r.problems.empty()) r.fits = false;

  // The AM share: the CapacityScheduler lets the first application's AM start even above it (and logs that the
  // percent is set too low), but every further application waits in ACCEPTED.
  const long cluster_mb = l.nodemanager_mb * static_cast<long>(nodemanagers.size());
  const long am_limit = round_up_to(static_cast<long>(std::ceil(l.max_am_percent * static_cast<double>(cluster_mb))), l.min_allocation_mb);
  if (r.containers.front().allocated_mb > am_limit)
    r.notes.push_back(fmt::format(
        "the ApplicationMaster's {} MB is above yarn.scheduler.capacity.maximum-am-resource-percent = {} of {} MB "
        "(= {} MB): one application at a time will run, any second one stays in ACCEPTED; raise that percent to at "
        "least {:.2f} to run two at once",
        r.containers.front().allocated_mb, l.max_am_percent, cluster_mb, am_limit,
        std::ceil(200.0 * static_cast<double>(r.containers.front().allocated_mb) / static_cast<double>(cluster_mb)) / 100.0));

  // Placement: the AM first (YARN starts it before anything else), then executors, each on the NodeManager where
  // it leaves the least memory free (best fit).
  int unplaced_executors = 0;
  for (auto& c : r.containers) {
    if (c.allocated_mb > l.max_allocation_mb) continue;
    NodeUse* best = nullptr;
    for (auto& n : r.nodes) {
      const bool memory_ok = n.used_mb + c.allocated_mb <= n.capacity_mb;
      const bool vcores_ok = !l.vcores_count || n.used_vcores + c.vcores <= n.capacity_vcores;
      if (memory_ok && vcores_ok && (!best || n.capacity_mb - n.used_mb < best->capacity_mb - best->used_mb)) best = &n;
    }
    if (!best) {
      if (&c == &r.containers.front()) {
        r.problems.push_back(fmt::format(
            "the {} container ({} MB) fits on no NodeManager (yarn.nodemanager.resource.memory-mb = {} MB{}): the "
            "application stays in ACCEPTED; lower {} or raise yarn.nodemanager.resource.memory-mb",
            c.kind, c.allocated_mb, l.nodemanager_mb,
            l.vcores_count ? fmt::format(", {} vcores", l.nodemanager_vcores) : "",
            cluster_mode ? "--driver-memory" : "spark.yarn.am.memory"));
      } else {
        ++unplaced_executors;
      }
      r.fits = false;
      continue;
    }
    c.placed_on = best->host;
    best->used_mb += c.allocated_mb;
    best->used_vcores += c.vcores;
  }
  if (unplaced_executors) {
    const long free_best = [&] {
      long m = 0;
      for (const auto& n : r.nodes) m = std::max(m, n.capacity_mb - n.used_mb);
      return m;
    }();
    r.problems.push_back(fmt::format(
        "{} of {} executors ({} MB each: {} MB + {} MB overhead, rounded up to a multiple of {} MB) find no room on "
        "the {} NodeManager(s) after the ApplicationMaster (largest free: {} MB of yarn.nodemanager.resource.memory-mb "
        "= {} MB): the application waits for them; lower --executors or --executor-memory, or add workers",
        unplaced_executors, job.executors, r.containers.back().allocated_mb, job.executor_mb, ex_overhead,
        l.min_allocation_mb, nodemanagers.size(), free_best, l.nodemanager_mb));
  }
  if (!l.vcores_count) {
    for (const auto& n : r.nodes)
      if (n.used_vcores > n.capacity_vcores)
        r.notes.push_back(fmt::format("{} gets {} vcores of {}: allowed, since the scheduler's DefaultResourceCalculator "
                                      "places by memory only (set yarn.scheduler.capacity.resource-calculator to "
                                      "DominantResourceCalculator to enforce cores)",
                                      n.host, n.used_vcores, n.capacity_vcores));
  }
  return r;
}

FitReport check_mpi_fit(const std::vector<MpiHost>& hosts, const MpiJob& job) {
  FitReport r;
  long slots = 0;
  for (const auto& h : hosts) {
    slots += h.cores;
    const long usable = h.memory_mb - reserved_system_gb(std::lround(static_cast<double>(h.memory_mb) / 1024.0)) * 1024;
    r.nodes.push_back({h.name, 0, std::max(0L, usable), 0, h.cores});
  }
  if (job.ranks > slots) {
    r.fits = false;
    r.problems.push_back(fmt::format("{} ranks need {} slots but the hosts have {} cores in all; lower --mpi-ranks to {} or add hosts "
                                     "(oversubscribing cores slows every rank)",
                                     job.ranks, job.ranks, slots, slots));
  }
  // mpirun's default mapping: fill each host's slots in hostfile order.
  int left = job.ranks;
  for (auto& n : r.nodes) {
    const int here = static_cast<int>(std::min<long>(left, n.capacity_vcores));
    left -= here;
    n.used_vcores = here;
    n.used_mb = here * job.memory_per_rank_mb;
    for (int i = 0; i < here; ++i)
      r.containers.push_back({fmt::format("rank {}", job.ranks - left - here + i), job.memory_per_rank_mb, job.memory_per_rank_mb, 1, n.host});
    if (n.used_mb > n.capacity_mb) {
      r.fits = false;
      r.problems.push_back(fmt::format("{}: {} ranks x {} MB = {} MB, but it has {} MB after the system's share; lower "
                                       "--mpi-memory-per-rank to {} MB or spread the ranks over more hosts",
                                       n.host, here, job.memory_per_rank_mb, n.used_mb, n.capacity_mb,
                                       here ? n.capacity_mb / here : 0));
    }
  }
  return r;
}

}  // namespace xfer::cluster
