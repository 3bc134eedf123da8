// xfer cluster init | doctor | broadcast | push | render | check | reset-dfs | reset-yarn | reset-slurm:
// parse options, call the cluster library, print a table (or --json). Failures become Error -> exit code 1.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cluster/broadcast.h"
#include "cluster/cluster_file.h"
#include "cluster/doctor.h"
#include "cluster/fit_check.h"
#include "cluster/push.h"
#include "cluster/render.h"
#include "cluster/reset.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/log.h"

namespace xfer::cli {
namespace {

using nlohmann::json;
namespace cl = xfer::cluster;

struct Common {
  std::string cluster_file;
  bool json = false;
  int fanout = 32;
};

void add_common(CLI::App* cmd, Common& c, bool with_fanout = false) {
  cmd->add_option("--cluster", c.cluster_file, "The cluster file (TOML; `xfer cluster init FILE` writes an example)")
      ->required()
      ->envname("XFER_CLUSTER");
  cmd->add_flag("--json", c.json, "Print the result as JSON");
  if (with_fanout) cmd->add_option("--fanout", c.fanout, "Hosts contacted at once")->check(CLI::Range(1, 4096))->capture_default_str();
}

std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// ---- init
void run_init(const std::string& path, bool force) {
  if (std::filesystem::exists(path) && !force) usage_fail("{}: exists; pass --force to overwrite it", path);
  write_file_atomically(path, cl::example_cluster_file());
  std::cout << fmt::format("wrote {}: edit the hosts, then run `xfer cluster doctor --cluster {}`\n", path, path);
}

// ---- doctor
json facts_json(const cl::HostFacts& f, const cl::Host& h) {
  json disks = json::array();
  for (const auto& d : f.dfs)
    disks.push_back({{"dir", d.dir}, {"filesystem", d.filesystem}, {"mount", d.mount}, {"total_mb", d.total_mb}, {"free_mb", d.free_mb}});
  json j = {{"host", f.host},         {"reachable", f.reach == cl::SshOutcome::ran},
            {"ssh", cl::outcome_name(f.reach)}, {"ssh_detail", f.reach_detail},
            {"cores", f.cores},       {"memory_mb", f.memory_mb},
            {"disks", f.disks},       {"dfs", disks},
            {"versions", f.versions}, {"clock_offset_s", nullptr}};
  // cores / memory_mb / disks above are what sizing uses; here what was measured and what the cluster file declares.
  auto value_or_null = [](long v) { return v ? json(v) : json(nullptr); };
  j["measured"] = {{"cores", value_or_null(f.measured_cores)},
                   {"memory_mb", value_or_null(f.measured_memory_mb)},
                   {"disks", value_or_null(f.measured_disks)}};
  j["declared"] = {{"cores", value_or_null(h.cores)}, {"memory_mb", value_or_null(h.memory_mb)}, {"disks", value_or_null(h.disks)}};
  if (f.clock_offset_s) {
    j["clock_offset_s"] = *f.clock_offset_s;
    j["clock_uncertainty_s"] = f.clock_uncertainty_s;
  }
  return j;
}

void run_doctor(const Common& c) {
  const auto cluster = cl::load_cluster_file(c.cluster_file);
  cl::DoctorOptions o;
  o.fanout = c.fanout;
  const auto report = cl::run_doctor(cluster, o);
  if (c.json) {
    json hosts = json::array(), hops = json::array(), problems = json::array(), warnings = json::array();
    for (size_t i = 0; i < report.facts.size(); ++i) hosts.push_back(facts_json(report.facts[i], cluster.hosts[i]));
    for (const auto& h : report.hops)
      hops.push_back({{"from", h.from.empty() ? json(nullptr) : json(h.from)}, {"to", h.to}, {"ok", h.outcome == cl::SshOutcome::ran},
                      {"result", cl::outcome_name(h.outcome)}, {"detail", h.detail}});
    for (const auto& p : report.problems) problems.push_back({{"host", p.host}, {"what", p.what}, {"fix", p.fix}});
    for (const auto& p : report.warnings) warnings.push_back({{"host", p.host}, {"what", p.what}, {"fix", p.fix}});
    std::cout << json{{"hosts", hosts}, {"hops", hops}, {"problems", problems}, {"warnings", warnings}}.dump(1) << "\n";
  } else {
    // Measured values; a declared value that differs follows in brackets (and is the one sizing uses).
    auto shown = [](long measured, long declared) {
      if (declared == 0) return measured ? std::to_string(measured) : std::string("-");
      if (declared == measured) return std::to_string(measured);
      return fmt::format("{} [{} declared]", measured ? std::to_string(measured) : std::string("-"), declared);
    };
    std::cout << fmt::format("{:<16} {:<12} {:>5} {:>9} {:>5} {:>10} {:>9}  {}\n", "host", "ssh", "cores", "memory_mb", "disks",
                             "dfs_free_mb", "clock_s", "versions");
    for (size_t i = 0; i < report.facts.size(); ++i) {
      const auto& f = report.facts[i];
      const auto& h = cluster.hosts[i];
      long free_mb = 0;
      for (const auto& d : f.dfs) free_mb += d.free_mb;
      std::string versions;
      for (const auto& [tool, v] : f.versions) versions += (versions.empty() ? "" : "; ") + tool + ": " + v;
      std::cout << fmt::format("{:<16} {:<12} {:>5} {:>9} {:>5} {:>10} {:>9}  {}\n", f.host,
                               f.reach == cl::SshOutcome::ran ? "ok" : cl::outcome_name(f.reach),
                               shown(f.measured_cores, h.cores), shown(f.measured_memory_mb, h.memory_mb),
                               shown(f.measured_disks, h.disks),
                               free_mb, f.clock_offset_s ? fmt::format("{:+.2f}", *f.clock_offset_s) : "-", versions);
    }
    size_t hop_ok = 0;
    for (const auto& h : report.hops) hop_ok += h.outcome == cl::SshOutcome::ran;
    std::cout << fmt::format("\nssh: {} of {} connections work (here -> each host, each host -> every host)\n", hop_ok, report.hops.size());
    if (!report.warnings.empty()) {
      std::cout << fmt::format("\n{} warning(s):\n", report.warnings.size());
      for (const auto& p : report.warnings) std::cout << fmt::format("{}: {} -- fix: {}\n", p.host, p.what, p.fix);
    }
    if (report.problems.empty()) std::cout << "no problems found\n";
    else {
      std::cout << fmt::format("\n{} problem(s):\n", report.problems.size());
      for (const auto& p : report.problems) std::cout << fmt::format("{}: {} -- fix: {}\n", p.host, p.what, p.fix);
    }
  }
  if (!report.problems.empty()) fail("doctor: {} problem(s) on the cluster in {}", report.problems.size(), c.cluster_file);
}

// ---- broadcast
struct BroadcastCli {
  Common common;
  double timeout_s = 0;
  bool stream = false;
  std::vector<std::string> command;
};

void run_broadcast(BroadcastCli& b) {
  const auto cluster = cl::load_cluster_file(b.common.cluster_file);
  cl::BroadcastOptions o;
  o.command = b.command;
  o.timeout_s = b.timeout_s;
  o.fanout = b.common.fanout;
  std::mutex print;
  if (b.stream && !b.common.json)
    o.on_line = [&](const cl::Host& h, int stream, const std::string& line) {
      std::lock_guard lock(print);
      (stream == 1 ? std::cout : std::cerr) << h.name << ": " << line << "\n" << std::flush;
    };
  const auto runs = cl::broadcast(cluster, o);
  const int worst = cl::worst_code(runs);
  if (b.common.json) {
    json hosts = json::array();
    for (const auto& r : runs)
      hosts.push_back({{"host", r.host}, {"status", cl::outcome_name(r.result.outcome)}, {"exit_code", r.code()},
                       {"seconds", r.result.seconds}, {"stdout", r.result.out}, {"stderr", r.result.err}, {"detail", r.result.detail}});
    std::cout << json{{"hosts", hosts}, {"worst_exit_code", worst}}.dump(1) << "\n";
  } else {
    if (!b.stream)
      for (const auto& r : runs) {
        std::cout << fmt::format("== {} ==\n", r.host) << r.result.out;
        if (!r.result.out.empty() && r.result.out.back() != '\n') std::cout << "\n";
        if (!r.result.err.empty() && r.result.outcome == cl::SshOutcome::ran) std::cout << r.result.err << (r.result.err.back() == '\n' ? "" : "\n");
      }
    std::cout << fmt::format("\n{:<16} {:<22} {:>4} {:>8}  {}\n", "host", "status", "exit", "seconds", "detail");
    for (const auto& r : runs)
      std::cout << fmt::format("{:<16} {:<22} {:>4} {:>8.2f}  {}\n", r.host, cl::outcome_name(r.result.outcome), r.code(),
                               r.result.seconds, one_line(r.result.detail));
  }
  if (worst != 0) {
    std::string worst_host;
    for (const auto& r : runs)
      if (r.code() == worst) worst_host = r.host;
    throw ExitStatus(worst, fmt::format("broadcast: worst exit code {} (on {})", worst, worst_host));
  }
}

// ---- push
struct PushCli {
  Common common;
  bool dry_run = false;
  std::vector<std::string> files;
};

void run_push(PushCli& p) {
  const auto cluster = cl::load_cluster_file(p.common.cluster_file);
  cl::PushOptions o;
  o.files = p.files;
  o.dry_run = p.dry_run;
  o.fanout = p.common.fanout;
  const auto rows = cl::push_files(cluster, o);
  size_t bad = 0;
  for (const auto& r : rows) bad += r.state == "failed" || r.state == "unreachable";
  if (p.common.json) {
    json out = json::array();
    for (const auto& r : rows) out.push_back({{"host", r.host}, {"path", r.path}, {"state", r.state}, {"sha256", r.remote_sha}, {"detail", r.detail}});
    std::cout << json{{"dry_run", p.dry_run}, {"files", out}}.dump(1) << "\n";
  } else {
    std::cout << fmt::format("{:<16} {:<12} {:<16} {}\n", "host", "state", "sha256", "path");
    for (const auto& r : rows)
      std::cout << fmt::format("{:<16} {:<12} {:<16} {}{}\n", r.host, r.state, r.remote_sha.substr(0, 16), r.path,
                               r.detail.empty() ? "" : "  (" + one_line(r.detail) + ")");
  }
  if (bad) fail("push: {} of {} copies failed or hosts unreachable", bad, rows.size());
}

// ---- render
struct RenderCli {
  Common common;
  std::string out = "cluster-conf";
  std::string parts;  // empty: the files the roles call for
};

std::set<std::string> split_parts(const std::string& text) {
  std::set<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (part != "hadoop" && part != "spark" && part != "slurm" && part != "mpi")
      usage_fail("--for: \"{}\" is not one of hadoop, spark, slurm, mpi", part);
    parts.insert(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return parts;
}

void run_render(RenderCli& r) {
  const auto cluster = cl::load_cluster_file(r.common.cluster_file);
  // Without --for: what the roles call for, and a word on what was left out and why.
  cl::PartsForRoles chosen;
  if (r.parts.empty()) {
    chosen = cl::parts_for_roles(cluster);
    if (chosen.parts.empty()) {
      std::string why;
      for (const auto& [part, reason] : chosen.skipped) why += fmt::format("\n  {}: {}", part, reason);
      usage_fail("{}: the roles call for no files:{}", r.common.cluster_file, why);
    }
  } else {
    chosen.parts = split_parts(r.parts);
  }
  const auto& parts = chosen.parts;
  const auto facts = cl::facts_for_sizing(cluster, cl::compute_hosts(cluster), r.common.fanout);
  cl::RenderPlan plan;
  const auto files = cl::render_files(cluster, facts, parts, &plan);
  cl::write_rendered(r.out, files);
  if (r.common.json) {
    json written = json::array();
    for (const auto& f : files) written.push_back((std::filesystem::path(r.out) / f.relative_path).string());
    json hosts = json::array();
    for (const auto& f : facts) hosts.push_back({{"host", f.host}, {"cores", f.cores}, {"memory_mb", f.memory_mb}, {"disks", f.disks}});
    json skipped = json::array();
    for (const auto& [part, reason] : chosen.skipped) skipped.push_back({{"part", part}, {"reason", reason}});
    std::cout << json{{"files", written},
                      {"skipped", skipped},
                      {"hosts", hosts},
                      {"yarn", {{"containers", plan.yarn.containers}, {"container_mb", plan.yarn.container_mb},
                                {"nodemanager_mb", plan.yarn.nodemanager_mb}, {"reserved_gb", plan.yarn.reserved_gb},
                                {"vcores", plan.nodemanager_vcores}, {"sized_by", plan.yarn_host}}},
                      {"spark", {{"executor_mb", plan.spark.executor_mb}, {"executor_overhead_mb", plan.spark.executor_overhead_mb},
                                 {"executor_cores", plan.spark.executor_cores}, {"executor_instances", plan.spark.executor_instances},
                                 {"driver_mb", plan.spark.driver_mb}}}}
                     .dump(1)
              << "\n";
    return;
  }
  for (const auto& f : files) std::cout << "wrote " << (std::filesystem::path(r.out) / f.relative_path).string() << "\n";
  for (const auto& [part, reason] : chosen.skipped) std::cout << fmt::format("skipped {}: {}\n", part, reason);
  if (parts.count("hadoop") || parts.count("spark"))
    std::cout << fmt::format("YARN: {}\nSpark: {}\n", plan.yarn.reason, plan.spark.reason);
}

// ---- check
struct CheckCli {
  Common common;
  std::string yarn_site = "cluster-conf/hadoop/yarn-site.xml";
  int executors = 2;
  std::string executor_memory = "1g", driver_memory = "1g", executor_overhead, driver_overhead;
  int executor_cores = 1, driver_cores = 1;
  std::string deploy_mode = "cluster";
  int mpi_ranks = 0;
  std::string mpi_memory = "1g";
};

json fit_json(const cl::FitReport& r) {
  json containers = json::array(), nodes = json::array();
  for (const auto& c : r.containers)
    containers.push_back({{"kind", c.kind}, {"requested_mb", c.requested_mb}, {"allocated_mb", c.allocated_mb}, {"vcores", c.vcores},
                          {"placed_on", c.placed_on.empty() ? json(nullptr) : json(c.placed_on)}});
  for (const auto& n : r.nodes)
    nodes.push_back({{"host", n.host}, {"used_mb", n.used_mb}, {"capacity_mb", n.capacity_mb}, {"used_vcores", n.used_vcores},
                     {"capacity_vcores", n.capacity_vcores}});
  return {{"fits", r.fits}, {"containers", containers}, {"nodes", nodes}, {"problems", r.problems}, {"notes", r.notes}};
}

void print_fit(const std::string& title, const cl::FitReport& r) {
  std::cout << fmt::format("{}: {}\n", title, r.fits ? "fits" : "does NOT fit");
  std::cout << fmt::format("  {:<28} {:>9} {:>9} {:>6}  {}\n", "container", "asked_mb", "given_mb", "vcores", "placed on");
  for (const auto& c : r.containers)
    std::cout << fmt::format("  {:<28} {:>9} {:>9} {:>6}  {}\n", c.kind, c.requested_mb, c.allocated_mb, c.vcores,
                             c.placed_on.empty() ? "NOWHERE" : c.placed_on);
  for (const auto& n : r.nodes)
    std::cout << fmt::format("  {:<28} {:>6}/{:<6} MB  {:>3}/{:<3} cores\n", n.host, n.used_mb, n.capacity_mb, n.used_vcores, n.capacity_vcores);
  for (const auto& p : r.problems) std::cout << "  problem: " << p << "\n";
  for (const auto& n : r.notes) std::cout << "  note: " << n << "\n";
}

void run_check(CheckCli& c, bool spark_flags_given) {
  const auto cluster = cl::load_cluster_file(c.common.cluster_file);
  json out = json::object();
  bool fits = true;
  if (spark_flags_given || c.mpi_ranks == 0) {
    if (c.deploy_mode != "cluster" && c.deploy_mode != "client") usage_fail("--deploy-mode: use cluster or client");
    cl::SparkJob job;
    job.executors = c.executors;
    job.executor_mb = cl::parse_memory_mb(c.executor_memory, "--executor-memory");
    job.executor_cores = c.executor_cores;
    job.driver_mb = cl::parse_memory_mb(c.driver_memory, "--driver-memory");
    job.driver_cores = c.driver_cores;
    if (!c.executor_overhead.empty()) job.executor_overhead_mb = cl::parse_memory_mb(c.executor_overhead, "--executor-memory-overhead");
    if (!c.driver_overhead.empty()) job.driver_overhead_mb = cl::parse_memory_mb(c.driver_overhead, "--driver-memory-overhead");
    job.deploy_mode = c.deploy_mode;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(c.yarn_site, ec))
      usage_fail("{}: no such yarn-site.xml; run `xfer cluster render` first or pass --yarn-site FILE", c.yarn_site);
    const auto limits = cl::read_yarn_limits(c.yarn_site);
    std::vector<std::string> nodemanagers;
    for (const auto* h : cluster.hosts_with_role("worker")) nodemanagers.push_back(h->name);
    const auto r = cl::check_spark_fit(limits, nodemanagers, job);
    fits &= r.fits;
    if (c.common.json) out["spark"] = fit_json(r);
    else print_fit(fmt::format("Spark on YARN ({} NodeManager(s), limits from {})", nodemanagers.size(), limits.source), r);
  }
  if (c.mpi_ranks > 0) {
    cl::MpiJob job{c.mpi_ranks, cl::parse_memory_mb(c.mpi_memory, "--mpi-memory-per-rank")};
    const auto facts = cl::facts_for_sizing(cluster, cl::compute_hosts(cluster), c.common.fanout);
    std::vector<cl::MpiHost> hosts;
    for (const auto& f : facts) hosts.push_back({f.host, f.cores, f.memory_mb});
    const auto r = cl::check_mpi_fit(hosts, job);
    fits &= r.fits;
    if (c.common.json) out["mpi"] = fit_json(r);
    else print_fit(fmt::format("MPI job ({} ranks x {} MB)", job.ranks, job.memory_per_rank_mb), r);
  }
  if (c.common.json) {
    out["fits"] = fits;
    std::cout << out.dump(1) << "\n";
  }
  if (!fits) fail("check: the job does not fit the cluster in {}", c.common.cluster_file);
}

// ---- reset-*
struct ResetCli {
  Common common;
  bool yes = false;
  double timeout_s = 600;
};

void run_reset(ResetCli& r, const std::string& which) {
  const auto cluster = cl::load_cluster_file(r.common.cluster_file);
  const auto steps = which == "dfs" ? cl::reset_dfs_plan(cluster) : which == "yarn" ? cl::reset_yarn_plan(cluster) : cl::reset_slurm_plan(cluster);
  if (which == "dfs" && !r.yes) {
    if (!isatty(STDIN_FILENO))
      usage_fail("reset-dfs deletes all HDFS data on every host; there is no terminal to confirm on, so pass --yes to go ahead");
    const std::string nn = cluster.only_host_with_role("namenode").name;
    std::cerr << "reset-dfs will:\n";
    for (const auto& s : steps) std::cerr << fmt::format("  on {}: {}\n", s.host, s.what);
    std::cerr << fmt::format("All HDFS data is lost. Type the NameNode's name ({}) to go ahead: ", nn);
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != nn) usage_fail("reset-dfs: not confirmed; nothing was done");
  }
  const auto results = cl::run_steps(cluster, steps, r.timeout_s, [](const cl::ResetStep& s) {
    spdlog::info("{}: {}", s.host, s.what);
  });
  bool ok = true;
  if (r.common.json) {
    json out = json::array();
    for (const auto& s : results) {
      out.push_back({{"host", s.step.host}, {"step", s.step.what}, {"ran", s.ran}, {"ok", s.ok()},
                     {"status", s.ran ? cl::outcome_name(s.result.outcome) : "skipped"}, {"exit_code", s.ran ? json(s.result.exit_code) : json(nullptr)},
                     {"seconds", s.result.seconds}, {"stdout", s.result.out}, {"stderr", s.result.err}});
      ok &= s.ok() || !s.ran;
    }
    std::cout << json{{"steps", out}}.dump(1) << "\n";
  } else {
    std::cout << fmt::format("{:<16} {:<24} {:<22} {:>4} {:>8}\n", "host", "step", "status", "exit", "seconds");
    for (const auto& s : results) {
      std::cout << fmt::format("{:<16} {:<24} {:<22} {:>4} {:>8.2f}\n", s.step.host, s.step.what,
                               s.ran ? (s.ok() ? "ok" : s.result.outcome == cl::SshOutcome::ran ? "failed" : cl::outcome_name(s.result.outcome)) : "skipped",
                               s.ran ? std::to_string(s.result.exit_code) : "-", s.result.seconds);
      if (s.ran && !s.ok()) std::cout << one_line(s.result.err.empty() ? s.result.detail : s.result.err) << "\n";
    }
  }
  for (const auto& s : results)
    if (s.ran && !s.ok()) fail("reset-{}: step \"{}\" on {} failed; the steps after it were not run", which, s.step.what, s.step.host);
  (void)ok;
}

}  // namespace

void add_cluster_commands(CLI::App& app) {
  auto* cluster = app.add_subcommand("cluster", "Cluster kit: one cluster file; doctor, broadcast, push, render, check, resets");
  cluster->require_subcommand(1);

  {
    auto path = std::make_shared<std::string>();
    auto force = std::make_shared<bool>(false);
    auto* cmd = cluster->add_subcommand("init", "Write a commented example cluster file");
    cmd->add_option("file", *path, "Where to write it")->required();
    cmd->add_flag("--force", *force, "Overwrite an existing file");
    cmd->callback([path, force] { run_init(*path, *force); });
  }
  {
    auto c = std::make_shared<Common>();
    auto* cmd = cluster->add_subcommand("doctor", "Check ssh (here->hosts and all-to-all), names, cores, memory, disks, tools, clocks");
    add_common(cmd, *c, true);
    cmd->callback([c] { run_doctor(*c); });
  }
  {
    auto b = std::make_shared<BroadcastCli>();
    auto* cmd = cluster->add_subcommand("broadcast", "Run a command on every host: broadcast [options] -- CMD ARG...");
    add_common(cmd, b->common, true);
    cmd->add_option("--timeout", b->timeout_s, "Seconds per host before its ssh is killed (0: none)")->check(CLI::Range(0.0, 1e6));
    cmd->add_flag("--stream", b->stream, "Print lines as they arrive, prefixed with the host (default: grouped per host)");
    cmd->add_option("command", b->command, "The command and its arguments, delivered exactly as given")->required()->allow_extra_args();
    cmd->callback([b] { run_broadcast(*b); });
  }
  {
    auto p = std::make_shared<PushCli>();
    auto* cmd = cluster->add_subcommand("push", "Copy files to the same path on every host (temporary name, checksum, rename)");
    add_common(cmd, p->common, true);
    cmd->add_flag("--dry-run", p->dry_run, "Only show which hosts differ");
    cmd->add_option("files", p->files, "Absolute paths (default: [push] common_files)");
    cmd->callback([p] { run_push(*p); });
  }
  {
    auto r = std::make_shared<RenderCli>();
    auto* cmd = cluster->add_subcommand("render", "Write Hadoop, Spark, Slurm and MPI files sized from the hosts' facts");
    add_common(cmd, r->common, true);
    cmd->add_option("--out", r->out, "Folder to write into")->capture_default_str();
    cmd->add_option("--for", r->parts,
                    "Which files: any of hadoop,spark,slurm,mpi (default: those the hosts' roles call for; the "
                    "others are listed as skipped, with the reason)");
    cmd->callback([r] { run_render(*r); });
  }
  {
    auto c = std::make_shared<CheckCli>();
    auto* cmd = cluster->add_subcommand("check", "Will a Spark-on-YARN job (or an MPI job) fit? Exit 0 fits, 1 not");
    add_common(cmd, c->common, true);
    cmd->add_option("--yarn-site", c->yarn_site, "yarn-site.xml with the limits (capacity-scheduler.xml beside it is read too)")->capture_default_str();
    auto* e1 = cmd->add_option("--executors", c->executors, "spark.executor.instances")->check(CLI::Range(0, 1 << 20))->capture_default_str();
    auto* e2 = cmd->add_option("--executor-memory", c->executor_memory, "spark.executor.memory (e.g. 12g)")->capture_default_str();
    auto* e3 = cmd->add_option("--executor-cores", c->executor_cores, "spark.executor.cores")->check(CLI::Range(1, 4096))->capture_default_str();
    auto* e4 = cmd->add_option("--executor-memory-overhead", c->executor_overhead, "spark.executor.memoryOverhead (default max(384m, 10%))");
    auto* e5 = cmd->add_option("--driver-memory", c->driver_memory, "spark.driver.memory")->capture_default_str();
    auto* e6 = cmd->add_option("--driver-cores", c->driver_cores, "spark.driver.cores")->check(CLI::Range(1, 4096))->capture_default_str();
    auto* e7 = cmd->add_option("--driver-memory-overhead", c->driver_overhead, "spark.driver.memoryOverhead (default max(384m, 10%))");
    auto* e8 = cmd->add_option("--deploy-mode", c->deploy_mode, "cluster or client")->check(CLI::IsMember({"cluster", "client"}))->capture_default_str();
    cmd->add_option("--mpi-ranks", c->mpi_ranks, "Check an xfer MPI job of this many ranks instead (slots = cores)")->check(CLI::Range(1, 1 << 20));
    cmd->add_option("--mpi-memory-per-rank", c->mpi_memory, "Memory each rank needs (e.g. 3g)")->capture_default_str();
    cmd->callback([c, cmd, e1, e2, e3, e4, e5, e6, e7, e8] {
      bool spark_flags = false;
      for (auto* o : {e1, e2, e3, e4, e5, e6, e7, e8}) spark_flags |= o->count() > 0;
      spark_flags |= cmd->get_option("--yarn-site")->count() > 0;
      run_check(*c, spark_flags);
    });
  }
  for (const std::string which : {"dfs", "yarn", "slurm"}) {
    auto r = std::make_shared<ResetCli>();
    const std::string help = which == "dfs"   ? "Stop HDFS, wipe the DFS folders on every host, format the NameNode, start HDFS"
                             : which == "yarn" ? "Stop and start YARN (Hadoop's sbin scripts on the resourcemanager)"
                                               : "Restart slurmctld, then slurmd on every compute host";
    auto* cmd = cluster->add_subcommand("reset-" + which, help);
    add_common(cmd, r->common);
    if (which == "dfs") cmd->add_flag("--yes", r->yes, "Do not ask for confirmation (needed without a terminal)");
    cmd->add_option("--timeout", r->timeout_s, "Seconds per step")->check(CLI::Range(1.0, 1e6))->capture_default_str();
    cmd->callback([r, which] { run_reset(*r, which); });
  }
}

}  // namespace xfer::cli
