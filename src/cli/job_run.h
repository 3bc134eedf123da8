#pragma once
// How a command runs its job: it announces the job (its command line and settings), serves the live status page
// meanwhile when --status-port is given, and publishes the job's summary or its failure at the end. The job
// itself only publishes events (util/job_events.h); it never knows whether a page is watching.
#include <functional>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/status_options.h"

namespace xfer::cli {

// job does the work, prints its output and returns its summary (what --json prints). Its exceptions pass through
// after the failure has been published (and shown on the page for the linger time).
void run_job(const CLI::App& command, const StatusOptions& status, const std::function<nlohmann::json()>& job);

// The command line and settings as the status page shows them: every option given or with a default.
nlohmann::json describe_command(const CLI::App& command);

}  // namespace xfer::cli
