#pragma once
// A line drawn as a standalone inline <svg> (no scripts): the training objective per iteration on the live
// status page, in the report's own style (same fonts, axes and palette as the ROC figure).
#include <string>
#include <utility>
#include <vector>

namespace xfer::report {

// points are (x, y) in drawing order; axes span their range (y padded by 5%). An empty list gives an empty frame.
std::string line_chart_svg(const std::string& title, const std::string& x_label, const std::string& y_label,
                           const std::vector<std::pair<double, double>>& points);

}  // namespace xfer::report
