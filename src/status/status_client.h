#pragma once
// The other end of /api/status, for `xfer status URL`: fetch a running job's status and write it for a terminal.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xfer::status {

// URL is the page's address (http://host:port/, host:port, or the /api/status address itself). Throws Error
// naming the URL when it cannot be reached or does not answer with a status.
nlohmann::json fetch_status(const std::string& url);

// The status as lines of text: phase, totals with ETA, stages, ranks, skipped files, loss, result, failure.
std::string format_status_text(const nlohmann::json& status);

// For a job launched elsewhere (xfer submit): where its rank 0, on rank0_host, will serve the page that the
// command's --status-port / --status-bind ask for, and how to reach it; "" when the command asks for no page.
std::string status_page_hint(const std::string& rank0_host, const std::vector<std::string>& command);

}  // namespace xfer::status
