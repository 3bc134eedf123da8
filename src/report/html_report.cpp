#include "report/html_report.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>

#include "util/atomic_file.h"

namespace xfer::report {
namespace {

// Colour-blind-safe palette (Okabe-Ito) for up to eight curves; cycles beyond.
constexpr std::array<const char*, 8> kPalette = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                                 "#CC79A7", "#56B4E9", "#F0E442", "#000000"};

std::string format_metric(const nlohmann::json& value) {
  if (value.is_number_float()) return fmt::format("{:.4f}", value.get<double>());
  if (value.is_null()) return "n/a";
  return html_escape(value.dump());
}

std::string metrics_table(const nlohmann::json& metrics) {
  std::string html = "<table class=\"metrics\"><tr><th>metric</th><th>value</th></tr>\n";
  for (const char* key : {"accuracy", "log_loss", "roc_auc", "pr_auc", "n_images", "n_skipped"}) {
    if (metrics.contains(key)) html += fmt::format("<tr><td>{}</td><td>{}</td></tr>\n", key, format_metric(metrics[key]));
  }
  html += "</table>\n";
  if (metrics.contains("per_class") && metrics["per_class"].is_object()) {
    html += "<table class=\"metrics\"><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th>"
            "<th>support</th></tr>\n";
    auto row = [&](const std::string& name, const nlohmann::json& m) {
      html += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", html_escape(name),
                          format_metric(m.value("precision", nlohmann::json())),
                          format_metric(m.value("recall", nlohmann::json())),
                          format_metric(m.value("f1", nlohmann::json())),
                          format_metric(m.value("support", nlohmann::json())));
    };
    for (auto& [name, m] : metrics["per_class"].items()) row(name, m);
    for (const char* avg : {"macro_avg", "weighted_avg"}) {
      if (metrics.contains(avg)) row(avg, metrics[avg]);
    }
    html += "</table>\n";
  }
  return html;
}

std::string pairs_table(const std::vector<std::pair<std::string, std::string>>& rows, const char* left,
                        const char* right) {
  // A key/value table (no labels given) needs no header row.
  std::string html = (*left == '\0' && *right == '\0') ? std::string("<table>\n")
                                                       : fmt::format("<table><tr><th>{}</th><th>{}</th></tr>\n", left, right);
  for (auto& [a, b] : rows) html += fmt::format("<tr><td>{}</td><td>{}</td></tr>\n", html_escape(a), html_escape(b));
  return html + "</table>\n";
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string confusion_matrix_svg(const std::vector<std::string>& class_names,
                                 const std::vector<std::vector<int64_t>>& confusion) {
  const int n = static_cast<int>(class_names.size());
  const int cell = n <= 4 ? 80 : n <= 10 ? 52 : 30;
  const int label_space = 110;
  const int size = label_space + n * cell + 20;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"confusion\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"11\">\n"
      "<title>Confusion matrix: rows are true classes, columns predicted classes</title>\n",
      size, size + 20);
  // Each cell is shaded by its share of its row (recall per class), so rows of different sizes compare.
  for (int t = 0; t < n; ++t) {
    int64_t row_total = 0;
    for (int p = 0; p < n; ++p) row_total += confusion[t][p];
    for (int p = 0; p < n; ++p) {
      double share = row_total > 0 ? static_cast<double>(confusion[t][p]) / static_cast<double>(row_total) : 0.0;
      int shade = static_cast<int>(std::lround(255 - 200 * share));
      int x = label_space + p * cell, y = label_space + t * cell;
      svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"rgb({},{},255)\" "
                         "stroke=\"#fff\"/>\n",
                         x, y, cell, cell, shade, shade);
      svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{}\">{}</text>\n", x + cell / 2,
                         y + cell / 2 + 4, share > 0.6 ? "#fff" : "#000", confusion[t][p]);
    }
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", label_space - 6,
                       label_space + t * cell + cell / 2 + 4, html_escape(class_names[static_cast<size_t>(t)]));
    svg += fmt::format("<text transform=\"translate({},{}) rotate(-45)\">{}</text>\n",
                       label_space + t * cell + cell / 2, label_space - 6,
                       html_escape(class_names[static_cast<size_t>(t)]));
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">predicted</text>\n",
                     label_space + n * cell / 2, size + 12);
  svg += fmt::format("<text transform=\"translate(12,{}) rotate(-90)\" text-anchor=\"middle\">true</text>\n",
                     label_space + n * cell / 2);
  return svg + "</svg>\n";
}

std::string roc_curves_svg(const std::vector<RocCurve>& curves) {
  const int plot = 320, margin = 45, legend_width = 220;
  const int width = margin + plot + 20 + legend_width, height = margin + plot + 40;
  auto px = [&](double fpr) { return margin + fpr * plot; };
  auto py = [&](double tpr) { return margin + (1.0 - tpr) * plot; };
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"roc\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n<title>ROC curves</title>\n"
      "<rect x=\"{2}\" y=\"{2}\" width=\"{3}\" height=\"{3}\" fill=\"none\" stroke=\"#444\"/>\n"
      "<line x1=\"{2}\" y1=\"{4}\" x2=\"{4}\" y2=\"{2}\" stroke=\"#aaa\" stroke-dasharray=\"4 4\"/>\n",
      width, height, margin, plot, margin + plot);
  for (int i = 0; i <= 4; ++i) {
    double v = i / 4.0;
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{:.2f}</text>\n", px(v), margin + plot + 14, v);
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:.2f}</text>\n", margin - 4, py(v) + 4, v);
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">false positive rate</text>\n", margin + plot / 2,
                     margin + plot + 30);
  svg += fmt::format("<text transform=\"translate(12,{}) rotate(-90)\" text-anchor=\"middle\">true positive rate</text>\n",
                     margin + plot / 2);
  for (size_t c = 0; c < curves.size(); ++c) {
    const auto& curve = curves[c];
    const char* colour = kPalette[c % kPalette.size()];
    std::string points;
    for (size_t i = 0; i < curve.fpr.size() && i < curve.tpr.size(); ++i)
      points += fmt::format("{:.1f},{:.1f} ", px(curve.fpr[i]), py(curve.tpr[i]));
    svg += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>\n", colour, points);
    int ly = margin + 8 + static_cast<int>(c) * 16;
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" stroke-width=\"3\"/>\n",
                       margin + plot + 20, ly, margin + plot + 40, colour);
    svg += fmt::format("<text x=\"{}\" y=\"{}\">{} (AUC {:.4f})</text>\n", margin + plot + 46, ly + 4,
                       html_escape(curve.label), curve.auc);
  }
  return svg + "</svg>\n";
}

std::filesystem::path write_html_report(const std::filesystem::path& dir, const ReportData& data) {
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>\n<style>\n"
      "body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}\n"
      "table{{border-collapse:collapse;margin:0.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:3px 8px;"
      "text-align:left}}\nth{{background:#f2f2f2}}.figures{{display:flex;flex-wrap:wrap;gap:2em}}\n"
      // Thumbnails are shown at least 96 px wide, pixelated rather than blurred when small images are enlarged.
      ".mistakes{{display:flex;flex-wrap:wrap;gap:6px;align-items:flex-start}}.mistakes h3{{width:100%;margin:0.8em 0 0.2em}}"
      "figure.mistake{{margin:0;width:104px;font-size:11px;text-align:center}}"
      "figure.mistake img,.no-thumbnail{{width:96px;height:auto;image-rendering:pixelated;border:1px solid #c00}}"
      ".no-thumbnail{{height:96px;font-size:10px;overflow:hidden}}\n"
      "</style></head><body>\n<h1>{0}</h1>\n",
      html_escape(data.title));
  html += "<h2>Summary</h2>\n" + pairs_table(data.summary, "", "");
  html += "<h2>Metrics</h2>\n" + metrics_table(data.metrics);
  html += "<div class=\"figures\"><div><h2>Confusion matrix</h2>\n" +
          confusion_matrix_svg(data.class_names, data.confusion) + "</div>\n";
  html += "<div><h2>ROC</h2>\n" + roc_curves_svg(data.roc_curves) + "</div></div>\n";
  if (data.cross_validation)
    html += "<h2>Cross-validation (how the penalty was chosen)</h2>\n" + cv_curve_svg(*data.cross_validation);
  if (data.mistakes) html += "<h2>Mistakes</h2>\n" + mistakes_html(*data.mistakes);
  html += fmt::format("<h2>Skipped files ({})</h2>\n", data.skipped.size());
  html += data.skipped.empty() ? std::string("<p>None: every image was read.</p>\n")
                               : pairs_table(data.skipped, "file", "reason");
  html += "</body></html>\n";
  auto path = dir / "index.html";
  write_file_atomically(path, html);
  return path;
}

}  // namespace xfer::report
