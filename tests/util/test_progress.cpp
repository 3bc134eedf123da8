// Progress without a terminal: plain periodic lines with the count, share, rate and ETA, then the summary; and
// the counts published as job events (start, throttled updates, end) whether or not anything is drawn.
#include <gtest/gtest.h>

#include <regex>
#include <thread>

#include "util/job_events.h"
#include "util/progress.h"

namespace xfer {
namespace {

struct Counts : JobObserver {
  std::vector<int64_t> done;
  void on_progress(const std::string& label, int64_t d, int64_t total, const std::string& unit) override {
    EXPECT_EQ(label, "featurize");
    EXPECT_EQ(total, 40);
    EXPECT_EQ(unit, "images");
    done.push_back(d);
  }
};

TEST(Progress, PlainLinesWhenNotATerminalAndEventsAlways) {
  Progress::set_interactive(false);
  Progress::set_plain_line_period(std::chrono::milliseconds(30));
  auto counts = std::make_shared<Counts>();
  add_job_observer(counts);
  testing::internal::CaptureStderr();
  {
    Progress progress("featurize", 40, "images");
    for (int i = 0; i < 4; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(120));
      progress.advance(10);
    }
  }
  const std::string err = testing::internal::GetCapturedStderr();
  remove_job_observer(counts);
  Progress::set_plain_line_period(std::chrono::milliseconds(10000));

  // Each advance came after more than the period: one plain line each, then the summary line.
  const std::regex plain(R"(featurize: (\d+)/40 images \((\d+)%\), [0-9.]+ images/s, ETA (\S+)\n)");
  std::vector<int> seen;
  for (auto it = std::sregex_iterator(err.begin(), err.end(), plain); it != std::sregex_iterator(); ++it) {
    const int done = std::stoi((*it)[1]);
    seen.push_back(done);
    EXPECT_EQ(std::stoi((*it)[2]), done * 100 / 40) << err;
  }
  EXPECT_EQ(seen, (std::vector<int>{10, 20, 30, 40})) << err;
  EXPECT_NE(err.find("featurize: 40 images in "), std::string::npos) << err;
  EXPECT_EQ(err.find('\r'), std::string::npos) << "no carriage returns in a log";
  // Published: 0 at the start, each advance (over 100 ms apart), and the end.
  EXPECT_EQ(counts->done, (std::vector<int64_t>{0, 10, 20, 30, 40, 40}));
}

}  // namespace
}  // namespace xfer
