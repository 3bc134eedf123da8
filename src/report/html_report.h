#pragma once
// The evaluation report: one self-contained HTML page (no scripts, no external files) with the metrics,
// the confusion matrix and ROC curves drawn as inline SVG, the cross-validation curve when training chose its
// penalty that way, a gallery of the test set's most confidently wrong images (JPEG thumbnails embedded as data:
// URIs; the caller caps their count and bytes), the data set summary and the skipped files.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace xfer::report {

struct RocCurve {
  std::string label;         // class name (one-vs-rest) or the positive class for binary problems
  std::vector<double> fpr;   // ascending, from 0 to 1
  std::vector<double> tpr;
  double auc = 0.0;
};

// One elastic-net value's curve: the evaluated grid points, reg decreasing.
struct CvCurveSeries {
  std::string label;                             // e.g. "elastic_net 0.5"
  std::vector<double> reg;
  std::vector<double> mean;                      // mean score over the folds
  std::vector<double> std;                       // their standard deviation
  std::vector<std::vector<double>> fold_scores;  // [point][fold]
};

struct CvCurve {
  std::string metric;  // log_loss | accuracy | roc_auc
  bool lower_is_better = true;
  int folds = 0;
  std::vector<CvCurveSeries> series;
  size_t chosen_series = 0, chosen_point = 0;
};

struct Mistake {
  std::string path;
  std::string predicted;        // the class it was taken for
  double probability = 0.0;     // of that class
  double true_probability = 0;  // of its true class
  std::string jpeg_base64;      // the thumbnail; "" when the file could not be read again
  int width = 0, height = 0;
  std::string error;            // why there is no thumbnail
};

struct MistakeGroup {
  std::string true_class;
  int64_t wrong = 0;            // misclassified images of this class
  int64_t total = 0;            // images of this class evaluated
  std::vector<Mistake> shown;   // the most confident mistakes first
};

struct MistakeGallery {
  std::vector<MistakeGroup> groups;  // one per class, in class order
  std::string limits;                // the caps, said in the report ("at most 8 per class, 1 MB of images")
  int64_t not_shown = 0;             // mistakes left out by the caps
};

struct ReportData {
  std::string title;
  std::vector<std::string> class_names;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
  std::vector<RocCurve> roc_curves;
  nlohmann::json metrics;                        // the evaluate JSON (accuracy, per_class, ...)
  std::vector<std::pair<std::string, std::string>> summary;  // (label, value) rows: data, model, counts
  std::vector<std::pair<std::string, std::string>> skipped;  // (file, reason)
  std::optional<CvCurve> cross_validation;
  std::optional<MistakeGallery> mistakes;
};

// Writes DIR/index.html atomically; returns its path.
std::filesystem::path write_html_report(const std::filesystem::path& dir, const ReportData& data);

// The pieces, for tests: each returns a standalone <svg> element.
std::string confusion_matrix_svg(const std::vector<std::string>& class_names,
                                 const std::vector<std::vector<int64_t>>& confusion);
std::string roc_curves_svg(const std::vector<RocCurve>& curves);
std::string cv_curve_svg(const CvCurve& curve);
std::string mistakes_html(const MistakeGallery& gallery);
std::string html_escape(const std::string& text);

}  // namespace xfer::report
