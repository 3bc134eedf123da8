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

namespace {
size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}
}  // namespace

TEST(HtmlReport, CvCurveHasAFoldLineEachABandAndTheChoiceWhereItIs) {
  xfer::report::CvCurve curve;
  curve.metric = "log_loss";
  curve.folds = 3;
  xfer::report::CvCurveSeries s;
  s.reg = {1.0, 0.1, 0.01};
  s.mean = {0.9, 0.5, 0.6};
  s.std = {0.01, 0.02, 0.03};
  s.fold_scores = {{0.89, 0.9, 0.91}, {0.48, 0.5, 0.52}, {0.57, 0.6, 0.63}};
  curve.series = {s};
  curve.chosen_point = 1;
  const auto svg = xfer::report::cv_curve_svg(curve);
  EXPECT_EQ(count_of(svg, "class=\"cv-fold\""), 3u);
  EXPECT_EQ(count_of(svg, "class=\"cv-band\""), 1u);
  EXPECT_EQ(count_of(svg, "class=\"cv-mean\""), 1u);
  EXPECT_NE(svg.find("chosen: reg 0.1"), std::string::npos);
  // reg 0.1 sits in the middle of the decades 0.01..1: x = 64 + 420 / 2.
  EXPECT_NE(svg.find("class=\"cv-chosen\" x1=\"274.0\""), std::string::npos) << svg;
  EXPECT_NE(svg.find("lower is better"), std::string::npos);
}

TEST(HtmlReport, GalleryEscapesPathsAndClassesAndSaysWhatIsMissing) {
  xfer::report::MistakeGallery gallery;
  gallery.limits = "at most 8 per class";
  gallery.not_shown = 4;
  xfer::report::MistakeGroup g;
  g.true_class = "cat <b>";
  g.wrong = 2;
  g.total = 10;
  g.shown = {{"/img/<x>.png", "dog \"d\"", 0.91, 0.05, "AAAA", 28, 28, ""},
             {"/img/gone.png", "dog", 0.8, 0.1, "", 0, 0, "no such file"}};
  gallery.groups = {g};
  const auto html = xfer::report::mistakes_html(gallery);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_EQ(html.find("<x>"), std::string::npos);
  EXPECT_NE(html.find("cat &lt;b&gt;: 2 of 10 wrong"), std::string::npos);
  EXPECT_NE(html.find("dog &quot;d&quot; 91.0%"), std::string::npos);
  EXPECT_NE(html.find("src=\"data:image/jpeg;base64,AAAA\" width=\"28\" height=\"28\""), std::string::npos);
  EXPECT_NE(html.find("no such file"), std::string::npos);
  EXPECT_NE(html.find("4 more mistakes are not shown"), std::string::npos);
}
