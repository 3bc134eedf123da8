#include "cluster/render.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "cluster/hadoop_properties.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace xfer::cluster {
namespace {

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

const HostFacts& facts_of(const std::vector<HostFacts>& facts, const std::string& host) {
  for (const auto& f : facts)
    if (f.host == host) return f;
  fail("render: no facts for host {}", host);
}

// Spark executors per NodeManager: at most 5 cores each (HDFS client throughput falls beyond that; Cloudera's
// "How-to: Tune Your Apache Spark Jobs"), memory split evenly, each container = memory + overhead rounded up to
// the minimum allocation, all within the NodeManager.
SparkSizing size_spark(const YarnSizing& y, int vcores, int workers) {
  SparkSizing s;
  s.executor_cores = std::max(1, std::min(5, vcores));
  s.executors_per_node = std::max(1, vcores / s.executor_cores);
  const long share = y.nodemanager_mb / s.executors_per_node / y.container_mb * y.container_mb;
  long m = static_cast<long>(std::floor(static_cast<double>(share) / 1.1));
  while (m > 0 && round_up_to(m + spark_overhead_mb(m), y.container_mb) > share) --m;
  s.executor_mb = std::max(1L, m);
  s.executor_overhead_mb = spark_overhead_mb(s.executor_mb);
  // The driver (the ApplicationMaster in cluster mode): 1 GB is Spark's default; more when executors are big.
  s.driver_mb = std::clamp(s.executor_mb / 4, 1024L, 4096L);
  s.driver_overhead_mb = spark_overhead_mb(s.driver_mb);
  const long driver_container = round_up_to(s.driver_mb + s.driver_overhead_mb, y.container_mb);
  const long leftover = y.nodemanager_mb - s.executors_per_node * round_up_to(s.executor_mb + s.executor_overhead_mb, y.container_mb);
  int instances = workers * s.executors_per_node;
  int given_up = 0;
  if (leftover < driver_container) {
    given_up = static_cast<int>((driver_container + share - 1) / share);
    instances = std::max(1, instances - given_up);
  }
  s.executor_instances = instances;
  s.reason = fmt::format(
      "{} vcores per NodeManager -> {} executor(s) of {} cores per node; {} MB each, so executor memory {} MB + "
      "overhead max(384, 0.10 x {}) = {} MB fits when rounded up to the {} MB minimum allocation; driver {} MB + {} MB "
      "overhead = {} MB container{}; {} executors on {} worker(s)",
      vcores, s.executors_per_node, s.executor_cores, share, s.executor_mb, s.executor_mb, s.executor_overhead_mb,
      y.container_mb, s.driver_mb, s.driver_overhead_mb, driver_container,
      given_up ? fmt::format(", which takes the place of {} executor(s)", given_up) : std::string(", in the room left on a node"),
      s.executor_instances, workers);
  return s;
}

std::string shell_assign(const std::string& name, const std::string& value) {
  // Values are quoted for the shell that sources the file.
  std::string q = "'";
  for (char c : value) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return fmt::format("export {}={}'\n", name, q);
}

}  // namespace

PartsForRoles parts_for_roles(const ClusterFile& cluster) {
  PartsForRoles out;
  auto count = [&](const char* role) { return cluster.hosts_with_role(role).size(); };
  const size_t workers = count("worker"), nodes = compute_hosts(cluster).size();
  auto decide = [&](const std::string& part, const std::string& missing) {
    if (missing.empty()) out.parts.insert(part);
    else out.skipped.emplace_back(part, missing);
  };
  // (The cluster file already refuses a second namenode, resourcemanager or slurmctld.)
  auto no_host_with = [&](const char* role) { return count(role) == 0 ? fmt::format("no host has the role {}", role) : ""; };
  auto first = [](std::initializer_list<std::string> reasons) {
    for (const auto& r : reasons)
      if (!r.empty()) return r;
    return std::string();
  };
  const std::string no_worker = workers == 0 ? "no host has the role worker" : "";
  const std::string no_node = nodes == 0 ? "no host has the role worker or slurmd" : "";
  decide("hadoop", first({no_host_with("namenode"), no_host_with("resourcemanager"), no_worker}));
  const std::string yarn_missing = first({no_host_with("resourcemanager"), no_worker});
  decide("spark", yarn_missing.empty() ? "" : "Spark runs on YARN: " + yarn_missing);
  decide("slurm", first({no_host_with("slurmctld"), no_node}));
  decide("mpi", no_node);
  return out;
}

std::vector<const Host*> compute_hosts(const ClusterFile& cluster) {
  std::vector<const Host*> out;
  for (const auto& h : cluster.hosts)
    if (h.has_role("worker") || h.has_role("slurmd")) out.push_back(&h);
  return out;
}

std::vector<RenderedFile> render_files(const ClusterFile& cluster, const std::vector<HostFacts>& facts,
                                       const std::set<std::string>& parts, RenderPlan* plan_out) {
  std::vector<RenderedFile> files;
  const auto workers = cluster.hosts_with_role("worker");
  std::vector<std::string> worker_names;
  for (const Host* w : workers) worker_names.push_back(w->name);
  const std::string header = fmt::format("Written by `xfer cluster render` from {}; the comments say why.", cluster.path.string());

  RenderPlan plan;
  const bool yarn_needed = parts.count("hadoop") || parts.count("spark");
  if (yarn_needed) {
    if (workers.empty()) usage_fail("{}: no host has the role \"worker\"; YARN needs at least one NodeManager", cluster.path.string());
    // The smallest worker decides: one yarn-site.xml is shared by all NodeManagers.
    bool first = true;
    for (const Host* w : workers) {
      const auto& f = facts_of(facts, w->name);
      const auto s = size_yarn(f.cores, f.memory_mb, f.disks);
      if (first || s.nodemanager_mb < plan.yarn.nodemanager_mb) {
        plan.yarn = s;
        plan.yarn_host = w->name;
      }
      plan.nodemanager_vcores = first ? f.cores : std::min(plan.nodemanager_vcores, f.cores);
      first = false;
    }
    plan.spark = size_spark(plan.yarn, plan.nodemanager_vcores, static_cast<int>(workers.size()));
    // Room for at least one ApplicationMaster (the Spark driver in cluster mode) among all NodeManagers.
    const double cluster_mb = static_cast<double>(plan.yarn.nodemanager_mb) * static_cast<double>(workers.size());
    const double am_mb = static_cast<double>(round_up_to(plan.spark.driver_mb + plan.spark.driver_overhead_mb, plan.yarn.container_mb));
    plan.am_percent = std::min(1.0, std::max(0.1, std::ceil(am_mb / cluster_mb * 20.0) / 20.0));
  }

  if (parts.count("hadoop")) {
    const Host& nn = cluster.only_host_with_role("namenode");
    const Host& rm = cluster.only_host_with_role("resourcemanager");
    const auto& y = plan.yarn;
    files.push_back({"hadoop/core-site.xml",
                     hadoop_configuration_xml(header, {{"fs.defaultFS", fmt::format("hdfs://{}:{}", nn.name, cluster.hadoop.namenode_port),
                                                        fmt::format("the NameNode is {} (role namenode)", nn.name)}})});
    std::vector<std::string> name_dirs, data_dirs;
    for (const auto& d : cluster.hadoop.dfs_dirs) {
      name_dirs.push_back("file://" + d + "/name");
      data_dirs.push_back("file://" + d + "/data");
    }
    const size_t replication = std::min<size_t>(3, std::max<size_t>(1, workers.size()));
    files.push_back({"hadoop/hdfs-site.xml",
                     hadoop_configuration_xml(header, {
                         {"dfs.namenode.name.dir", join(name_dirs, ","), "NameNode metadata under every [hadoop] dfs_dirs folder (reset-dfs wipes them)"},
                         {"dfs.datanode.data.dir", join(data_dirs, ","), "one DataNode folder per disk, from [hadoop] dfs_dirs"},
                         {"dfs.replication", std::to_string(replication),
                          fmt::format("{} DataNode(s): at most 3 copies, never more than there are DataNodes", workers.size())},
                     })});
    const long max_vcores = plan.nodemanager_vcores;
    files.push_back({"hadoop/yarn-site.xml",
                     hadoop_configuration_xml(header, {
                         {"yarn.resourcemanager.hostname", rm.name, "the ResourceManager is " + rm.name + " (role resourcemanager)"},
                         {"yarn.nodemanager.aux-services", "mapreduce_shuffle,spark_shuffle", "MapReduce's shuffle and Spark's external shuffle service"},
                         {"yarn.nodemanager.aux-services.mapreduce_shuffle.class", "org.apache.hadoop.mapred.ShuffleHandler", ""},
                         {"yarn.nodemanager.aux-services.spark_shuffle.class", "org.apache.spark.network.yarn.YarnShuffleService",
                          "needs spark-<version>-yarn-shuffle.jar on the NodeManagers' classpath"},
                         {"yarn.nodemanager.resource.memory-mb", std::to_string(y.nodemanager_mb), y.reason + " (smallest worker: " + plan.yarn_host + ")"},
                         {"yarn.nodemanager.resource.cpu-vcores", std::to_string(plan.nodemanager_vcores), "one vcore per core of the smallest worker"},
                         {"yarn.scheduler.minimum-allocation-mb", std::to_string(y.container_mb),
                          "RAM per container from the calculator; every request is rounded up to a multiple of it"},
                         {"yarn.scheduler.maximum-allocation-mb", std::to_string(y.nodemanager_mb), "containers x RAM per container: one request may take a whole NodeManager"},
                         {"yarn.scheduler.maximum-allocation-vcores", std::to_string(max_vcores), "one request may take every vcore of a NodeManager"},
                         {"yarn.nodemanager.vmem-check-enabled", "false",
                          "JVMs reserve far more virtual than physical memory; the physical check (pmem) still applies"},
                     })});
    files.push_back({"hadoop/capacity-scheduler.xml",
                     hadoop_configuration_xml(header, {
                         {"yarn.scheduler.capacity.root.queues", "default", "one queue"},
                         {"yarn.scheduler.capacity.root.default.capacity", "100", "it gets the whole cluster"},
                         {"yarn.scheduler.capacity.root.default.maximum-capacity", "100", ""},
                         {"yarn.scheduler.capacity.maximum-am-resource-percent", fmt::format("{:.2f}", plan.am_percent),
                          fmt::format("room for the Spark driver's container ({} MB + {} MB overhead) as ApplicationMaster: "
                                      "too small a share leaves applications in ACCEPTED",
                                      plan.spark.driver_mb, plan.spark.driver_overhead_mb)},
                         {"yarn.scheduler.capacity.resource-calculator", "org.apache.hadoop.yarn.util.resource.DominantResourceCalculator",
                          "place containers by vcores as well as memory"},
                     })});
    const long am_mb = std::min(2 * y.container_mb, y.nodemanager_mb);
    const long reduce_mb = std::min(2 * y.container_mb, y.nodemanager_mb);
    const std::string mapred_home = "HADOOP_MAPRED_HOME=" + cluster.hadoop.home;
    files.push_back({"hadoop/mapred-site.xml",
                     hadoop_configuration_xml(header, {
                         {"mapreduce.framework.name", "yarn", "MapReduce jobs run on YARN"},
                         {"mapreduce.map.memory.mb", std::to_string(y.container_mb), "calculator: one container per map"},
                         {"mapreduce.reduce.memory.mb", std::to_string(reduce_mb), "calculator: two containers per reduce"},
                         {"mapreduce.map.java.opts", fmt::format("-Xmx{}m", y.container_mb * 8 / 10), "calculator: heap 0.8 x the container"},
                         {"mapreduce.reduce.java.opts", fmt::format("-Xmx{}m", reduce_mb * 8 / 10), "calculator: heap 0.8 x the container"},
                         {"yarn.app.mapreduce.am.resource.mb", std::to_string(am_mb), "calculator: two containers for the MapReduce ApplicationMaster"},
                         {"yarn.app.mapreduce.am.command-opts", fmt::format("-Xmx{}m", am_mb * 8 / 10), "calculator: heap 0.8 x the container"},
                         {"yarn.app.mapreduce.am.env", mapred_home, "Hadoop 3 tasks find MapReduce through HADOOP_MAPRED_HOME"},
                         {"mapreduce.map.env", mapred_home, ""},
                         {"mapreduce.reduce.env", mapred_home, ""},
                     })});
    files.push_back({"hadoop/workers", join(worker_names, "\n") + "\n"});
    std::string env = "# " + header + "\n# Sourced by Hadoop's scripts on every host.\n";
    if (!cluster.hadoop.java_home.empty()) env += shell_assign("JAVA_HOME", cluster.hadoop.java_home);
    env += shell_assign("HADOOP_HOME", cluster.hadoop.home);
    env += shell_assign("HADOOP_CONF_DIR", cluster.conf_dir());
    files.push_back({"hadoop/hadoop-env.sh", env});
    // The recipe raised the daemons' heap; size it from the memory the calculator reserved for the system and
    // daemons (a quarter of it each for the ResourceManager and NodeManager, 1-4 GB).
    const long heap = std::clamp(y.reserved_gb * 1024 / 4, 1024L, 4096L);
    files.push_back({"hadoop/yarn-env.sh",
                     fmt::format("# {}\n# Daemon heaps in MB: a quarter of the {} GB the calculator reserved outside containers.\n{}{}",
                                 header, y.reserved_gb, shell_assign("YARN_RESOURCEMANAGER_HEAPSIZE", std::to_string(heap)),
                                 shell_assign("YARN_NODEMANAGER_HEAPSIZE", std::to_string(heap)))});
  }

  if (parts.count("spark")) {
    const auto& s = plan.spark;
    std::string conf = fmt::format("# {}\n# {}\n", header, s.reason);
    conf += "spark.master                     yarn\n";
    conf += fmt::format("spark.submit.deployMode          {}\n", cluster.spark.deploy_mode);
    conf += fmt::format("spark.driver.memory              {}m\n", s.driver_mb);
    conf += fmt::format("spark.executor.memory            {}m\n", s.executor_mb);
    conf += fmt::format("# overhead max(384 MiB, 0.10 x {}) = {} MiB: Spark's default, written out so `check` and you see it\n", s.executor_mb, s.executor_overhead_mb);
    conf += fmt::format("spark.executor.memoryOverhead    {}m\n", s.executor_overhead_mb);
    conf += fmt::format("spark.executor.cores             {}\n", s.executor_cores);
    conf += fmt::format("spark.executor.instances         {}\n", s.executor_instances);
    conf += "# the NodeManagers run spark_shuffle (yarn-site.xml), so executors can come and go\n";
    conf += "spark.shuffle.service.enabled    true\n";
    files.push_back({"spark/spark-defaults.conf", conf});
    std::string env = "# " + header + "\n";
    if (!cluster.hadoop.java_home.empty()) env += shell_assign("JAVA_HOME", cluster.hadoop.java_home);
    env += shell_assign("HADOOP_CONF_DIR", cluster.conf_dir());
    env += shell_assign("YARN_CONF_DIR", cluster.conf_dir());
    files.push_back({"spark/spark-env.sh", env});
    files.push_back({"spark/workers", join(worker_names, "\n") + "\n"});
  }

  const auto nodes = compute_hosts(cluster);
  if (parts.count("slurm")) {
    const Host& ctld = cluster.only_host_with_role("slurmctld");
    const auto& s = cluster.slurm;
    std::string conf = fmt::format("# {}\n# Node lines carry each host's measured cores (CPUs) and MemTotal in MB (RealMemory).\n", header);
    conf += fmt::format("ClusterName={}\nSlurmctldHost={}({})\nSlurmUser={}\nSlurmctldPort={}\nSlurmdPort={}\n", s.cluster_name,
                        ctld.name, ctld.address, s.slurm_user, s.slurmctld_port, s.slurmd_port);
    conf += "AuthType=auth/munge\nCryptoType=crypto/munge\n";
    conf += fmt::format("StateSaveLocation={}\nSlurmdSpoolDir={}\n", s.state_save_location, s.slurmd_spool_dir);
    conf += fmt::format("SlurmctldPidFile={0}/slurmctld.pid\nSlurmdPidFile={0}/slurmd.pid\n", s.run_dir);
    conf += fmt::format("SlurmctldLogFile={0}/slurmctld.log\nSlurmdLogFile={0}/slurmd.log\n", s.log_dir);
    conf += "# linuxproc tracking works without cgroups; cores and memory are consumable resources\n";
    conf += "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n";
    conf += "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core_Memory\nSchedulerType=sched/backfill\n";
    conf += "ReturnToService=2\nMpiDefault=none\n";
    std::vector<std::string> node_names;
    for (const Host* h : nodes) {
      const auto& f = facts_of(facts, h->name);
      conf += fmt::format("NodeName={} NodeAddr={} CPUs={} RealMemory={} State=UNKNOWN\n", h->name, h->address, f.cores, f.memory_mb);
      node_names.push_back(h->name);
    }
    if (nodes.empty()) usage_fail("{}: no host has the role \"worker\" or \"slurmd\" to run jobs", cluster.path.string());
    conf += fmt::format("PartitionName=main Nodes={} Default=YES MaxTime=INFINITE State=UP\n", join(node_names, ","));
    files.push_back({"slurm/slurm.conf", conf});
  }
  if (parts.count("mpi")) {
    std::string hostfile = "# " + header + "\n# One line per host: slots = its cores.\n";
    for (const Host* h : nodes) hostfile += fmt::format("{} slots={}\n", h->name, facts_of(facts, h->name).cores);
    files.push_back({"mpi/hostfile", hostfile});
  }
  if (plan_out) *plan_out = plan;
  return files;
}

void write_rendered(const std::filesystem::path& out, const std::vector<RenderedFile>& files) {
  for (const auto& f : files) {
    const auto target = out / f.relative_path;
    std::filesystem::create_directories(target.parent_path());
    write_file_atomically(target, f.contents);
  }
}

}  // namespace xfer::cluster
