#pragma once
// The live status page options, declared once for every command that runs a job (featurize, train, evaluate,
// predict), so --help says the same everywhere. cli/job_run.h serves the page while the job runs.
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace xfer::cli {

struct StatusOptions {
  std::optional<int> port;         // no page unless asked
  std::string bind = "127.0.0.1";  // loopback unless told otherwise
  double linger_seconds = 0;
};

inline void add_status_options(CLI::App& command, StatusOptions& o) {
  command.add_option("--status-port", o.port,
                     "Serve a live status page and its JSON (/api/status) on this port while the job runs "
                     "(0: any free port; the address is logged)")
      ->check(CLI::Range(0, 65535));
  command.add_option("--status-bind", o.bind,
                     "Address the status page listens on; anything but loopback lets other machines watch")
      ->capture_default_str();
  command.add_option("--status-linger", o.linger_seconds,
                     "Keep serving the final state this many seconds after the job ends (Ctrl-C ends the wait)")
      ->check(CLI::Range(0.0, 7.0 * 24 * 3600))
      ->capture_default_str();
}

}  // namespace xfer::cli
