// submit's plan without launching anything: Slurm's node list parsed, bad requests refused with the fix, a host
// that refuses ssh named before anything starts, and the mpirun command built from the cluster file.
#include <gtest/gtest.h>

#include "cluster/cluster_file.h"
#include "cluster/submit.h"
#include "util/error.h"

namespace xfer::cluster {
namespace {

ClusterFile two_hosts(const std::string& extra = "") {
  // Port 1 on loopback: nothing listens, ssh is refused at once.
  return parse_cluster_text(R"([ssh]
port = 1
connect_timeout_s = 2
[mpi]
xfer = "/opt/xfer/bin/xfer"
mpirun_args = ["--mca", "btl_tcp_if_include", "eth1"]
[[host]]
name = "127.0.0.1"
roles = ["worker"]
)" + extra,
                            "test.toml");
}

TEST(SubmitPlan, ParsesSinfoNodesOncePerNode) {
  const auto nodes = parse_sinfo_nodes("n1 idle 16 64000\nn2 down* 8 32000\nn1 idle 16 64000\ngarbage\n");
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].first, "n1");
  EXPECT_EQ(nodes[0].second.cores, 16);
  EXPECT_EQ(nodes[1].second.state, "down*");
  EXPECT_EQ(nodes[1].second.memory_mb, 32000);
}

TEST(SubmitPlan, RefusesWhatCannotRun) {
  SubmitOptions o;
  o.command = {"cluster", "doctor"};
  EXPECT_THROW(plan_submit(two_hosts(), o, "/tmp/h"), UsageError);  // not a job
  o.command = {};
  EXPECT_THROW(plan_submit(two_hosts(), o, "/tmp/h"), UsageError);
  o.command = {"train"};
  o.ranks_per_host = 0;
  EXPECT_THROW(plan_submit(two_hosts(), o, "/tmp/h"), UsageError);
  o.ranks_per_host = 1;
  // mpirun has one ssh command for all hosts: a host with its own port cannot be reached by it.
  const auto mixed = two_hosts("[[host]]\nname = \"127.0.0.2\"\nroles = [\"worker\"]\nport = 2\n");
  try {
    plan_submit(mixed, o, "/tmp/h");
    ADD_FAILURE() << "a host with its own ssh port was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("host 127.0.0.2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("one ssh command for every host"), std::string::npos) << e.what();
  }
}

TEST(SubmitPlan, NamesTheHostThatIsDownAndStillShowsTheCommand) {
  SubmitOptions o;
  o.command = {"featurize", "--data", "/shared/x", "--out", "/shared/f"};
  o.ranks_per_host = 2;
  const auto plan = plan_submit(two_hosts(), o, "/tmp/xfer.hostfile");
  ASSERT_EQ(plan.problems.size(), 1u);
  EXPECT_NE(plan.problems[0].find("host 127.0.0.1 is down for mpirun"), std::string::npos) << plan.problems[0];
  EXPECT_NE(plan.problems[0].find("port 1"), std::string::npos) << plan.problems[0];
  EXPECT_EQ(plan.ranks, 2);
  EXPECT_EQ(plan.hostfile, "127.0.0.1 slots=2\n");
  const std::vector<std::string> tail = {"--mca", "btl_tcp_if_include", "eth1", "/opt/xfer/bin/xfer", "featurize",
                                         "--data", "/shared/x", "--out", "/shared/f"};
  ASSERT_GE(plan.argv.size(), tail.size());
  EXPECT_EQ(std::vector<std::string>(plan.argv.end() - static_cast<long>(tail.size()), plan.argv.end()), tail);
  EXPECT_EQ(plan.argv[0], "mpirun");
  EXPECT_EQ(plan.argv[2], "/tmp/xfer.hostfile");
}

}  // namespace
}  // namespace xfer::cluster
