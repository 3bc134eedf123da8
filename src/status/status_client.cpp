#include "status/status_client.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <httplib.h>

#include "util/error.h"

namespace xfer::status {
namespace {

using nlohmann::json;

const json& field(const json& object, const char* key) {
  static const json null;
  if (!object.is_object()) return null;
  auto it = object.find(key);
  return it == object.end() ? null : *it;
}

std::string str(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fmt::format("{:.4f}", v.get<double>());
  return v.dump();
}

std::string rate(const json& v) { return v.is_number() ? fmt::format("{:.1f}", v.get<double>()) : "-"; }

std::string duration(const json& v) {
  if (!v.is_number()) return "?";
  const double seconds = v.get<double>();
  if (seconds < 0 || seconds > 1e7) return "?";
  const auto s = static_cast<int64_t>(std::lround(seconds));
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string bar(int64_t done, int64_t total) {
  constexpr int kWidth = 30;
  const double share = total > 0 ? std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0) : 0.0;
  std::string b(static_cast<size_t>(share * kWidth), '#');
  b.resize(kWidth, '.');
  return "[" + b + "]";
}

}  // namespace

json fetch_status(const std::string& url) {
  std::string address = url.find("://") == std::string::npos ? "http://" + url : url;
  const auto path_start = address.find('/', address.find("://") + 3);
  std::string base = address.substr(0, path_start);
  std::string path = path_start == std::string::npos ? "" : address.substr(path_start);
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.size() < 11 || path.compare(path.size() - 11, 11, "/api/status") != 0) path += "/api/status";

  httplib::Client client(base);
  if (!client.is_valid()) fail("status: {} is not an http:// or https:// address", url);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  auto response = client.Get(path);
  if (!response) fail("status: cannot reach {}: {}", base + path, httplib::to_string(response.error()));
  if (response->status != 200) fail("status: {} answered HTTP {}", base + path, response->status);
  try {
    auto status = json::parse(response->body);
    if (field(status, "schema") != "xfer-status/1") fail("status: {} is not an xfer status page", base + path);
    return status;
  } catch (const json::exception& e) {
    fail("status: {} did not answer with JSON: {}", base + path, e.what());
  }
}

std::string format_status_text(const json& status) {
  static const json empty = json::object();
  const json& s = status.is_object() ? status : empty;
  const json& job = field(s, "job");
  std::string out = fmt::format("xfer {}: {} (elapsed {})\n", str(field(job, "command")), str(field(s, "phase")),
                                duration(field(s, "elapsed_seconds")));
  if (job.contains("command_line")) out += fmt::format("  {}\n", str(field(job, "command_line")));
  if (const json& f = field(s, "failure"); f.is_object())
    out += fmt::format("FAILED on rank {} ({}): {}\n", str(field(f, "rank")), str(field(f, "host")),
                       str(field(f, "message")));
  for (const auto& st : field(s, "stages").is_array() ? field(s, "stages") : json::array()) {
    const int64_t done = st.value("done", int64_t{0}), total = st.value("total", int64_t{0});
    out += fmt::format("  {:<10} {} {}/{} {}  {} {}/s  ETA {}  {}\n", str(field(st, "label")), bar(done, total), done,
                       total > 0 ? std::to_string(total) : "?", str(field(st, "unit")), rate(field(st, "items_per_second")),
                       str(field(st, "unit")), duration(field(st, "eta_seconds")), str(field(st, "state")));
  }
  const json& ranks = field(s, "ranks");
  if (ranks.is_array() && !ranks.empty()) {
    out += fmt::format("  {:>4}  {:<20} {:<9} {:>10} {:>9} {:>6} {:>6}  {}\n", "rank", "host", "state", "items",
                       "items/s", "part", "parts", "heartbeat");
    for (const auto& r : ranks) {
      const int64_t part = r.value("current_part", int64_t{-1});
      out += fmt::format("  {:>4}  {:<20} {:<9} {:>10} {:>9} {:>6} {:>6}  {} ago{}\n", r.value("rank", 0),
                         str(field(r, "host")), str(field(r, "state")), r.value("items_done", int64_t{0}),
                         rate(field(r, "items_per_second")), part >= 0 ? std::to_string(part) : "-",
                         r.value("parts_done", int64_t{0}), duration(field(r, "heartbeat_age_seconds")),
                         r.value("error", std::string()).empty() ? "" : "  " + r.value("error", std::string()));
    }
  }
  const json& skipped = field(s, "skipped");
  if (skipped.is_object() && skipped.value("count", int64_t{0}) > 0) {
    out += fmt::format("  skipped: {} files\n", skipped.value("count", int64_t{0}));
    const json& files = field(skipped, "files");
    for (size_t i = 0; i < std::min<size_t>(files.size(), 5); ++i)
      out += fmt::format("    {}: {}\n", str(field(files[i], "path")), str(field(files[i], "reason")));
    if (files.size() > 5 || skipped.value("truncated", false)) out += "    ...\n";
  }
  const json& loss = field(s, "loss");
  if (loss.is_array() && !loss.empty() && loss.back().is_array() && loss.back().size() == 2)
    out += fmt::format("  loss: iteration {}, objective {}\n", str(loss.back()[0]), str(loss.back()[1]));
  if (const json& result = field(s, "result"); result.is_object()) {
    out += "  result:\n";
    for (const auto& [key, value] : result.items())
      if (!value.is_structured()) out += fmt::format("    {:<18} {}\n", key, str(value));
  }
  return out;
}

std::string status_page_hint(const std::string& rank0_host, const std::vector<std::string>& command) {
  std::string port, bind = "127.0.0.1";
  for (size_t i = 0; i < command.size(); ++i) {
    for (auto [flag, value] : {std::pair{"--status-port", &port}, std::pair{"--status-bind", &bind}}) {
      const std::string f = flag;
      if (command[i] == f && i + 1 < command.size()) *value = command[i + 1];
      else if (command[i].rfind(f + "=", 0) == 0) *value = command[i].substr(f.size() + 1);
    }
  }
  if (port.empty()) return "";
  if (port == "0")
    return fmt::format("status: rank 0 on {} serves the job's page on a free port, printed in the job's log "
                       "(\"status page: ...\")", rank0_host);
  const std::string url = fmt::format("http://{}:{}/", rank0_host, port);
  if (bind == "127.0.0.1" || bind == "localhost" || bind == "::1")
    return fmt::format("status: rank 0 on {0} serves the job's page on its loopback only: ssh -L {1}:127.0.0.1:{1} {0}, "
                       "then xfer status http://127.0.0.1:{1}/ (or give --status-bind 0.0.0.0 for {2})",
                       rank0_host, port, url);
  return fmt::format("status: rank 0 serves the job's page at {0}; watch it with: xfer status {0}", url);
}

}  // namespace xfer::status
