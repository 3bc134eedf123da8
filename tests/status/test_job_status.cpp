// The status observer and its drawings, fed events directly: what /api/status says for each event, that rank 0's
// row is made from the progress events only until real RankReports arrive, that the figures are the report's
// own drawings, and that the page and the terminal text survive odd JSON and never let a file name become markup.
#include <gtest/gtest.h>

#include <thread>

#include <fmt/format.h>

#include "report/html_report.h"
#include "status/job_status.h"
#include "status/status_client.h"
#include "status/status_page.h"

namespace xfer::status {
namespace {

using nlohmann::json;

TEST(JobStatus, StartsEmptyAndNamesItsSchema) {
  JobStatus status("node1");
  auto j = status.to_json();
  EXPECT_EQ(j["schema"], "xfer-status/1");
  EXPECT_EQ(j["phase"], "starting");
  EXPECT_FALSE(j["finished"].get<bool>());
  EXPECT_TRUE(j["result"].is_null());
  EXPECT_TRUE(j["failure"].is_null());
  ASSERT_EQ(j["ranks"].size(), 1u);
  EXPECT_EQ(j["ranks"][0]["state"], "starting");
  EXPECT_EQ(j["ranks"][0]["host"], "node1");
}

TEST(JobStatus, ProgressMakesRankZerosRowUntilRanksReport) {
  JobStatus status("node1");
  status.on_start({{"command", "featurize"}});
  status.on_phase("featurizing");
  status.on_progress("featurize", 0, 100, "images");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  status.on_progress("featurize", 40, 100, "images");
  auto j = status.to_json();
  ASSERT_EQ(j["stages"].size(), 1u);
  const auto& stage = j["stages"][0];
  EXPECT_EQ(stage["done"], 40);
  EXPECT_EQ(stage["total"], 100);
  EXPECT_EQ(stage["state"], "running");
  const double rate = stage["items_per_second"].get<double>();
  EXPECT_NEAR(rate, 40.0 / stage["elapsed_seconds"].get<double>(), 1e-9);
  EXPECT_NEAR(stage["eta_seconds"].get<double>(), 60.0 / rate, 1e-9);
  EXPECT_EQ(j["totals"], stage);
  ASSERT_EQ(j["ranks"].size(), 1u);
  EXPECT_EQ(j["ranks"][0]["rank"], 0);
  EXPECT_EQ(j["ranks"][0]["items_done"], 40);
  EXPECT_EQ(j["ranks"][0]["state"], "working");
  EXPECT_FALSE(j["ranks"][0]["reported"].get<bool>());

  // Once ranks report, their reports are the table (rank 0's included), in rank order.
  RankReport r1;
  r1.rank = 1;
  r1.host = "node2";
  r1.state = "working";
  r1.items_done = 7;
  r1.items_per_second = 3.5;
  r1.current_part = 4;
  r1.parts_done = 2;
  r1.last_heartbeat = std::chrono::system_clock::now();
  RankReport r0 = r1;
  r0.rank = 0;
  r0.host = "node1";
  r0.items_done = 9;
  status.on_rank(r1);
  status.on_rank(r0);
  j = status.to_json();
  ASSERT_EQ(j["ranks"].size(), 2u);
  EXPECT_EQ(j["ranks"][0]["rank"], 0);
  EXPECT_EQ(j["ranks"][0]["items_done"], 9);
  EXPECT_EQ(j["ranks"][1]["host"], "node2");
  EXPECT_EQ(j["ranks"][1]["current_part"], 4);
  EXPECT_EQ(j["ranks"][1]["parts_done"], 2);
  EXPECT_DOUBLE_EQ(j["ranks"][1]["items_per_second"].get<double>(), 3.5);
  EXPECT_TRUE(j["ranks"][1]["reported"].get<bool>());
}

TEST(JobStatus, StagesFollowEachOtherAndCompleteAtTheEnd) {
  JobStatus status("h");
  status.on_phase("featurizing");
  status.on_progress("featurize", 0, 10, "images");
  status.on_progress("featurize", 10, 10, "images");
  status.on_phase("training");
  status.on_progress("train", 0, 100, "iterations");
  status.on_progress("train", 12, 100, "iterations");
  status.on_loss(1, 2.0);
  status.on_loss(2, 1.5);
  auto j = status.to_json();
  ASSERT_EQ(j["stages"].size(), 2u);
  EXPECT_EQ(j["stages"][0]["state"], "complete");
  EXPECT_EQ(j["stages"][1]["state"], "running");
  EXPECT_EQ(j["totals"]["label"], "train");
  EXPECT_EQ(j["ranks"][0]["items_done"], 10);  // images, not iterations
  EXPECT_EQ(j["loss"], json::parse("[[1, 2.0], [2, 1.5]]"));
  EXPECT_TRUE(j["figures"].contains("loss_svg"));
  status.on_result({{"iterations", 12}});
  status.on_phase("done");
  j = status.to_json();
  EXPECT_TRUE(j["finished"].get<bool>());
  EXPECT_EQ(j["stages"][1]["state"], "complete");
  EXPECT_EQ(j["stages"][1]["eta_seconds"], 0.0);
  EXPECT_EQ(j["ranks"][0]["state"], "done");
  EXPECT_EQ(j["result"]["iterations"], 12);
  std::vector<std::string> phases;
  for (const auto& p : j["phases"]) phases.push_back(p["name"]);
  EXPECT_EQ(phases, (std::vector<std::string>{"featurizing", "training", "done"}));
}

TEST(JobStatus, SkippedFilesAreCountedAllAndListedUpToTheCap) {
  JobStatus status("h");
  const size_t n = JobStatus::kMaxSkippedListed + 5;
  for (size_t i = 0; i < n; ++i) status.on_skipped(fmt::format("f{}.png", i), "truncated");
  auto j = status.to_json();
  EXPECT_EQ(j["skipped"]["count"], n);
  EXPECT_EQ(j["skipped"]["files"].size(), JobStatus::kMaxSkippedListed);
  EXPECT_TRUE(j["skipped"]["truncated"].get<bool>());
  EXPECT_EQ(j["skipped"]["files"][0]["path"], "f0.png");
}

TEST(JobStatus, AFailureNamesItsRankAndHost) {
  JobStatus status("node1");
  status.on_phase("featurizing");
  status.on_progress("featurize", 3, 10, "images");
  status.on_failure("model.onnx: not an ONNX file", 0, "node1");
  status.on_phase("failed");
  auto j = status.to_json();
  EXPECT_TRUE(j["finished"].get<bool>());
  EXPECT_EQ(j["failure"], (json{{"message", "model.onnx: not an ONNX file"}, {"rank", 0}, {"host", "node1"}}));
  EXPECT_EQ(j["stages"][0]["state"], "failed");
  EXPECT_EQ(j["ranks"][0]["state"], "failed");
  EXPECT_EQ(j["ranks"][0]["error"], "model.onnx: not an ONNX file");
  auto page = render_status_page(j, 1000);
  EXPECT_NE(page.find("rank 0 on node1</b>: model.onnx: not an ONNX file"), std::string::npos);
  EXPECT_EQ(page.find("http-equiv=\"refresh\""), std::string::npos) << "a finished job's page stops reloading";
  auto text = format_status_text(j);
  EXPECT_NE(text.find("FAILED on rank 0 (node1): model.onnx: not an ONNX file"), std::string::npos) << text;
}

TEST(JobStatus, AnotherRanksFailureNamesThatRankNotRankZero) {
  JobStatus status("node1");
  status.on_phase("featurizing");
  RankReport r0, r1;
  r0.rank = 0, r0.host = "node1", r0.state = "working";
  r1.rank = 1, r1.host = "node2", r1.state = "failed", r1.error = "out of memory";
  status.on_rank(r0);
  status.on_rank(r1);
  status.on_failure("rank 1 on node2 failed: out of memory", 1, "node2");
  status.on_phase("failed");
  auto j = status.to_json();
  EXPECT_EQ(j["failure"]["rank"], 1);
  EXPECT_EQ(j["failure"]["host"], "node2");
  EXPECT_EQ(j["ranks"][0]["state"], "working") << "rank 0 did not fail";
  EXPECT_EQ(j["ranks"][1]["state"], "failed");
  EXPECT_EQ(j["ranks"][1]["error"], "out of memory");
  EXPECT_NE(render_status_page(j, 1000).find("rank 1 on node2</b>"), std::string::npos);
}

TEST(JobStatus, AnEvaluationsFiguresAreTheReportsOwnDrawings) {
  JobStatus status("h");
  const std::vector<std::string> classes = {"NORMAL", "PNEUMONIA"};
  const std::vector<std::vector<int64_t>> confusion = {{5, 1}, {2, 8}};
  report::RocCurve roc{"PNEUMONIA", {0, 0.2, 1}, {0, 0.8, 1}, 0.8};
  status.on_result({{"accuracy", 0.8125},
                    {"class_names", classes},
                    {"confusion_matrix", confusion},
                    {"roc_curves", {{{"label", roc.label}, {"fpr", roc.fpr}, {"tpr", roc.tpr}, {"auc", roc.auc}}}}});
  auto j = status.to_json();
  EXPECT_EQ(j["figures"]["confusion_svg"], report::confusion_matrix_svg(classes, confusion));
  EXPECT_EQ(j["figures"]["roc_svg"], report::roc_curves_svg({roc}));
  auto page = render_status_page(j, 1000);
  EXPECT_NE(page.find(report::confusion_matrix_svg(classes, confusion)), std::string::npos);
  EXPECT_NE(page.find("data-key=\"accuracy\">0.8125<"), std::string::npos);
}

TEST(StatusPage, NamesAreTextNeverMarkup) {
  JobStatus status("<host>");
  status.on_start({{"command", "featurize"}, {"command_line", "xfer featurize --data '<x>'"}});
  status.on_skipped("data/<script>alert(1)</script>.png", "not a \"PNG\" & <b>bad</b>");
  auto page = render_status_page(status.to_json(), 1000);
  EXPECT_EQ(page.find("<script>alert"), std::string::npos);
  EXPECT_EQ(page.find("<b>bad"), std::string::npos);
  EXPECT_NE(page.find("data/&lt;script&gt;alert(1)&lt;/script&gt;.png"), std::string::npos);
  EXPECT_NE(page.find("&lt;host&gt;"), std::string::npos);
  EXPECT_EQ(page.find("<script"), page.find("<script src=\"/status.js\">")) << "the only script is the page's own";
}

TEST(StatusPage, OddJsonDrawsAPageNotACrash) {
  for (const char* text : {"{}", "null", "[]", R"({"totals": 3, "stages": [{}]})",
                           R"({"loss": [[1]], "figures": {"loss_svg": "<svg/>"}, "result": {"a": [1]}})",
                           R"({"job": {"settings": 5}, "skipped": {"files": [{}]}, "failure": {}})"}) {
    json j = json::parse(text);
    EXPECT_NO_THROW({
      auto page = render_status_page(j, 500);
      EXPECT_NE(page.find("</html>"), std::string::npos);
      format_status_text(j);
    }) << text;
  }
}

TEST(StatusPage, TheTerminalTextHasTheNumbers) {
  JobStatus status("node1");
  status.on_start({{"command", "train"}, {"command_line", "xfer train --data d"}});
  status.on_phase("featurizing");
  status.on_progress("featurize", 250, 1000, "images");
  status.on_skipped("d/a/bad.png", "truncated");
  auto text = format_status_text(status.to_json());
  EXPECT_NE(text.find("xfer train: featurizing"), std::string::npos) << text;
  EXPECT_NE(text.find("250/1000 images"), std::string::npos) << text;
  EXPECT_NE(text.find("node1"), std::string::npos) << text;
  EXPECT_NE(text.find("d/a/bad.png: truncated"), std::string::npos) << text;
}

TEST(StatusPage, SubmitSaysWhereRankZeroServesThePage) {
  EXPECT_EQ(status_page_hint("node1", {"featurize", "--data", "d", "--out", "f"}), "");
  const auto loopback = status_page_hint("node1", {"featurize", "--status-port", "8080"});
  EXPECT_NE(loopback.find("ssh -L 8080:127.0.0.1:8080 node1"), std::string::npos) << loopback;
  const auto open = status_page_hint("10.0.0.5", {"train", "--status-port=9000", "--status-bind", "0.0.0.0"});
  EXPECT_NE(open.find("xfer status http://10.0.0.5:9000/"), std::string::npos) << open;
  EXPECT_NE(status_page_hint("node1", {"featurize", "--status-port", "0"}).find("free port"), std::string::npos);
}

}  // namespace
}  // namespace xfer::status
