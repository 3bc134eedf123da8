// Job events reach every subscribed observer in publishing order, and none after it is removed.
#include <gtest/gtest.h>

#include "util/job_events.h"

namespace xfer {
namespace {

struct Recorder : JobObserver {
  std::vector<std::string> seen;
  void on_phase(const std::string& phase) override { seen.push_back("phase " + phase); }
  void on_progress(const std::string& label, int64_t done, int64_t total, const std::string&) override {
    seen.push_back(label + " " + std::to_string(done) + "/" + std::to_string(total));
  }
  void on_rank(const RankReport& r) override { seen.push_back("rank " + std::to_string(r.rank) + " " + r.host); }
};

TEST(JobEvents, ObserversSeeEventsInOrderUntilRemoved) {
  auto a = std::make_shared<Recorder>();
  auto b = std::make_shared<Recorder>();
  add_job_observer(a);
  job_events::phase("featurizing");
  add_job_observer(b);
  job_events::progress("featurize", 3, 10, "images");
  RankReport r;
  r.rank = 2;
  r.host = "node7";
  job_events::rank(r);
  remove_job_observer(a);
  job_events::phase("done");
  remove_job_observer(b);
  job_events::phase("unseen");
  EXPECT_EQ(a->seen, (std::vector<std::string>{"phase featurizing", "featurize 3/10", "rank 2 node7"}));
  EXPECT_EQ(b->seen, (std::vector<std::string>{"featurize 3/10", "rank 2 node7", "phase done"}));
}

}  // namespace
}  // namespace xfer
