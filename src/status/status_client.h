#pragma once
// The other end of /api/status, for `xfer status URL`: fetch a running job's status and write it for a terminal.
#include <string>

#include <nlohmann/json.hpp>

namespace xfer::status {

// URL is the page's address (http://host:port/, host:port, or the /api/status address itself). Throws Error
// naming the URL when it cannot be reached or does not answer with a status.
nlohmann::json fetch_status(const std::string& url);

// The status as lines of text: phase, totals with ETA, stages, ranks, skipped files, loss, result, failure.
std::string format_status_text(const nlohmann::json& status);

}  // namespace xfer::status
