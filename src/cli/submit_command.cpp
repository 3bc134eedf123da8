// xfer submit: spark-submit for xfer. Checks that every host is up and that the job fits, prints the launch, runs
// it (mpirun over ssh, or srun under Slurm) and returns its exit code.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cluster/cluster_file.h"
#include "cluster/process.h"
#include "cluster/ssh.h"
#include "cluster/submit.h"
#include "status/status_client.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace xfer::cli {
namespace {

namespace cl = xfer::cluster;
namespace fs = std::filesystem;

struct SubmitCommandOptions {
  std::string cluster_file;
  cl::SubmitOptions submit;
  bool dry_run = false;
  bool json = false;
};

std::string own_path() {
  std::error_code ec;
  const auto self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "xfer" : self.string();
}

std::string printable(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& w : argv) line += (line.empty() ? "" : " ") + cl::shell_word(w);
  return line;
}

nlohmann::json plan_json(const cl::SubmitPlan& plan) {
  nlohmann::json hosts = nlohmann::json::array();
  for (const auto& h : plan.hosts)
    hosts.push_back({{"host", h.name}, {"address", h.address}, {"up", h.up}, {"why_down", h.why_down},
                     {"cores", h.cores}, {"memory_mb", h.memory_mb}});
  return {{"hosts", hosts}, {"ranks", plan.ranks}, {"fits", plan.problems.empty()}, {"problems", plan.problems},
          {"hostfile", plan.hostfile}, {"command", plan.argv}};
}

void run_submit(const SubmitCommandOptions& o) {
  const auto cluster = cl::load_cluster_file(o.cluster_file);
  auto options = o.submit;
  options.this_xfer = own_path();
  // The hostfile lives as long as the launch; its name is in the printed command, so the run can be repeated.
  const auto hostfile = fs::temp_directory_path() / fmt::format("xfer-submit-{}.hostfile", getpid());
  const auto plan = cl::plan_submit(cluster, options, hostfile);

  if (o.json) {
    std::cout << plan_json(plan).dump(1) << std::endl;
  } else {
    std::cerr << fmt::format("submit: {} rank(s) on {} host(s) with {}\n", plan.ranks, plan.hosts.size(),
                             options.launcher);
    for (const auto& h : plan.hosts)
      std::cerr << fmt::format("  {:<20} {:<5} {} cores, {} MB{}\n", h.name, h.up ? "up" : "DOWN", h.cores,
                               h.memory_mb, h.up ? "" : "  " + h.why_down);
  }
  if (!plan.problems.empty()) {
    std::string message = "nothing was started:";
    for (const auto& p : plan.problems) message += "\n  " + p;
    fail("{}", message);
  }
  if (!o.json) std::cerr << "run: " << printable(plan.argv) << std::endl;
  // mpirun places rank 0 on the hostfile's first host; srun on the first node of the allocation.
  if (const auto hint = status::status_page_hint(plan.hosts.empty() ? "the first host" : plan.hosts.front().address,
                                                 options.command);
      !o.json && !hint.empty())
    std::cerr << hint << std::endl;
  if (o.dry_run) return;
  if (!plan.hostfile.empty()) write_file_atomically(hostfile, plan.hostfile);
  const int code = cl::run_foreground(plan.argv);
  std::error_code ec;
  fs::remove(hostfile, ec);
  if (code != 0) throw ExitStatus(code, fmt::format("{} exited with {}", plan.argv.front(), code));
}

}  // namespace

void add_submit_command(CLI::App& app) {
  auto o = std::make_shared<SubmitCommandOptions>();
  auto* cmd = app.add_subcommand("submit",
                                 "Run an xfer job on every host of the cluster file, by mpirun over ssh or Slurm's srun "
                                 "(e.g. xfer submit --cluster c.toml -- train --data /shared/xray --out x.json)");
  cmd->add_option("--cluster", o->cluster_file, "The cluster file (TOML)")->required()->envname("XFER_CLUSTER");
  cmd->add_option("--launcher", o->submit.launcher, "mpirun (over the cluster file's ssh) or srun (Slurm)")
      ->check(CLI::IsMember({"mpirun", "srun"}))
      ->capture_default_str();
  cmd->add_option("--ranks-per-host", o->submit.ranks_per_host,
                  "Ranks on each host (each uses its share of the host's cores as threads)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--memory-per-rank-mb", o->submit.memory_per_rank_mb,
                  "Memory each rank may need, checked against the hosts (default: the cluster file's [mpi])")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--xfer", o->submit.xfer, "The xfer binary on the hosts (default: [mpi] xfer, else this one's path)");
  cmd->add_option("--fanout", o->submit.fanout, "Hosts checked at once")->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_flag("--dry-run", o->dry_run, "Check the hosts and the fit and print the command, without running it");
  cmd->add_flag("--json", o->json, "Print the plan (hosts, fit, command) as JSON");
  cmd->add_option("command", o->submit.command, "After --: the xfer command to run (featurize, train, evaluate, predict)")
      ->required();
  cmd->callback([o] { run_submit(*o); });
}

}  // namespace xfer::cli
