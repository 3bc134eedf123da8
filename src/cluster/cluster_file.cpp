// Cluster file reading with toml++: every key is known, every value checked, every error names file:line, key
// and the fix, because a silently ignored misspelling is how clusters end up half-configured.
#include "cluster/cluster_file.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>

#include <toml++/toml.h>

#include "util/error.h"

namespace xfer::cluster {
namespace {

const std::set<std::string, std::less<>> kRoles = {"namenode", "resourcemanager", "worker", "slurmctld", "slurmd"};

class Reader {
 public:
  explicit Reader(std::filesystem::path path) : path_(std::move(path)) {}

  [[noreturn]] void bad(const toml::source_region& where, std::string_view key, std::string_view what,
                        std::string_view fix) const {
    usage_fail("{}:{}: {}: {}; {}", path_.string(), where.begin.line, key, what, fix);
  }

  // Rejects keys the table does not define.
  void only_keys(const toml::table& table, std::string_view table_name, std::initializer_list<std::string_view> keys) {
    for (auto&& [key, value] : table) {
      if (std::find(keys.begin(), keys.end(), key.str()) != keys.end()) continue;
      std::string known;
      for (auto k : keys) known += (known.empty() ? "" : ", ") + std::string(k);
      bad(key.source(), fmt::format("{}{}", table_name.empty() ? "" : std::string(table_name) + ".", key.str()),
          "unknown key", fmt::format("the keys allowed here are: {}", known));
    }
  }

  void get(const toml::table& t, std::string_view section, std::string_view key, std::string& out) {
    const auto* node = t.get(key);
    if (!node) return;
    const auto* s = node->as_string();
    if (!s) bad(node->source(), full(section, key), "must be a string", "write it in double quotes");
    out = s->get();
  }
  void get(const toml::table& t, std::string_view section, std::string_view key, int& out, int lo, int hi) {
    long value = out;
    get(t, section, key, value, lo, hi);
    out = static_cast<int>(value);
  }
  void get(const toml::table& t, std::string_view section, std::string_view key, long& out, long lo, long hi) {
    const auto* node = t.get(key);
    if (!node) return;
    const auto* i = node->as_integer();
    if (!i) bad(node->source(), full(section, key), "must be a whole number", fmt::format("write a number from {} to {} without quotes", lo, hi));
    if (i->get() < lo || i->get() > hi)
      bad(node->source(), full(section, key), fmt::format("{} is out of range", i->get()),
          fmt::format("use a number from {} to {}", lo, hi));
    out = static_cast<long>(i->get());
  }
  void get(const toml::table& t, std::string_view section, std::string_view key, std::vector<std::string>& out) {
    const auto* node = t.get(key);
    if (!node) return;
    const auto* a = node->as_array();
    if (!a) bad(node->source(), full(section, key), "must be a list of strings", "write it as [\"a\", \"b\"]");
    out.clear();
    for (const auto& item : *a) {
      const auto* s = item.as_string();
      if (!s) bad(item.source(), full(section, key), "every item must be a string", "write it as [\"a\", \"b\"]");
      out.push_back(s->get());
    }
  }
  const toml::table* section(const toml::table& root, std::string_view name) {
    const auto* node = root.get(name);
    if (!node) return nullptr;
    const auto* t = node->as_table();
    if (!t) bad(node->source(), name, "must be a table", fmt::format("write it as a [{}] section", name));
    return t;
  }
  void read_ssh(const toml::table& t, std::string_view section_name, SshSettings& ssh) {
    get(t, section_name, "user", ssh.user);
    get(t, section_name, "port", ssh.port, 1, 65535);
    get(t, section_name, "identity", ssh.identity);
    get(t, section_name, "known_hosts", ssh.known_hosts);
    get(t, section_name, "connect_timeout_s", ssh.connect_timeout_s, 1, 600);
  }

  static std::string full(std::string_view section, std::string_view key) {
    return section.empty() ? std::string(key) : fmt::format("{}.{}", section, key);
  }

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Names and addresses go into ssh's argument list and into Hadoop/Slurm files: no whitespace, quotes, or a
// leading '-' that ssh would read as an option.
bool plain_name(const std::string& s) {
  if (s.empty() || s.front() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
  });
}

}  // namespace

bool Host::has_role(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

std::string ClusterFile::conf_dir() const {
  return hadoop.conf_dir.empty() ? hadoop.home + "/etc/hadoop" : hadoop.conf_dir;
}

std::vector<const Host*> ClusterFile::hosts_with_role(std::string_view role) const {
  std::vector<const Host*> out;
  for (const auto& h : hosts)
    if (h.has_role(role)) out.push_back(&h);
  return out;
}

const Host& ClusterFile::only_host_with_role(std::string_view role) const {
  const auto found = hosts_with_role(role);
  if (found.size() != 1)
    usage_fail("{}: {} hosts have the role \"{}\"; give exactly one [[host]] roles = [..., \"{}\"]", path.string(),
               found.size(), role, role);
  return *found.front();
}

ClusterFile parse_cluster_text(std::string_view text, const std::filesystem::path& path) {
  toml::table root;
  try {
    root = toml::parse(text, path.string());
  } catch (const toml::parse_error& e) {
    usage_fail("{}:{}: {}; fix the TOML syntax there", path.string(), e.source().begin.line, e.description());
  }
  Reader r(path);
  ClusterFile cf;
  cf.path = path;
  r.only_keys(root, "", {"ssh", "host", "hadoop", "spark", "slurm", "mpi", "push"});

  if (const auto* t = r.section(root, "ssh")) {
    r.only_keys(*t, "ssh", {"user", "port", "identity", "known_hosts", "connect_timeout_s"});
    r.read_ssh(*t, "ssh", cf.ssh);
  }
  if (const auto* t = r.section(root, "hadoop")) {
    r.only_keys(*t, "hadoop", {"home", "java_home", "dfs_dirs", "conf_dir", "namenode_port"});
    r.get(*t, "hadoop", "home", cf.hadoop.home);
    r.get(*t, "hadoop", "java_home", cf.hadoop.java_home);
    r.get(*t, "hadoop", "dfs_dirs", cf.hadoop.dfs_dirs);
    r.get(*t, "hadoop", "conf_dir", cf.hadoop.conf_dir);
    r.get(*t, "hadoop", "namenode_port", cf.hadoop.namenode_port, 1, 65535);
    for (const auto& d : cf.hadoop.dfs_dirs)
      if (d.empty() || (d.front() != '/' && d.front() != '~') || d == "/")
        r.bad(t->get("dfs_dirs")->source(), "hadoop.dfs_dirs", fmt::format("\"{}\" is not a safe absolute folder", d),
              "give absolute folders below / such as \"/data/dfs\" (reset-dfs wipes them)");
  }
  if (const auto* t = r.section(root, "spark")) {
    r.only_keys(*t, "spark", {"home", "deploy_mode"});
    r.get(*t, "spark", "home", cf.spark.home);
    r.get(*t, "spark", "deploy_mode", cf.spark.deploy_mode);
    if (cf.spark.deploy_mode != "cluster" && cf.spark.deploy_mode != "client")
      r.bad(t->get("deploy_mode")->source(), "spark.deploy_mode", fmt::format("\"{}\" is not a deploy mode", cf.spark.deploy_mode),
            "use \"cluster\" or \"client\"");
  }
  if (const auto* t = r.section(root, "slurm")) {
    r.only_keys(*t, "slurm", {"cluster_name", "slurm_user", "slurmctld_port", "slurmd_port", "state_save_location",
                              "slurmd_spool_dir", "log_dir", "run_dir", "restart_slurmctld", "restart_slurmd"});
    auto& s = cf.slurm;
    r.get(*t, "slurm", "cluster_name", s.cluster_name);
    r.get(*t, "slurm", "slurm_user", s.slurm_user);
    r.get(*t, "slurm", "slurmctld_port", s.slurmctld_port, 1, 65535);
    r.get(*t, "slurm", "slurmd_port", s.slurmd_port, 1, 65535);
    r.get(*t, "slurm", "state_save_location", s.state_save_location);
    r.get(*t, "slurm", "slurmd_spool_dir", s.slurmd_spool_dir);
    r.get(*t, "slurm", "log_dir", s.log_dir);
    r.get(*t, "slurm", "run_dir", s.run_dir);
    r.get(*t, "slurm", "restart_slurmctld", s.restart_slurmctld);
    r.get(*t, "slurm", "restart_slurmd", s.restart_slurmd);
    if (s.restart_slurmctld.empty() || s.restart_slurmd.empty())
      r.bad(t->source(), "slurm.restart_*", "an empty command", "give the command as a list, e.g. [\"systemctl\", \"restart\", \"slurmd\"]");
  }
  if (const auto* t = r.section(root, "mpi")) {
    r.only_keys(*t, "mpi", {"xfer", "mpirun_args", "srun_args", "memory_per_rank_mb"});
    r.get(*t, "mpi", "xfer", cf.mpi.xfer);
    r.get(*t, "mpi", "mpirun_args", cf.mpi.mpirun_args);
    r.get(*t, "mpi", "srun_args", cf.mpi.srun_args);
    r.get(*t, "mpi", "memory_per_rank_mb", cf.mpi.memory_per_rank_mb, 1L, 1L << 30);
    if (!cf.mpi.xfer.empty() && cf.mpi.xfer.front() != '/')
      r.bad(t->get("xfer")->source(), "mpi.xfer", fmt::format("\"{}\" is not an absolute path", cf.mpi.xfer),
            "give the absolute path of the xfer binary on the hosts, e.g. \"/usr/local/bin/xfer\"");
  }
  if (const auto* t = r.section(root, "push")) {
    r.only_keys(*t, "push", {"common_files"});
    r.get(*t, "push", "common_files", cf.common_files);
  }

  const auto* hosts_node = root.get("host");
  if (!hosts_node) usage_fail("{}: no [[host]] tables; add one [[host]] with name = \"...\" per machine", path.string());
  const auto* hosts = hosts_node->as_array();
  if (!hosts) r.bad(hosts_node->source(), "host", "must be an array of tables", "write each host as a [[host]] table");
  std::set<std::string> names;
  for (const auto& node : *hosts) {
    const auto* t = node.as_table();
    if (!t) r.bad(node.source(), "host", "must be a table", "write each host as a [[host]] table");
    r.only_keys(*t, "host", {"name", "address", "roles", "user", "port", "identity", "known_hosts", "connect_timeout_s",
                             "cores", "memory_mb", "disks"});
    Host h;
    h.line = static_cast<int>(t->source().begin.line);
    h.ssh = cf.ssh;
    r.get(*t, "host", "name", h.name);
    if (h.name.empty()) r.bad(t->source(), "host.name", "missing", "give every [[host]] a name = \"...\"");
    if (!plain_name(h.name))
      r.bad(t->get("name")->source(), "host.name", fmt::format("\"{}\" is not a host name", h.name),
            "use letters, digits, '.', '-' or '_' (not starting with '-')");
    if (!names.insert(h.name).second)
      r.bad(t->get("name")->source(), "host.name", fmt::format("\"{}\" appears twice", h.name), "give each host once");
    h.address = h.name;
    r.get(*t, "host", "address", h.address);
    if (!plain_name(h.address))
      r.bad(t->get("address")->source(), "host.address", fmt::format("\"{}\" is not an address", h.address),
            "give a host name or an IP address");
    r.get(*t, "host", "roles", h.roles);
    for (const auto& role : h.roles)
      if (!kRoles.count(role))
        r.bad(t->get("roles")->source(), "host.roles", fmt::format("unknown role \"{}\"", role),
              "use namenode, resourcemanager, worker, slurmctld or slurmd");
    r.read_ssh(*t, "host", h.ssh);
    r.get(*t, "host", "cores", h.cores, 1, 1 << 20);
    r.get(*t, "host", "memory_mb", h.memory_mb, 256, 1L << 40);
    r.get(*t, "host", "disks", h.disks, 1, 4096);
    cf.hosts.push_back(std::move(h));
  }
  if (cf.hosts.empty()) usage_fail("{}: no [[host]] tables; add one [[host]] with name = \"...\" per machine", path.string());
  for (const char* role : {"namenode", "resourcemanager", "slurmctld"})
    if (cf.hosts_with_role(role).size() > 1)
      usage_fail("{}: more than one host has the role \"{}\"; keep it on one host", path.string(), role);
  return cf;
}

ClusterFile load_cluster_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    usage_fail("{}: no such cluster file; create one with `xfer cluster init {}`", path.string(), path.string());
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) fail("{}: cannot read", path.string());
  return parse_cluster_text(text, path);
}

std::string example_cluster_file() {
  return R"(# xfer cluster file: every `xfer cluster` command reads it (--cluster FILE).
# Memory is in MiB, times in seconds. Unknown keys are errors, so a misspelling never goes unnoticed.

[ssh]                      # defaults for every host; a [[host]] may override any of them
user = "hadoop"            # the account on every host (must reach every host, itself included, without a password)
port = 22
identity = "~/.ssh/id_ed25519"
known_hosts = "~/.ssh/known_hosts"   # host keys are checked strictly: add them first (ssh-keyscan, then verify)
connect_timeout_s = 5

[[host]]
name = "master"            # the name other hosts know it by (written into Hadoop, Spark and Slurm files)
address = "192.0.2.10"     # optional; where ssh connects (default: name)
roles = ["namenode", "resourcemanager", "worker", "slurmctld"]
# optional per host: port, user, identity, known_hosts, connect_timeout_s,
# and cores, memory_mb, disks to override what `xfer cluster doctor` measures

[[host]]
name = "worker1"
address = "192.0.2.11"
roles = ["worker", "slurmd"]

[hadoop]
home = "/opt/hadoop"
java_home = "/usr/lib/jvm/java-17-openjdk-amd64"
dfs_dirs = ["/data/dfs"]   # one per disk; `reset-dfs` wipes them on every host
# conf_dir = "/opt/hadoop/etc/hadoop"   # default: <home>/etc/hadoop
# namenode_port = 9000

[spark]
home = "/opt/spark"
deploy_mode = "cluster"    # or "client": where the driver runs

[slurm]                    # used by `render --for slurm` and `reset-slurm`
cluster_name = "xfer"
# slurm_user = "slurm"
# state_save_location = "/var/spool/slurmctld"
# slurmd_spool_dir = "/var/spool/slurmd"
# log_dir = "/var/log/slurm"
# restart_slurmctld = ["systemctl", "restart", "slurmctld"]
# restart_slurmd = ["systemctl", "restart", "slurmd"]

[mpi]                      # used by `xfer submit`
# xfer = "/usr/local/bin/xfer"          # the binary on every host (default: the submitting xfer's own path)
# mpirun_args = ["--mca", "btl_tcp_if_include", "eth0"]
# memory_per_rank_mb = 4096             # what each rank may need; `submit` checks it fits

[push]
common_files = ["/opt/hadoop/etc/hadoop/core-site.xml"]   # what `xfer cluster push` copies by default
)";
}

}  // namespace xfer::cluster
