#pragma once
// The cluster file: one TOML file (read with toml++) that names every host, how to reach it by ssh, its roles,
// and where Hadoop/Spark/Slurm live. Every xfer cluster command takes it with --cluster FILE.
// Conventions: memory in MiB ("memory_mb"), times in seconds, paths as written (a leading "~" is left for ssh
// and the remote shell to expand, so a path means the same thing on every host).
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace xfer::cluster {

struct SshSettings {
  std::string user;            // empty: ssh's default (the local user name)
  int port = 22;
  std::string identity;        // empty: ssh's default identities
  std::string known_hosts;     // empty: ssh's default (~/.ssh/known_hosts)
  int connect_timeout_s = 5;
};

struct Host {
  std::string name;     // the name other hosts know it by (Hadoop/Spark/Slurm files use it)
  std::string address;  // where ssh connects; defaults to name
  std::vector<std::string> roles;  // namenode, resourcemanager, worker, slurmctld, slurmd
  SshSettings ssh;      // [ssh] defaults with this host's overrides applied
  // Overrides of what doctor measures (0: measure).
  int cores = 0;
  long memory_mb = 0;
  int disks = 0;
  int line = 0;         // line of the [[host]] table in the cluster file, for messages

  bool has_role(std::string_view role) const;
};

struct HadoopSettings {
  std::string home = "/opt/hadoop";
  std::string java_home;
  std::vector<std::string> dfs_dirs = {"/data/dfs"};
  std::string conf_dir;  // default: <home>/etc/hadoop
  int namenode_port = 9000;
};

struct SparkSettings {
  std::string home = "/opt/spark";
  std::string deploy_mode = "cluster";
};

struct SlurmSettings {
  std::string cluster_name = "xfer";
  std::string slurm_user = "slurm";
  int slurmctld_port = 6817;
  int slurmd_port = 6818;
  std::string state_save_location = "/var/spool/slurmctld";
  std::string slurmd_spool_dir = "/var/spool/slurmd";
  std::string log_dir = "/var/log/slurm";
  std::string run_dir = "/run";
  // Commands that restart the daemons (run on the slurmctld host, then on every slurmd host).
  std::vector<std::string> restart_slurmctld = {"systemctl", "restart", "slurmctld"};
  std::vector<std::string> restart_slurmd = {"systemctl", "restart", "slurmd"};
};

// How `xfer submit` launches MPI jobs on the hosts.
struct MpiSettings {
  std::string xfer;                      // the xfer binary on every host; empty: this xfer's own absolute path
  std::vector<std::string> mpirun_args;  // extra mpirun arguments (e.g. ["--mca", "btl_tcp_if_include", "eth0"])
  std::vector<std::string> srun_args;    // extra srun arguments (e.g. ["--partition", "gpu"])
  long memory_per_rank_mb = 4096;        // what `submit` checks each rank needs
};

struct ClusterFile {
  std::filesystem::path path;
  SshSettings ssh;
  std::vector<Host> hosts;
  HadoopSettings hadoop;
  SparkSettings spark;
  SlurmSettings slurm;
  MpiSettings mpi;
  std::vector<std::string> common_files;  // [push] common_files

  std::string conf_dir() const;  // hadoop.conf_dir or <home>/etc/hadoop
  std::vector<const Host*> hosts_with_role(std::string_view role) const;
  const Host& only_host_with_role(std::string_view role) const;  // throws Error naming the file if not exactly one
};

// Reads and validates the file. Unknown keys, wrong types and bad values throw UsageError naming the file, the
// line, the key and the fix.
ClusterFile load_cluster_file(const std::filesystem::path& path);
ClusterFile parse_cluster_text(std::string_view text, const std::filesystem::path& path_for_messages);

// The commented example that `xfer cluster init` writes.
std::string example_cluster_file();

}  // namespace xfer::cluster
