#include "cluster/submit.h"

#include <algorithm>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cluster/facts.h"
#include "cluster/process.h"
#include "cluster/ssh.h"
#include "util/error.h"

namespace xfer::cluster {
namespace {

std::vector<const Host*> job_hosts(const ClusterFile& cluster, const std::string& launcher) {
  auto hosts = cluster.hosts_with_role(launcher == "srun" ? "slurmd" : "worker");
  if (hosts.empty())
    for (const auto& h : cluster.hosts) hosts.push_back(&h);
  if (hosts.empty()) usage_fail("{}: no [[host]] to run on", cluster.path.string());
  return hosts;
}

// mpirun takes one ssh command for every host, split at spaces (OpenMPI's plm_rsh_agent).
std::string ssh_agent(const ClusterFile& cluster, const std::vector<const Host*>& hosts) {
  const auto words = ssh_client_words(*hosts.front());
  for (const Host* h : hosts) {
    if (ssh_client_words(*h) != words)
      usage_fail("{}: host {} (line {}) has its own ssh settings, but mpirun uses one ssh command for every host; "
                 "give every host the same [ssh] settings (or put the differences in ~/.ssh/config)",
                 cluster.path.string(), h->name, h->line);
  }
  for (const auto& w : words)
    if (w.find_first_of(" \t\n") != std::string::npos)
      usage_fail("{}: the ssh setting \"{}\" contains a space, which mpirun's ssh agent cannot carry; use a path "
                 "without spaces",
                 cluster.path.string(), w);
  return fmt::format("{}", fmt::join(words, " "));
}

void check_mpirun_hosts(const ClusterFile& cluster, const std::vector<const Host*>& hosts, int fanout,
                        SubmitPlan& plan) {
  ClusterFile subset = cluster;
  subset.hosts.clear();
  for (const Host* h : hosts) subset.hosts.push_back(*h);
  const auto facts = collect_facts(subset, fanout, false);
  for (size_t i = 0; i < hosts.size(); ++i) {
    const Host& h = *hosts[i];
    const auto& f = facts[i];
    SubmitHost s{h.name, h.address, f.reach == SshOutcome::ran, "", h.cores ? h.cores : f.cores,
                 h.memory_mb ? h.memory_mb : f.memory_mb};
    if (!s.up) {
      s.why_down = fmt::format("{}{}; {}", outcome_name(f.reach), f.reach_detail.empty() ? "" : " (" + f.reach_detail + ")",
                               outcome_fix(f.reach, h));
      plan.problems.push_back(fmt::format("host {} is down for mpirun: {}", h.name, s.why_down));
    }
    plan.hosts.push_back(s);
  }
}

void check_slurm_hosts(const std::vector<const Host*>& hosts, SubmitPlan& plan) {
  ProcessOptions within;
  within.timeout_s = 30;
  const auto r = run_process({"sinfo", "-h", "-N", "-o", "%N %T %c %m"}, within);
  if (r.exit_code != 0)
    fail("sinfo failed ({}): {}; is Slurm's controller up and SLURM_CONF right? (`xfer cluster render --for slurm`)",
         r.timed_out ? "timed out" : fmt::format("exit {}", r.exit_code), r.err.empty() ? r.out : r.err);
  const auto nodes = parse_sinfo_nodes(r.out);
  for (const Host* h : hosts) {
    SubmitHost s{h->name, h->address, false, "", 0, 0};
    auto it = std::find_if(nodes.begin(), nodes.end(), [&](const auto& n) { return n.first == h->name; });
    if (it == nodes.end()) {
      s.why_down = "Slurm does not know this node; add it to slurm.conf (`xfer cluster render --for slurm`)";
    } else {
      const auto& state = it->second.state;
      s.cores = it->second.cores;
      s.memory_mb = it->second.memory_mb;
      const bool usable = state.starts_with("idle") || state.starts_with("mixed") || state.starts_with("allocated") ||
                          state.starts_with("completing");
      s.up = usable && state.find('*') == std::string::npos;  // '*': not responding
      if (!s.up)
        s.why_down = fmt::format("Slurm reports it {}; see `scontrol show node {}` (then `scontrol update "
                                 "nodename={} state=resume`)",
                                 state, h->name, h->name);
    }
    if (!s.up) plan.problems.push_back(fmt::format("host {} is down for srun: {}", h->name, s.why_down));
    plan.hosts.push_back(s);
  }
}

}  // namespace

std::vector<std::pair<std::string, SlurmNode>> parse_sinfo_nodes(const std::string& output) {
  std::vector<std::pair<std::string, SlurmNode>> nodes;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string name;
    SlurmNode n;
    if (!(words >> name >> n.state >> n.cores >> n.memory_mb)) continue;
    // A node in several partitions is listed once per partition: keep the first.
    if (std::none_of(nodes.begin(), nodes.end(), [&](const auto& e) { return e.first == name; }))
      nodes.emplace_back(name, n);
  }
  return nodes;
}

SubmitPlan plan_submit(const ClusterFile& cluster, const SubmitOptions& o, const std::filesystem::path& hostfile_path) {
  if (o.launcher != "mpirun" && o.launcher != "srun")
    usage_fail("--launcher must be mpirun or srun (got \"{}\")", o.launcher);
  if (o.ranks_per_host < 1) usage_fail("--ranks-per-host must be at least 1 (got {})", o.ranks_per_host);
  if (o.command.empty()) usage_fail("submit: give the xfer command to run after --, e.g. -- train --data ...");
  static const std::vector<std::string> kJobs = {"featurize", "train", "evaluate", "predict"};
  if (std::find(kJobs.begin(), kJobs.end(), o.command.front()) == kJobs.end())
    usage_fail("submit runs featurize, train, evaluate or predict on the ranks, not \"{}\"", o.command.front());
  const std::string xfer = !o.xfer.empty() ? o.xfer : !cluster.mpi.xfer.empty() ? cluster.mpi.xfer : o.this_xfer;
  const long memory = o.memory_per_rank_mb > 0 ? o.memory_per_rank_mb : cluster.mpi.memory_per_rank_mb;

  SubmitPlan plan;
  const auto hosts = job_hosts(cluster, o.launcher);
  if (o.launcher == "mpirun")
    check_mpirun_hosts(cluster, hosts, o.fanout, plan);
  else
    check_slurm_hosts(hosts, plan);
  plan.ranks = static_cast<int>(hosts.size()) * o.ranks_per_host;

  std::vector<MpiHost> mpi_hosts;
  for (const auto& h : plan.hosts)
    if (h.up) mpi_hosts.push_back({h.name, h.cores, h.memory_mb});
  if (plan.problems.empty()) {
    plan.fit = check_mpi_fit(mpi_hosts, {plan.ranks, memory});
    for (auto p : plan.fit.problems) {
      // The fit check speaks of `cluster check`'s options; here they are submit's.
      for (auto [from, to] : {std::pair<std::string, std::string>{"--mpi-ranks", "--ranks-per-host"},
                              {"--mpi-memory-per-rank", "--memory-per-rank-mb"}}) {
        const auto at = p.find(from);
        if (at != std::string::npos) p.replace(at, from.size(), to);
      }
      plan.problems.push_back(p);
    }
  }

  if (o.launcher == "mpirun") {
    for (const auto& h : plan.hosts) plan.hostfile += fmt::format("{} slots={}\n", h.address, o.ranks_per_host);
    plan.argv = {"mpirun", "--hostfile", hostfile_path.string(), "-np", std::to_string(plan.ranks),
                 // Each rank runs threads over its share of the host: a rank bound to one core would use one.
                 "--bind-to", "none",
                 // Launch every daemon from here over the cluster file's ssh settings (no host-to-host spawn tree).
                 "--mca", "plm_rsh_agent", ssh_agent(cluster, hosts), "--mca", "plm_rsh_no_tree_spawn", "1"};
    plan.argv.insert(plan.argv.end(), cluster.mpi.mpirun_args.begin(), cluster.mpi.mpirun_args.end());
  } else {
    std::vector<std::string> names;
    int cpus = 0;
    for (const auto& h : plan.hosts) {
      names.push_back(h.name);
      cpus = cpus == 0 ? h.cores : std::min(cpus, h.cores);
    }
    plan.argv = {"srun", "--mpi=pmix", "--nodes", std::to_string(hosts.size()), "--ntasks", std::to_string(plan.ranks),
                 "--ntasks-per-node", std::to_string(o.ranks_per_host), "--nodelist", fmt::format("{}", fmt::join(names, ",")),
                 // A task that fails ends the step: the other ranks would wait for it forever.
                 "--kill-on-bad-exit=1"};
    if (cpus / o.ranks_per_host > 0)
      plan.argv.push_back(fmt::format("--cpus-per-task={}", cpus / o.ranks_per_host));
    plan.argv.insert(plan.argv.end(), cluster.mpi.srun_args.begin(), cluster.mpi.srun_args.end());
  }
  plan.argv.push_back(xfer);
  plan.argv.insert(plan.argv.end(), o.command.begin(), o.command.end());
  return plan;
}

}  // namespace xfer::cluster
