#include "cluster/facts.h"

#include <chrono>
#include <set>
#include <sstream>

#include "util/error.h"

namespace xfer::cluster {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void apply_overrides(const Host& h, HostFacts& f) {
  if (h.cores) f.cores = h.cores;
  if (h.memory_mb) f.memory_mb = h.memory_mb;
  if (h.disks) f.disks = h.disks;
}

}  // namespace

std::string facts_script(const ClusterFile& cluster) {
  // One line per fact. Versions: the first line of the tool's version output that has a digit; "missing" when
  // the program is not there. `timeout` keeps a hung JVM from stalling doctor.
  std::string dirs;
  for (const auto& d : cluster.hadoop.dfs_dirs) {
    // "~/x" stays expandable by the remote shell: ~/ unquoted, the rest quoted.
    const bool home = d.rfind("~/", 0) == 0;
    dirs.append(home ? " ~/" : " ");
    dirs.append(shell_quote(home ? std::string_view(d).substr(2) : std::string_view(d)));
  }
  const std::string java = cluster.hadoop.java_home.empty() ? "java" : shell_quote(cluster.hadoop.java_home + "/bin/java");
  return fmt::format(R"SH(export LC_ALL=C
echo "cores $(nproc)"
awk '/^MemTotal:/ {{print "mem_kb", $2}}' /proc/meminfo
for d in{}; do
  p=$d; while [ ! -e "$p" ] && [ "$p" != / ]; do p=$(dirname "$p"); done
  df -P -k "$p" 2>/dev/null | awk -v d="$d" 'NR==2 {{print "disk", d, $1, $2, $4, $6}}'
done
v() {{ name=$1; shift
  if command -v "$1" >/dev/null 2>&1; then
    line=$(timeout 30 "$@" 2>&1 | grep -m1 '[0-9]')
    echo "version $name ${{line:-unknown}}"
  else echo "missing $name"; fi; }}
v java {} -version
v hadoop {}/bin/hadoop version
v spark-submit {}/bin/spark-submit --version
v mpirun mpirun --version
v slurmctld slurmctld -V
v slurmd slurmd -V
)SH",
                     dirs, java, shell_quote(cluster.hadoop.home), shell_quote(cluster.spark.home));
}

HostFacts parse_facts(const Host& host, const std::string& output) {
  HostFacts f;
  f.host = host.name;
  f.measured = true;
  std::istringstream lines(output);
  std::set<std::string> filesystems;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key == "cores") {
      words >> f.cores;
    } else if (key == "mem_kb") {
      long kb = 0;
      words >> kb;
      f.memory_mb = kb / 1024;
    } else if (key == "disk") {
      DiskFacts d;
      long total_kb = 0, free_kb = 0;
      words >> d.dir >> d.filesystem >> total_kb >> free_kb >> d.mount;
      d.total_mb = total_kb / 1024;
      d.free_mb = free_kb / 1024;
      filesystems.insert(d.filesystem);
      f.dfs.push_back(d);
    } else if (key == "version") {
      std::string tool, rest;
      words >> tool;
      std::getline(words, rest);
      if (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
      f.versions[tool] = rest;
    }
  }
  f.disks = static_cast<int>(filesystems.size());
  f.measured_cores = f.cores;
  f.measured_memory_mb = f.memory_mb;
  f.measured_disks = f.disks;
  apply_overrides(host, f);
  return f;
}

std::vector<HostFacts> collect_facts(const ClusterFile& cluster, int fanout, bool with_clock) {
  std::vector<HostFacts> all(cluster.hosts.size());
  const std::string script = facts_script(cluster);
  run_parallel(cluster.hosts.size(), fanout, [&](size_t i) {
    const Host& h = cluster.hosts[i];
    ProcessOptions p;
    p.timeout_s = h.ssh.connect_timeout_s + 120;
    const auto r = ssh_run(h, shell_join({"sh", "-c", script}), p);
    HostFacts f;
    if (r.outcome == SshOutcome::ran) {
      f = parse_facts(h, r.out);
    } else {
      f.host = h.name;
      apply_overrides(h, f);
    }
    f.reach = r.outcome;
    f.reach_detail = r.detail;
    if (with_clock && r.outcome == SshOutcome::ran) {
      // A second, short round trip: the remote clock read between our two readings.
      const double before = now_s();
      const auto c = ssh_run(h, "date +%s.%N", p);
      const double after = now_s();
      if (c.outcome == SshOutcome::ran && c.exit_code == 0) {
        try {
          const double remote = std::stod(c.out);
          // The remote reading was taken between `before` and `after`; only a reading outside that window
          // shows an offset, and then at least its distance to the window (connection set-up makes the window
          // wide, so its middle would be a biased estimate).
          f.clock_offset_s = remote < before ? remote - before : remote > after ? remote - after : 0.0;
          f.clock_uncertainty_s = after - before;
        } catch (const std::exception&) {
        }
      }
    }
    all[i] = std::move(f);
  });
  return all;
}

std::vector<HostFacts> facts_for_sizing(const ClusterFile& cluster, const std::vector<const Host*>& hosts, int fanout) {
  bool need_ssh = false;
  for (const Host* h : hosts) need_ssh |= !(h->cores && h->memory_mb && h->disks);
  std::vector<HostFacts> measured;
  if (need_ssh) {
    ClusterFile subset = cluster;
    subset.hosts.clear();
    for (const Host* h : hosts)
      if (!(h->cores && h->memory_mb && h->disks)) subset.hosts.push_back(*h);
    measured = collect_facts(subset, fanout, false);
  }
  std::vector<HostFacts> out;
  for (const Host* h : hosts) {
    HostFacts f;
    f.host = h->name;
    apply_overrides(*h, f);
    for (const auto& m : measured)
      if (m.host == h->name) f = m;
    if (f.reach != SshOutcome::ran || !f.cores || !f.memory_mb || !f.disks)
      fail("{}: host {} (line {}): cores/memory/disks unknown ({}{}); make it reachable for `xfer cluster doctor` or "
           "set cores, memory_mb and disks in its [[host]] table",
           cluster.path.string(), h->name, h->line, f.reach == SshOutcome::ran ? "no DFS folder found" : outcome_name(f.reach),
           f.reach_detail.empty() ? "" : ": " + f.reach_detail);
    out.push_back(f);
  }
  return out;
}

}  // namespace xfer::cluster
