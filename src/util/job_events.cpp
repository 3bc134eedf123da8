#include "util/job_events.h"

#include <algorithm>
#include <mutex>
#include <vector>

namespace xfer {
namespace {

std::mutex g_mutex;
std::vector<std::shared_ptr<JobObserver>> g_observers;

template <typename Call>
void publish(Call&& call) {
  std::vector<std::shared_ptr<JobObserver>> observers;
  {
    std::lock_guard lock(g_mutex);
    if (g_observers.empty()) return;
    observers = g_observers;  // a copy: an observer removed meanwhile still gets this one event
  }
  for (const auto& o : observers) call(*o);
}

}  // namespace

void add_job_observer(std::shared_ptr<JobObserver> observer) {
  std::lock_guard lock(g_mutex);
  g_observers.push_back(std::move(observer));
}

void remove_job_observer(const std::shared_ptr<JobObserver>& observer) {
  std::lock_guard lock(g_mutex);
  g_observers.erase(std::remove(g_observers.begin(), g_observers.end(), observer), g_observers.end());
}

namespace job_events {
void start(const nlohmann::json& job) { publish([&](JobObserver& o) { o.on_start(job); }); }
void phase(const std::string& phase) { publish([&](JobObserver& o) { o.on_phase(phase); }); }
void progress(const std::string& label, int64_t done, int64_t total, const std::string& unit) {
  publish([&](JobObserver& o) { o.on_progress(label, done, total, unit); });
}
void rank(const RankReport& report) { publish([&](JobObserver& o) { o.on_rank(report); }); }
void skipped(const std::string& path, const std::string& reason) {
  publish([&](JobObserver& o) { o.on_skipped(path, reason); });
}
void loss(int iteration, double objective) { publish([&](JobObserver& o) { o.on_loss(iteration, objective); }); }
void result(const nlohmann::json& summary) { publish([&](JobObserver& o) { o.on_result(summary); }); }
void failure(const std::string& message, int rank, const std::string& host) {
  publish([&](JobObserver& o) { o.on_failure(message, rank, host); });
}
}  // namespace job_events

}  // namespace xfer
