#include "cli/job_run.h"

#include "cli/job_options.h"

#include <unistd.h>

#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cluster/ssh.h"
#include "status/job_status.h"
#include "status/status_server.h"
#include "util/error.h"
#include "util/job_events.h"

namespace xfer::cli {
namespace {

// Subscribed for the job's lifetime, whatever way it ends.
class Subscription {
 public:
  explicit Subscription(std::shared_ptr<JobObserver> observer) : observer_(std::move(observer)) {
    add_job_observer(observer_);
  }
  ~Subscription() { remove_job_observer(observer_); }
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

 private:
  std::shared_ptr<JobObserver> observer_;
};

}  // namespace

nlohmann::json describe_command(const CLI::App& command) {
  nlohmann::json settings = nlohmann::json::object();
  std::string line = "xfer " + command.get_name();
  for (const CLI::Option* option : command.get_options()) {
    if (option == command.get_help_ptr() || option == command.get_help_all_ptr()) continue;
    std::string name = option->get_name();
    const bool positional = name.rfind("-", 0) != 0;
    std::string key = name.substr(name.find_first_not_of('-'));
    if (option->count() > 0) {
      const auto& results = option->results();
      if (results.size() == 1) settings[key] = results[0];
      else settings[key] = results;
      const bool flag = option->get_expected_max() == 0;  // a flag's result is its value ("true"), not a word typed
      for (const auto& value : results) {
        if (!positional) line += " " + name;
        if (!flag) line += " " + cluster::shell_word(value);
      }
    } else if (!option->get_default_str().empty()) {
      settings[key] = option->get_default_str();
    }
  }
  return {{"command", command.get_name()},
          {"command_line", line},
          {"settings", settings},
          {"host", status::this_host_name()},
          {"ranks", world().size()},
          {"pid", static_cast<int64_t>(getpid())}};
}

void run_job(const CLI::App& command, const StatusOptions& options, const std::function<nlohmann::json()>& job) {
  // Under MPI only rank 0 serves the page: the other ranks' progress reaches it through the part queue.
  if (world().rank() != 0) {
    job();
    return;
  }
  std::shared_ptr<status::JobStatus> watched;
  std::unique_ptr<Subscription> subscription;
  std::unique_ptr<status::StatusServer> server;
  const std::string host = status::this_host_name();
  if (options.port) {
    watched = std::make_shared<status::JobStatus>(host);
    subscription = std::make_unique<Subscription>(watched);
    server = std::make_unique<status::StatusServer>(watched, options.bind, *options.port);
    // Printed even with --quiet: with --status-port 0 this line is the only way to learn the address.
    fmt::print(stderr, "status page: {} (JSON at {}api/status)\n", server->url(), server->url());
    std::fflush(stderr);
    if (!status::is_loopback_address(options.bind))
      spdlog::warn("status page: listening on {}, so anyone who can reach this machine can watch this job",
                   options.bind);
  }
  auto linger = [&] {
    if (!server || !(options.linger_seconds > 0)) return;
    spdlog::info("status page: serving the final state for {} s at {} (Ctrl-C to stop)", options.linger_seconds,
                 server->url());
    status::linger(options.linger_seconds);
  };

  job_events::start(describe_command(command));
  nlohmann::json summary;
  try {
    summary = job();
  } catch (const RankFailure& e) {
    job_events::failure(e.what(), e.rank(), e.host());
    job_events::phase("failed");
    linger();
    throw;
  } catch (const std::exception& e) {
    job_events::failure(e.what(), 0, host);
    job_events::phase("failed");
    linger();
    throw;
  }
  job_events::result(summary);
  job_events::phase("done");
  linger();
}

}  // namespace xfer::cli
