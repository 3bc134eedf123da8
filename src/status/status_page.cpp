#include "status/status_page.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "report/html_report.h"

// The sections below and their twins in status_script.cpp draw the same markup from the same JSON: this one for
// the first load and for readers without JavaScript, the script for the live updates.
namespace xfer::status {
namespace {

using report::html_escape;
using nlohmann::json;

// A missing key reads as null (const operator[] would be undefined behaviour).
const json& field(const json& object, const char* key) {
  static const json null;
  if (!object.is_object()) return null;
  auto it = object.find(key);
  return it == object.end() ? null : *it;
}

std::string text(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return html_escape(v.get<std::string>());
  if (v.is_number_float()) return fmt::format("{:.4f}", v.get<double>());
  return html_escape(v.dump());
}

std::string rate(const json& v) { return v.is_number() ? fmt::format("{:.1f}", v.get<double>()) : "–"; }

std::string duration(const json& v) {
  if (!v.is_number()) return "–";
  const double seconds = v.get<double>();
  if (seconds < 0 || seconds > 1e7) return "–";
  const auto s = static_cast<int64_t>(std::lround(seconds));
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string percent_bar(int64_t done, int64_t total) {
  const double share = total > 0 ? std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0) : 0.0;
  return fmt::format("<div class=\"bar\"><div style=\"width:{:.1f}%\"></div></div>", 100.0 * share);
}

std::string section_totals(const json& s) {
  const json& t = s.value("totals", json());
  if (!t.is_object()) return "<p>No work counted yet.</p>";
  const int64_t done = t.value("done", int64_t{0}), total = t.value("total", int64_t{0});
  return fmt::format(
      "<p class=\"totals\"><b>{}</b>: <span id=\"totals-done\">{}</span> of <span id=\"totals-total\">{}</span> {} · "
      "<span id=\"totals-rate\">{}</span> {}/s · ETA <span id=\"totals-eta\">{}</span></p>{}",
      text(field(t, "label")), done, total > 0 ? std::to_string(total) : "?", text(field(t, "unit")), rate(field(t, "items_per_second")),
      text(field(t, "unit")), duration(field(t, "eta_seconds")), percent_bar(done, total));
}

std::string section_stages(const json& s) {
  std::string html =
      "<tr><th>stage</th><th>state</th><th>done</th><th>total</th><th>progress</th><th>rate</th><th>elapsed</th>"
      "<th>ETA</th></tr>\n";
  for (const auto& st : s.value("stages", json::array())) {
    html += fmt::format(
        "<tr class=\"{1}\"><td>{0}</td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td><td>{5} {6}/s</td>"
        "<td>{7}</td><td>{8}</td></tr>\n",
        text(field(st, "label")), text(field(st, "state")), st.value("done", int64_t{0}), st.value("total", int64_t{0}),
        percent_bar(st.value("done", int64_t{0}), st.value("total", int64_t{0})), rate(field(st, "items_per_second")),
        text(field(st, "unit")), duration(field(st, "elapsed_seconds")), duration(field(st, "eta_seconds")));
  }
  return html;
}

std::string section_ranks(const json& s) {
  std::string html =
      "<tr><th>rank</th><th>host</th><th>state</th><th>items done</th><th>items/s</th><th>current part</th>"
      "<th>parts done</th><th>last heartbeat</th><th>error</th></tr>\n";
  for (const auto& r : s.value("ranks", json::array())) {
    const int64_t part = r.value("current_part", int64_t{-1});
    html += fmt::format(
        "<tr data-rank=\"{0}\" class=\"{2}\"><td>{0}</td><td>{1}</td><td>{2}</td><td class=\"items\">{3}</td>"
        "<td>{4}</td><td>{5}</td><td>{6}</td><td>{7} ago</td><td>{8}</td></tr>\n",
        r.value("rank", 0), text(field(r, "host")), text(field(r, "state")), r.value("items_done", int64_t{0}),
        rate(field(r, "items_per_second")), part >= 0 ? std::to_string(part) : "–", r.value("parts_done", int64_t{0}),
        duration(field(r, "heartbeat_age_seconds")), text(field(r, "error")));
  }
  return html;
}

std::string section_failure(const json& s) {
  const json& f = s.value("failure", json());
  if (!f.is_object()) return "";
  return fmt::format("<h2>Failed</h2><p><b>rank {} on {}</b>: {}</p>", f.value("rank", 0), text(field(f, "host")),
                     text(field(f, "message")));
}

std::string section_result(const json& s) {
  const json& r = s.value("result", json());
  if (!r.is_object()) return "<p>Not finished yet.</p>";
  std::string html = "<table>\n";
  for (const auto& [key, value] : r.items()) {
    if (value.is_structured()) continue;  // lists and tables are drawn below or belong to the JSON
    html += fmt::format("<tr><td>{}</td><td class=\"value\" data-key=\"{}\">{}</td></tr>\n", html_escape(key),
                        html_escape(key), text(value));
  }
  return html + "</table>\n";
}

// The figures are the report's own SVG, made on the server; inserted as they are.
std::string section_figures(const json& s) {
  const json& f = s.value("figures", json::object());
  std::string html;
  if (f.contains("confusion_svg")) html += "<div><h3>Confusion matrix</h3>" + field(f, "confusion_svg").get<std::string>() + "</div>";
  if (f.contains("roc_svg")) html += "<div><h3>ROC</h3>" + field(f, "roc_svg").get<std::string>() + "</div>";
  return html;
}

std::string section_loss(const json& s) {
  const json& f = s.value("figures", json::object());
  if (!f.contains("loss_svg")) return "";
  const auto& loss = field(s, "loss");
  if (!loss.is_array() || loss.empty() || !loss.back().is_array() || loss.back().size() < 2) return "";
  return fmt::format("<h2>Training loss</h2><p>iteration {}: objective {}</p>{}", text(loss.back()[0]),
                     text(loss.back()[1]), field(f, "loss_svg").get<std::string>());
}

std::string section_skipped(const json& s) {
  const json& k = s.value("skipped", json::object());
  std::string html = "<tr><th>file</th><th>reason</th></tr>\n";
  for (const auto& f : k.value("files", json::array()))
    html += fmt::format("<tr><td>{}</td><td>{}</td></tr>\n", text(field(f, "path")), text(field(f, "reason")));
  if (k.value("truncated", false)) html += "<tr><td colspan=\"2\">(more not listed)</td></tr>\n";
  return html;
}

std::string section_phases(const json& s) {
  std::string html = "<tr><th>phase</th><th>started</th><th>duration</th></tr>\n";
  for (const auto& p : s.value("phases", json::array()))
    html += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n", text(field(p, "name")), text(field(p, "started")),
                        duration(field(p, "seconds")));
  return html;
}

std::string section_job(const json& s) {
  const json& job = s.value("job", json::object());
  std::string html = "<table>\n";
  for (const char* key : {"command_line", "host", "pid", "ranks"})
    if (job.contains(key)) html += fmt::format("<tr><td>{}</td><td>{}</td></tr>\n", key, text(job[key]));
  const json settings = job.value("settings", json::object());  // a named copy: items() of a temporary dangles
  for (const auto& [key, value] : settings.items())
    html += fmt::format("<tr><td>{}</td><td>{}</td></tr>\n", html_escape(key), text(value));
  return html + "</table>\n";
}

constexpr const char* kStyle =
    "body{font-family:sans-serif;max-width:1100px;margin:1.5em auto;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0 1.2em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
    "th{background:#f2f2f2}.bar{width:220px;height:10px;background:#eee;display:inline-block}"
    ".bar>div{height:10px;background:#0072B2}.phase{font-weight:bold;padding:1px 6px;border-radius:3px;"
    "background:#e8f0fe}.phase-done{background:#d7f5dd}.phase-failed,.failed{background:#fbe0e0}"
    "#failure:empty{display:none}#failure{border:2px solid #D55E00;padding:0 1em;margin:1em 0}"
    ".figures{display:flex;flex-wrap:wrap;gap:2em}#connection{color:#D55E00}";

}  // namespace

std::string render_status_page(const nlohmann::json& status, int refresh_ms) {
  static const json empty = json::object();
  const json& s = status.is_object() ? status : empty;
  const bool finished = s.value("finished", false);
  const json& job = s.value("job", json::object());
  const std::string title = fmt::format("xfer {}", job.value("command", std::string("job")));
  const std::string phase = s.value("phase", std::string("starting"));
  // Without JavaScript the page reloads itself while the job runs; once it has ended there is nothing to wait for.
  const std::string reload =
      finished ? "" : fmt::format("<noscript><meta http-equiv=\"refresh\" content=\"{}\"></noscript>",
                                  std::max(1, (refresh_ms + 999) / 1000));
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>{1}\n"
      "<link rel=\"icon\" href=\"data:,\">\n"
      "<style>{2}</style></head>\n<body data-refresh=\"{3}\">\n<h1 id=\"title\">{0}</h1>\n"
      "<p>Phase <span id=\"phase\" class=\"phase phase-{4}\">{4}</span> · elapsed <span id=\"elapsed\">{5}</span> · "
      "as of <span id=\"now\">{6}</span> <span id=\"connection\"></span></p>\n",
      html_escape(title), reload, kStyle, refresh_ms, html_escape(phase), duration(field(s, "elapsed_seconds")),
      text(field(s, "now")));
  html += "<div id=\"failure\">" + section_failure(s) + "</div>\n";
  html += "<section id=\"totals\">" + section_totals(s) + "</section>\n";
  html += "<h2>Stages</h2>\n<table id=\"stages\">" + section_stages(s) + "</table>\n";
  html += "<h2>Ranks</h2>\n<table id=\"ranks\">" + section_ranks(s) + "</table>\n";
  html += "<h2>Result</h2>\n<section id=\"result\">" + section_result(s) + "</section>\n";
  html += "<div id=\"figures\" class=\"figures\">" + section_figures(s) + "</div>\n";
  html += "<section id=\"loss\">" + section_loss(s) + "</section>\n";
  html += fmt::format("<h2>Skipped files (<span id=\"skipped-count\">{}</span>)</h2>\n<table id=\"skipped\">{}</table>\n",
                      s.value("skipped", json::object()).value("count", int64_t{0}), section_skipped(s));
  html += "<h2>Phases</h2>\n<table id=\"phases\">" + section_phases(s) + "</table>\n";
  html += "<h2>Job</h2>\n<section id=\"job\">" + section_job(s) + "</section>\n";
  html += "<p>The same as JSON: <a href=\"/api/status\">/api/status</a></p>\n";
  html += "<script src=\"/status.js\"></script>\n</body></html>\n";
  return html;
}

}  // namespace xfer::status
