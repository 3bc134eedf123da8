#include "report/line_chart.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "report/html_report.h"

namespace xfer::report {

std::string line_chart_svg(const std::string& title, const std::string& x_label, const std::string& y_label,
                           const std::vector<std::pair<double, double>>& points) {
  const int plot_w = 420, plot_h = 220, left = 70, top = 25;
  const int width = left + plot_w + 20, height = top + plot_h + 45;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  std::vector<std::pair<double, double>> finite;
  for (const auto& p : points)
    if (std::isfinite(p.first) && std::isfinite(p.second)) finite.push_back(p);
  if (!finite.empty()) {
    auto [xmin, xmax] = std::minmax_element(finite.begin(), finite.end(),
                                            [](const auto& a, const auto& b) { return a.first < b.first; });
    auto [ymin, ymax] = std::minmax_element(finite.begin(), finite.end(),
                                            [](const auto& a, const auto& b) { return a.second < b.second; });
    x0 = xmin->first, x1 = xmax->first, y0 = ymin->second, y1 = ymax->second;
    if (x1 <= x0) x1 = x0 + 1;
    const double pad = y1 > y0 ? 0.05 * (y1 - y0) : std::max(1e-12, 0.05 * std::abs(y0) + 1e-12);
    y0 -= pad, y1 += pad;
  }
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * plot_w; };
  auto py = [&](double y) { return top + (1.0 - (y - y0) / (y1 - y0)) * plot_h; };
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"line-chart\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"11\">\n<title>{2}</title>\n"
      "<rect x=\"{3}\" y=\"{4}\" width=\"{5}\" height=\"{6}\" fill=\"none\" stroke=\"#444\"/>\n",
      width, height, html_escape(title), left, top, plot_w, plot_h);
  for (int i = 0; i <= 4; ++i) {
    const double fx = x0 + (x1 - x0) * i / 4.0, fy = y0 + (y1 - y0) * i / 4.0;
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{:.4g}</text>\n", px(fx), top + plot_h + 14, fx);
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:.4g}</text>\n", left - 4, py(fy) + 4, fy);
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", left + plot_w / 2,
                     top + plot_h + 32, html_escape(x_label));
  svg += fmt::format("<text transform=\"translate(12,{}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                     top + plot_h / 2, html_escape(y_label));
  std::string line;
  for (const auto& [x, y] : finite) line += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
  if (!line.empty())
    svg += fmt::format("<polyline fill=\"none\" stroke=\"#0072B2\" stroke-width=\"1.5\" points=\"{}\"/>\n", line);
  return svg + "</svg>\n";
}

}  // namespace xfer::report
