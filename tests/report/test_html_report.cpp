#include <gtest/gtest.h>

#include <filesystem>

#include "report/html_report.h"
#include "util/atomic_file.h"

namespace fs = std::filesystem;
using xfer::report::ReportData;

namespace {
ReportData sample_report() {
  ReportData data;
  data.title = "xfer <evaluation> & report";
  data.class_names = {"NORMAL", "PNEUMONIA"};
  data.confusion = {{90, 10}, {5, 95}};
  data.roc_curves = {{"PNEUMONIA", {0.0, 0.1, 1.0}, {0.0, 0.9, 1.0}, 0.94}};
  data.metrics = {{"accuracy", 0.925}, {"n_images", 200}, {"n_skipped", 1}};
  data.summary = {{"data", "/data/chest_xray/test"}};
  data.skipped = {{"/data/chest_xray/test/bad <1>.jpeg", "truncated JPEG"}};
  return data;
}
}  // namespace

TEST(HtmlReport, EscapesEverythingUserControlled) {
  EXPECT_EQ(xfer::report::html_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
  auto dir = fs::temp_directory_path() / "xfer-test-report";
  auto html = xfer::read_file(xfer::report::write_html_report(dir, sample_report()));
  EXPECT_EQ(html.find("bad <1>"), std::string::npos);
  EXPECT_NE(html.find("bad &lt;1&gt;.jpeg"), std::string::npos);
  EXPECT_NE(html.find("xfer &lt;evaluation&gt; &amp; report"), std::string::npos);
}

TEST(HtmlReport, ConfusionMatrixShowsEveryCount) {
  auto svg = xfer::report::confusion_matrix_svg({"a", "b"}, {{90, 10}, {5, 95}});
  for (const char* count : {">90<", ">10<", ">5<", ">95<"}) EXPECT_NE(svg.find(count), std::string::npos) << count;
}

TEST(HtmlReport, RocCurveIsOnePolylinePerClassWithItsAuc) {
  std::vector<xfer::report::RocCurve> curves = {{"x", {0, 1}, {0, 1}, 0.5}, {"y", {0, 0, 1}, {0, 1, 1}, 1.0}};
  auto svg = xfer::report::roc_curves_svg(curves);
  size_t polylines = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1)) ++polylines;
  EXPECT_EQ(polylines, 2u);
  EXPECT_NE(svg.find("x (AUC 0.5000)"), std::string::npos);
  EXPECT_NE(svg.find("y (AUC 1.0000)"), std::string::npos);
}
