// Cluster kit library checks against independent answers: /bin/sh re-parsing our quoting, the Hortonworks
// calculator's published example (16 cores, 64 GB, 4 disks, no HBase: 8 x 7168 MB = 57344 MB), Hadoop's own
// *-default.xml files (../shared/data/hadoop-defaults), and the recipe's numbers for the fit check.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <unistd.h>

#include <pugixml.hpp>

#include "cluster/cluster_file.h"
#include "cluster/fit_check.h"
#include "cluster/hadoop_properties.h"
#include "cluster/process.h"
#include "cluster/render.h"
#include "cluster/sizing.h"
#include "cluster/ssh.h"
#include "util/error.h"

namespace cl = xfer::cluster;
namespace fs = std::filesystem;

TEST(ShellQuote, ShReadsBackEveryWordUnchanged) {
  const std::vector<std::string> words = {"plain", "", "it's", "a b", "$(touch /tmp/xfer-should-not-exist)", "; echo hi",
                                          "line1\nline2", "\"dq\"", "'", "''", "\\", "*", "~", "$HOME", "`id`", "a\tb"};
  // sh -c 'printf "%s\0" "$@"' sh <quoted words>: the shell parses our string, printf shows what arrived.
  const std::string script = "printf '%s\\0' " + cl::shell_join(words);
  const auto r = cl::run_process({"/bin/sh", "-c", script});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> got;
  size_t start = 0;
  for (size_t z; (z = r.out.find('\0', start)) != std::string::npos; start = z + 1) got.push_back(r.out.substr(start, z - start));
  EXPECT_EQ(got, words);
  EXPECT_FALSE(fs::exists("/tmp/xfer-should-not-exist"));
}

TEST(Process, TimeoutKillsTheWholeGroup) {
  cl::ProcessOptions options;
  options.timeout_s = 0.5;
  const auto r = cl::run_process({"/bin/sh", "-c", "sleep 30 & sleep 30; echo never"}, options);
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(r.seconds, 5.0);
  EXPECT_EQ(r.out, "");
}

TEST(Sizing, PublishedExample57344) {
  const auto s = cl::size_yarn(16, 64 * 1024, 4);
  EXPECT_EQ(s.reserved_gb, 8);
  EXPECT_EQ(s.containers, 8);
  EXPECT_EQ(s.container_mb, 7168);
  EXPECT_EQ(s.nodemanager_mb, 57344);
}

TEST(Sizing, SparkOverheadRule) {
  EXPECT_EQ(cl::spark_overhead_mb(1024), 384);
  EXPECT_EQ(cl::spark_overhead_mb(12 * 1024), 1228);
  EXPECT_EQ(cl::parse_memory_mb("12g", "x"), 12288);
  EXPECT_EQ(cl::parse_memory_mb("2048m", "x"), 2048);
  EXPECT_THROW(cl::parse_memory_mb("12 gb", "x"), xfer::UsageError);
}

TEST(ClusterFile, ExampleParsesAndErrorsNameLineKeyAndFix) {
  const auto cf = cl::parse_cluster_text(cl::example_cluster_file(), "example.toml");
  EXPECT_EQ(cf.hosts.size(), 2u);
  EXPECT_EQ(cf.hosts[0].address, "192.0.2.10");
  try {
    cl::parse_cluster_text("[ssh]\nport = 22\nconect_timeout_s = 5\n[[host]]\nname = \"a\"\n", "c.toml");
    FAIL() << "unknown key accepted";
  } catch (const xfer::UsageError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("c.toml:3"), std::string::npos) << m;
    EXPECT_NE(m.find("conect_timeout_s"), std::string::npos) << m;
    EXPECT_NE(m.find("connect_timeout_s"), std::string::npos) << m;  // the fix lists the real key
  }
  try {
    cl::parse_cluster_text("[[host]]\nname = \"a\"\nport = 70000\n", "c.toml");
    FAIL() << "bad port accepted";
  } catch (const xfer::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("c.toml:3: host.port"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cl::parse_cluster_text("[[host]]\nname = \"-oProxyCommand=x\"\n", "c.toml"), xfer::UsageError);
  EXPECT_THROW(cl::parse_cluster_text("[[host]]\nname = \"a\"\nroles = [\"wrker\"]\n", "c.toml"), xfer::UsageError);
}

namespace {

std::set<std::string> hadoop_default_names() {
  std::set<std::string> names;
  const fs::path dir = fs::path(XFER_SHARED_DIR) / "data/hadoop-defaults";
  for (const char* f : {"core-default.xml", "hdfs-default.xml", "yarn-default.xml", "mapred-default.xml"}) {
    pugi::xml_document doc;
    EXPECT_TRUE(doc.load_file((dir / f).c_str())) << (dir / f);
    for (const auto& p : doc.child("configuration").children("property")) names.insert(p.child_value("name"));
  }
  return names;
}

cl::ClusterFile example_cluster(int workers) {
  std::string text = "[[host]]\nname = \"master\"\nroles = [\"namenode\", \"resourcemanager\", \"slurmctld\"]\n";
  for (int i = 0; i < workers; ++i)
    text += "[[host]]\nname = \"w" + std::to_string(i) + "\"\nroles = [\"worker\"]\ncores = 16\nmemory_mb = 65536\ndisks = 4\n";
  return cl::parse_cluster_text(text, "example.toml");
}

std::vector<cl::HostFacts> override_facts(const cl::ClusterFile& cf) {
  std::vector<cl::HostFacts> facts;
  for (const auto* h : cl::compute_hosts(cf)) {
    cl::HostFacts f;
    f.host = h->name;
    f.cores = h->cores;
    f.memory_mb = h->memory_mb;
    f.disks = h->disks;
    facts.push_back(f);
  }
  return facts;
}

}  // namespace

TEST(Render, EveryPropertyIsKnownToHadoopAndSizingFollowsTheExample) {
  const auto defaults = hadoop_default_names();
  ASSERT_GT(defaults.size(), 900u);
  std::set<std::string> listed;
  for (const auto& p : cl::properties_read_without_default()) listed.insert(p.name);
  for (const auto& p : cl::properties_newer_than_shared_defaults()) listed.insert(p.name);
  for (const auto& name : listed) EXPECT_FALSE(defaults.count(name)) << name << " is in the defaults: drop it from the list";

  const auto cf = example_cluster(2);
  const fs::path out = fs::temp_directory_path() / ("xfer-render-test-" + std::to_string(getpid()));
  cl::write_rendered(out, cl::render_files(cf, override_facts(cf), {"hadoop", "spark", "slurm", "mpi"}));
  int checked = 0;
  for (const char* f : {"core-site.xml", "hdfs-site.xml", "yarn-site.xml", "mapred-site.xml", "capacity-scheduler.xml"}) {
    pugi::xml_document doc;
    ASSERT_TRUE(doc.load_file((out / "hadoop" / f).c_str())) << f;
    for (const auto& p : doc.child("configuration").children("property")) {
      const std::string name = p.child_value("name");
      EXPECT_TRUE(defaults.count(name) || listed.count(name)) << f << ": " << name << " is unknown to Hadoop";
      ++checked;
    }
  }
  EXPECT_GT(checked, 20);
  const auto yarn = cl::read_hadoop_configuration(out / "hadoop/yarn-site.xml");
  EXPECT_EQ(yarn.at("yarn.nodemanager.resource.memory-mb"), "57344");
  EXPECT_EQ(yarn.at("yarn.scheduler.minimum-allocation-mb"), "7168");
  EXPECT_EQ(yarn.at("yarn.nodemanager.resource.cpu-vcores"), "16");
  // The reasons are comments in the XML.
  std::ifstream in(out / "hadoop/yarn-site.xml");
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("<!-- Hortonworks YARN memory calculator"), std::string::npos);
  // Spark: each executor container, with max(384, 10%) overhead rounded up to the minimum allocation, fits.
  std::ifstream sd(out / "spark/spark-defaults.conf");
  const std::string spark((std::istreambuf_iterator<char>(sd)), {});
  EXPECT_NE(spark.find("spark.master                     yarn"), std::string::npos);
  std::ifstream hf(out / "mpi/hostfile");
  const std::string hostfile((std::istreambuf_iterator<char>(hf)), {});
  EXPECT_NE(hostfile.find("w0 slots=16\nw1 slots=16\n"), std::string::npos) << hostfile;
  // The rendered Spark settings fit the rendered YARN limits (our check, on our files: consistency).
  const auto limits = cl::read_yarn_limits(out / "hadoop/yarn-site.xml");
  fs::remove_all(out);
  EXPECT_EQ(limits.nodemanager_mb, 57344);
}

namespace {
// The recipe's yarn-site.xml numbers: NodeManagers with 14540 MB; scheduler minimum 1024 MB, maximum 14540 MB.
cl::YarnLimits recipe_limits() {
  cl::YarnLimits l;
  l.min_allocation_mb = 1024;
  l.max_allocation_mb = 14540;
  l.nodemanager_mb = 14540;
  l.nodemanager_vcores = 8;
  l.source = "recipe yarn-site.xml";
  return l;
}
cl::SparkJob recipe_job() {
  cl::SparkJob j;
  j.executors = 1;
  j.executor_mb = 12 * 1024;
  j.executor_overhead_mb = 2 * 1024;
  j.driver_mb = 2 * 1024;
  j.deploy_mode = "cluster";
  return j;
}
}  // namespace

TEST(FitCheck, RecipeFitsOnTwoHostsNotOnOne) {
  const auto two = cl::check_spark_fit(recipe_limits(), {"a", "b"}, recipe_job());
  EXPECT_TRUE(two.fits) << (two.problems.empty() ? "" : two.problems[0]);
  ASSERT_EQ(two.containers.size(), 2u);
  EXPECT_EQ(two.containers[1].allocated_mb, 14336);  // 12g + 2g, already a multiple of 1024
  EXPECT_EQ(two.containers[0].allocated_mb, 3072);   // 2g + 384m rounded up to 1024
  EXPECT_NE(two.containers[0].placed_on, two.containers[1].placed_on);

  const auto one = cl::check_spark_fit(recipe_limits(), {"a"}, recipe_job());
  EXPECT_FALSE(one.fits);
  ASSERT_FALSE(one.problems.empty());
  EXPECT_NE(one.problems[0].find("yarn.nodemanager.resource.memory-mb"), std::string::npos) << one.problems[0];

  auto big = recipe_job();
  big.executor_mb = 14 * 1024;
  const auto too_big = cl::check_spark_fit(recipe_limits(), {"a", "b"}, big);
  EXPECT_FALSE(too_big.fits);
  EXPECT_NE(too_big.problems[0].find("yarn.scheduler.maximum-allocation-mb"), std::string::npos) << too_big.problems[0];
}

TEST(FitCheck, MpiRanksAgainstCoresAndMemory) {
  const std::vector<cl::MpiHost> hosts = {{"a", 4, 16384}, {"b", 4, 16384}};
  EXPECT_TRUE(cl::check_mpi_fit(hosts, {8, 3000}).fits);   // 4 x 3000 = 12000 <= 16384 - 2048
  EXPECT_FALSE(cl::check_mpi_fit(hosts, {9, 1000}).fits);  // 9 ranks, 8 cores
  EXPECT_FALSE(cl::check_mpi_fit(hosts, {8, 4000}).fits);  // 16000 > 14336
}

namespace {
cl::ClusterFile cluster_with_roles(const std::vector<std::string>& roles) {
  std::string text;
  for (size_t i = 0; i < roles.size(); ++i)
    text += "[[host]]\nname = \"h" + std::to_string(i) + "\"\nroles = [" + roles[i] + "]\n";
  return cl::parse_cluster_text(text, "roles.toml");
}
std::string reason_for(const cl::PartsForRoles& p, const std::string& part) {
  for (const auto& [name, why] : p.skipped)
    if (name == part) return why;
  return "";
}
}  // namespace

TEST(Render, DefaultPartsFollowTheRolesAndSayWhatIsSkipped) {
  // The recipe's Hadoop + Spark cluster: no slurmctld, so no slurm.conf (and no failure).
  auto p = cl::parts_for_roles(cluster_with_roles({"\"namenode\", \"resourcemanager\", \"worker\"", "\"worker\""}));
  EXPECT_EQ(p.parts, (std::set<std::string>{"hadoop", "spark", "mpi"}));
  EXPECT_NE(reason_for(p, "slurm").find("no host has the role slurmctld"), std::string::npos) << reason_for(p, "slurm");
  // A Slurm-only cluster: no YARN, so neither Hadoop nor Spark files.
  p = cl::parts_for_roles(cluster_with_roles({"\"slurmctld\"", "\"slurmd\"", "\"slurmd\""}));
  EXPECT_EQ(p.parts, (std::set<std::string>{"slurm", "mpi"}));
  EXPECT_NE(reason_for(p, "hadoop").find("namenode"), std::string::npos);
  EXPECT_NE(reason_for(p, "spark").find("Spark runs on YARN"), std::string::npos);
  // Only workers: MPI alone.
  p = cl::parts_for_roles(cluster_with_roles({"\"worker\"", "\"worker\""}));
  EXPECT_EQ(p.parts, (std::set<std::string>{"mpi"}));
  EXPECT_EQ(p.skipped.size(), 3u);
}
