#pragma once
// The job as a watcher sees it: a JobObserver that keeps a thread-safe snapshot of the events the job publishes
// (util/job_events.h) and turns it into the JSON of /api/status. It never drives the job: the job publishes
// whether or not anyone watches, and this only copies what it hears.
//
// The JSON (schema "xfer-status/1"):
//   job        what on_start gave (command, command line, settings, host, pid, ranks)
//   phase      listing | featurizing | training | evaluating | predicting | done | failed
//   finished   true once the phase is done or failed
//   phases     [{name, started, seconds}]: when each phase began and how long it ran (so far)
//   stages     one per progress label, Spark's stage table: {label, unit, done, total, items_per_second,
//              eta_seconds, elapsed_seconds, state: running | complete | failed}
//   totals     the current stage's count with its rate and ETA (under MPI rank 0 publishes the job's total)
//   ranks      [{rank, host, state, items_done, items_per_second, current_part, parts_done, last_heartbeat,
//              heartbeat_age_seconds, error, reported}]: from the RankReports; in a single process with none,
//              rank 0's row is made from the progress events (reported: false)
//   skipped    {count, files: [{path, reason}] (the first kMaxSkippedListed), truncated}
//   loss       [[iteration, objective], ...]
//   result     the job's own summary (what it prints with --json), null until the end
//   failure    {message, rank, host} or null
//   figures    {loss_svg, confusion_svg, roc_svg}: the report's own drawings, when there is something to draw
// Times are ISO 8601 UTC; durations seconds.
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/job_events.h"

namespace xfer::status {

class JobStatus : public JobObserver {
 public:
  static constexpr size_t kMaxSkippedListed = 1000;
  static constexpr size_t kMaxLossPoints = 100000;

  // host names rank 0's row when no RankReport arrives.
  explicit JobStatus(std::string host);

  void on_start(const nlohmann::json& job) override;
  void on_phase(const std::string& phase) override;
  void on_progress(const std::string& label, int64_t done, int64_t total, const std::string& unit) override;
  void on_rank(const RankReport& report) override;
  void on_skipped(const std::string& path, const std::string& reason) override;
  void on_loss(int iteration, double objective) override;
  void on_result(const nlohmann::json& summary) override;
  void on_failure(const std::string& message, int rank, const std::string& host) override;

  // Changes with every event: a cache of to_json() is good while the version and the clock have not moved far.
  uint64_t version() const;
  nlohmann::json to_json() const;

 private:
  using Clock = std::chrono::system_clock;
  struct Stage {
    std::string label, unit;
    int64_t done = 0, total = 0;
    Clock::time_point first, last;
  };
  struct Failure {
    std::string message, host;
    int rank = 0;
  };

  void touch_locked();
  nlohmann::json figures_locked() const;

  mutable std::mutex mutex_;
  std::string host_;
  uint64_t version_ = 0;
  Clock::time_point started_, last_event_;
  nlohmann::json job_ = nlohmann::json::object();
  std::vector<std::pair<std::string, Clock::time_point>> phases_;
  std::vector<Stage> stages_;  // in order of first appearance
  std::map<int, RankReport> ranks_;
  std::vector<std::pair<std::string, std::string>> skipped_;
  int64_t skipped_count_ = 0;
  std::vector<std::pair<double, double>> loss_;
  nlohmann::json result_;  // null until the end
  std::optional<Failure> failure_;
  // The drawings of the result cost more than the rest of the JSON: made once, on first request.
  mutable std::optional<nlohmann::json> result_figures_;
  mutable size_t loss_drawn_points_ = 0;
  mutable std::string loss_svg_;
};

std::string iso8601_utc(std::chrono::system_clock::time_point t);

}  // namespace xfer::status
