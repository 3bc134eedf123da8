#pragma once
// The live status page. The server renders the whole page from the /api/status JSON, so it is a plain,
// readable page with JavaScript off (it then reloads itself every few seconds while the job runs). With
// JavaScript on, /status.js fetches /api/status and redraws the same sections in place, without reloading.
// Element ids the script and the tests rely on: phase, elapsed, totals-done, totals-total, totals-rate,
// totals-eta, stages, ranks (rows carry data-rank), skipped-count, skipped, failure, result, figures, loss, job.
#include <string>

#include <nlohmann/json.hpp>

namespace xfer::status {

// refresh_ms: how often the script polls (also the no-script reload period, rounded up to seconds).
std::string render_status_page(const nlohmann::json& status, int refresh_ms);

// The page's script, served as /status.js (a separate resource, so the page's CSP can forbid inline scripts).
const std::string& status_page_script();

}  // namespace xfer::status
