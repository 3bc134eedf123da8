// xfer status URL: what a job's status page shows, in a terminal, for a job running elsewhere.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "status/status_client.h"
#include "util/error.h"

namespace xfer::cli {
namespace {

struct StatusCommandOptions {
  std::string url;
  bool json = false;
  bool watch = false;
  double interval = 1.0;
};

void print_status(const nlohmann::json& status, bool json, bool redraw) {
  if (json) {
    fmt::print("{}\n", status.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    if (redraw) fmt::print("\033[H\033[J");
    fmt::print("{}", status::format_status_text(status));
  }
  std::fflush(stdout);
}

void run_status(const StatusCommandOptions& o) {
  auto status = status::fetch_status(o.url);
  if (!o.watch) {
    print_status(status, o.json, false);
    return;
  }
  // Watching: a terminal is redrawn in place; a pipe gets the status again each time it changes (one JSON
  // object per line with --json), so a log shows the job's course.
  const bool redraw = !o.json && isatty(STDOUT_FILENO);
  uint64_t shown = ~uint64_t{0};
  for (;;) {
    const auto version = status.value("version", uint64_t{0});
    if (redraw || version != shown) print_status(status, o.json, redraw);
    shown = version;
    if (status.value("finished", false)) break;
    std::this_thread::sleep_for(std::chrono::duration<double>(o.interval));
    try {
      status = status::fetch_status(o.url);
    } catch (const Error& e) {
      fail("{} (the job stopped answering before it finished)", e.what());
    }
  }
  if (status.value("phase", std::string()) == "failed") fail("the job failed (see above)");
}

}  // namespace

void add_status_command(CLI::App& app) {
  auto o = std::make_shared<StatusCommandOptions>();
  auto* cmd = app.add_subcommand("status", "Show a running job's status page in the terminal (a job started with "
                                           "--status-port)");
  cmd->add_option("url", o->url, "The job's status page: http://HOST:PORT/ (or HOST:PORT)")->required();
  cmd->add_flag("--json", o->json, "Print the status as JSON (/api/status as it is)");
  cmd->add_flag("--watch", o->watch,
                "Follow the job until it ends; exits 1 if it failed or stopped answering before it finished");
  cmd->add_option("--interval", o->interval, "Seconds between two looks with --watch")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->callback([o] { run_status(*o); });
}

}  // namespace xfer::cli
