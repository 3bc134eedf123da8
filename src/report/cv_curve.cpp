// The cross-validation curve of the report: mean score over the folds against regParam (log scale), the folds'
// spread as a band (mean +- one standard deviation) and each fold as a thin line, the chosen value marked.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "report/html_report.h"

namespace xfer::report {
namespace {

constexpr std::array<const char*, 4> kSeriesColours = {"#0072B2", "#D55E00", "#009E73", "#CC79A7"};

struct Range {
  double low = std::numeric_limits<double>::infinity(), high = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    low = std::min(low, v);
    high = std::max(high, v);
  }
  bool empty() const { return !(low <= high); }
};

std::string metric_label(const CvCurve& c) {
  const char* name = c.metric == "log_loss" ? "log loss" : c.metric == "roc_auc" ? "ROC AUC" : "accuracy";
  return fmt::format("mean {} over {} folds ({} is better)", name, c.folds, c.lower_is_better ? "lower" : "higher");
}

}  // namespace

std::string cv_curve_svg(const CvCurve& c) {
  const int left = 64, top = 20, plot_w = 420, plot_h = 250, legend_w = 200;
  const int width = left + plot_w + 20 + legend_w, height = top + plot_h + 48;
  Range xs, ys;
  for (const auto& s : c.series) {
    for (size_t i = 0; i < s.reg.size(); ++i) {
      if (s.reg[i] > 0) xs.add(std::log10(s.reg[i]));
      ys.add(s.mean[i] - s.std[i]);
      ys.add(s.mean[i] + s.std[i]);
      for (double f : s.fold_scores[i]) ys.add(f);
    }
  }
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"cv-curve\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n<title>Cross-validation: {2} against regParam</title>\n"
      "<rect x=\"{3}\" y=\"{4}\" width=\"{5}\" height=\"{6}\" fill=\"none\" stroke=\"#444\"/>\n",
      width, height, html_escape(metric_label(c)), left, top, plot_w, plot_h);
  if (xs.empty() || ys.empty()) return svg + "<text x=\"70\" y=\"60\">no evaluated grid point</text>\n</svg>\n";
  if (xs.high - xs.low < 1e-9) xs = {xs.low - 0.5, xs.high + 0.5};
  const double ypad = std::max(1e-9, (ys.high - ys.low) * 0.06);
  ys = {ys.low - ypad, ys.high + ypad};
  auto px = [&](double reg) { return left + (std::log10(reg) - xs.low) / (xs.high - xs.low) * plot_w; };
  auto py = [&](double v) { return top + (ys.high - v) / (ys.high - ys.low) * plot_h; };

  // Axes: a tick per decade of reg, five on the score.
  for (int e = static_cast<int>(std::ceil(xs.low - 1e-9)); e <= static_cast<int>(std::floor(xs.high + 1e-9)); ++e) {
    const double x = left + (e - xs.low) / (xs.high - xs.low) * plot_w;
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#ddd\"/>\n", x, top, top + plot_h);
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">1e{}</text>\n", x, top + plot_h + 14, e);
  }
  for (int i = 0; i <= 4; ++i) {
    const double v = ys.low + (ys.high - ys.low) * i / 4.0;
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:.4g}</text>\n", left - 4, py(v) + 4, v);
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">regParam (log scale)</text>\n", left + plot_w / 2,
                     top + plot_h + 32);
  svg += fmt::format("<text transform=\"translate(14,{}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                     top + plot_h / 2, html_escape(metric_label(c)));

  for (size_t si = 0; si < c.series.size(); ++si) {
    const auto& s = c.series[si];
    const char* colour = kSeriesColours[si % kSeriesColours.size()];
    std::string upper, lower, mean;
    for (size_t i = 0; i < s.reg.size(); ++i) {
      if (!(s.reg[i] > 0) || !std::isfinite(s.mean[i])) continue;
      upper += fmt::format("{:.1f},{:.1f} ", px(s.reg[i]), py(s.mean[i] + s.std[i]));
      mean += fmt::format("{:.1f},{:.1f} ", px(s.reg[i]), py(s.mean[i]));
    }
    for (size_t i = s.reg.size(); i-- > 0;)
      if (s.reg[i] > 0 && std::isfinite(s.mean[i])) lower += fmt::format("{:.1f},{:.1f} ", px(s.reg[i]), py(s.mean[i] - s.std[i]));
    svg += fmt::format("<polygon class=\"cv-band\" points=\"{}{}\" fill=\"{}\" fill-opacity=\"0.15\" stroke=\"none\"/>\n",
                       upper, lower, colour);
    const size_t folds = s.fold_scores.empty() ? 0 : s.fold_scores.front().size();
    for (size_t f = 0; f < folds; ++f) {
      std::string line;
      for (size_t i = 0; i < s.reg.size(); ++i)
        if (s.reg[i] > 0 && f < s.fold_scores[i].size() && std::isfinite(s.fold_scores[i][f]))
          line += fmt::format("{:.1f},{:.1f} ", px(s.reg[i]), py(s.fold_scores[i][f]));
      svg += fmt::format("<polyline class=\"cv-fold\" fill=\"none\" stroke=\"{}\" stroke-opacity=\"0.35\" "
                         "stroke-width=\"0.8\" points=\"{}\"/>\n", colour, line);
    }
    svg += fmt::format("<polyline class=\"cv-mean\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n",
                       colour, mean);
    for (size_t i = 0; i < s.reg.size(); ++i)
      if (s.reg[i] > 0 && std::isfinite(s.mean[i]))
        svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"/>\n", px(s.reg[i]), py(s.mean[i]), colour);
    const int ly = top + 10 + static_cast<int>(si) * 16;
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" stroke-width=\"3\"/>\n",
                       left + plot_w + 20, ly, left + plot_w + 40, colour);
    svg += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", left + plot_w + 46, ly + 4,
                       html_escape(s.label.empty() ? "mean, band: +-1 std" : s.label));
  }
  if (c.chosen_series < c.series.size() && c.chosen_point < c.series[c.chosen_series].reg.size()) {
    const auto& s = c.series[c.chosen_series];
    const double reg = s.reg[c.chosen_point], m = s.mean[c.chosen_point];
    if (reg > 0 && std::isfinite(m)) {
      svg += fmt::format("<line class=\"cv-chosen\" x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#000\" "
                         "stroke-dasharray=\"4 3\"/>\n", px(reg), top, top + plot_h);
      svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"5\" fill=\"none\" stroke=\"#000\" stroke-width=\"1.5\"/>\n",
                         px(reg), py(m));
      const int ly = top + 14 + static_cast<int>(c.series.size()) * 16;
      svg += fmt::format("<text x=\"{}\" y=\"{}\">chosen: reg {:.3g}</text>\n", left + plot_w + 20, ly, reg);
      svg += fmt::format("<text x=\"{}\" y=\"{}\">mean {:.4f} (std {:.4f})</text>\n", left + plot_w + 20, ly + 15, m,
                         s.std[c.chosen_point]);
    }
  }
  return svg + "</svg>\n";
}

}  // namespace xfer::report
