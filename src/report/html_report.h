#pragma once
// The evaluation report: one self-contained HTML page (no scripts, no external files) with the metrics,
// the confusion matrix and ROC curves drawn as inline SVG, the data set summary and the skipped files.
#include <cstdint>
#include <filesystem>
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

struct ReportData {
  std::string title;
  std::vector<std::string> class_names;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
  std::vector<RocCurve> roc_curves;
  nlohmann::json metrics;                        // the evaluate JSON (accuracy, per_class, ...)
  std::vector<std::pair<std::string, std::string>> summary;  // (label, value) rows: data, model, counts
  std::vector<std::pair<std::string, std::string>> skipped;  // (file, reason)
};

// Writes DIR/index.html atomically; returns its path.
std::filesystem::path write_html_report(const std::filesystem::path& dir, const ReportData& data);

// The pieces, for tests: each returns a standalone <svg> element.
std::string confusion_matrix_svg(const std::vector<std::string>& class_names,
                                 const std::vector<std::vector<int64_t>>& confusion);
std::string roc_curves_svg(const std::vector<RocCurve>& curves);
std::string html_escape(const std::string& text);

}  // namespace xfer::report
