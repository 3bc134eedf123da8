// The report's gallery of mistakes: per true class, thumbnails of the most confidently wrong images with the class
// they were taken for and its probability. The thumbnails are JPEG bytes the caller made, embedded as data: URIs
// so the page stays one file.
#include <fmt/format.h>

#include "report/html_report.h"

namespace xfer::report {

std::string mistakes_html(const MistakeGallery& gallery) {
  std::string html = fmt::format("<p class=\"gallery-limits\">Per true class, the wrong predictions made with the "
                                 "highest probability first; {}.{}</p>\n",
                                 html_escape(gallery.limits),
                                 gallery.not_shown > 0 ? fmt::format(" {} more mistakes are not shown.", gallery.not_shown) : "");
  for (const auto& g : gallery.groups) {
    html += fmt::format("<div class=\"mistakes\"><h3>{}: {} of {} wrong</h3>\n", html_escape(g.true_class), g.wrong, g.total);
    if (g.shown.empty()) {
      html += g.wrong == 0 ? "<p>None.</p>\n" : "<p>Not shown (see the caps above).</p>\n";
    }
    for (const auto& m : g.shown) {
      const std::string caption = fmt::format("{} {:.1f}%", html_escape(m.predicted), 100.0 * m.probability);
      const std::string tooltip = fmt::format("{}: taken for {} ({:.1f}%), {} {:.1f}%", m.path, m.predicted,
                                              100.0 * m.probability, g.true_class, 100.0 * m.true_probability);
      html += "<figure class=\"mistake\">";
      if (!m.jpeg_base64.empty())
        html += fmt::format("<img src=\"data:image/jpeg;base64,{}\" width=\"{}\" height=\"{}\" alt=\"{}\" title=\"{}\">",
                            m.jpeg_base64, m.width, m.height, html_escape(m.path), html_escape(tooltip));
      else
        html += fmt::format("<div class=\"no-thumbnail\" title=\"{}\">{}</div>", html_escape(tooltip),
                            html_escape(m.error.empty() ? "no thumbnail" : m.error));
      html += fmt::format("<figcaption>{}</figcaption></figure>\n", caption);
    }
    html += "</div>\n";
  }
  return html;
}

}  // namespace xfer::report
