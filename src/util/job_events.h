#pragma once
// What a running job tells whoever watches it: the terminal, the live status page (issue 12), tests. The job
// publishes events here; observers subscribe. The job never knows who is watching, so a status server is a
// reader of the job's progress, not a new owner of it.
//
// Under MPI the events are published on rank 0 only: the other ranks' progress reaches rank 0 through the
// job's own communicator (dist/), and rank 0 publishes one RankReport per rank.
//
// Observers are called synchronously on the publishing thread, under a lock: they must be quick (copy the
// event and return) and must not publish events themselves.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace xfer {

// One rank's view of its work, as rank 0 last heard it.
struct RankReport {
  int rank = 0;
  std::string host;
  std::string state;         // "starting", "working", "waiting", "done", "failed"
  int64_t items_done = 0;    // images this rank has finished in this job (reused parts not counted)
  double items_per_second = 0;
  int64_t current_part = -1; // the part being computed, -1 when none
  int64_t parts_done = 0;
  std::string error;         // when state == "failed"
  std::chrono::system_clock::time_point last_heartbeat;
};

class JobObserver {
 public:
  virtual ~JobObserver() = default;
  // The job's command line and settings, once at the start.
  virtual void on_start(const nlohmann::json& /*job*/) {}
  // "listing", "featurizing", "training", "evaluating", "predicting", "done", "failed".
  virtual void on_phase(const std::string& /*phase*/) {}
  // The job's total for the current phase (what the terminal bar shows).
  virtual void on_progress(const std::string& /*label*/, int64_t /*done*/, int64_t /*total*/,
                           const std::string& /*unit*/) {}
  virtual void on_rank(const RankReport& /*report*/) {}
  virtual void on_skipped(const std::string& /*path*/, const std::string& /*reason*/) {}
  // Training: the objective after each optimiser iteration.
  virtual void on_loss(int /*iteration*/, double /*objective*/) {}
  // The job's own summary at the end (what it prints with --json).
  virtual void on_result(const nlohmann::json& /*summary*/) {}
  virtual void on_failure(const std::string& /*message*/, int /*rank*/, const std::string& /*host*/) {}
};

// Subscriptions. An observer stays subscribed until removed; removing during a publish is safe.
void add_job_observer(std::shared_ptr<JobObserver> observer);
void remove_job_observer(const std::shared_ptr<JobObserver>& observer);

// Publishing (thread-safe; a no-op without observers).
namespace job_events {
void start(const nlohmann::json& job);
void phase(const std::string& phase);
void progress(const std::string& label, int64_t done, int64_t total, const std::string& unit);
void rank(const RankReport& report);
void skipped(const std::string& path, const std::string& reason);
void loss(int iteration, double objective);
void result(const nlohmann::json& summary);
void failure(const std::string& message, int rank, const std::string& host);
}  // namespace job_events

}  // namespace xfer
