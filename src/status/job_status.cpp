#include "status/job_status.h"

#include <algorithm>
#include <cmath>
#include <ctime>

#include <fmt/format.h>

#include "report/html_report.h"
#include "report/line_chart.h"

namespace xfer::status {
namespace {

double seconds_between(std::chrono::system_clock::time_point a, std::chrono::system_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

bool finished_phase(const std::string& phase) { return phase == "done" || phase == "failed"; }

// NaN and infinities are not JSON: a rate or an ETA that cannot be known is null.
nlohmann::json finite_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

}  // namespace

std::string iso8601_utc(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buffer, ms % 1000);
}

JobStatus::JobStatus(std::string host) : host_(std::move(host)), started_(Clock::now()), last_event_(started_) {}

void JobStatus::touch_locked() {
  ++version_;
  last_event_ = Clock::now();
}

void JobStatus::on_start(const nlohmann::json& job) {
  std::lock_guard lock(mutex_);
  job_ = job;
  started_ = Clock::now();
  touch_locked();
}

void JobStatus::on_phase(const std::string& phase) {
  std::lock_guard lock(mutex_);
  touch_locked();
  phases_.emplace_back(phase, last_event_);
}

void JobStatus::on_progress(const std::string& label, int64_t done, int64_t total, const std::string& unit) {
  std::lock_guard lock(mutex_);
  touch_locked();
  auto it = std::find_if(stages_.begin(), stages_.end(), [&](const Stage& s) { return s.label == label; });
  // A bar that starts again under the same label (a second featurisation in one job) is a new stage.
  if (it == stages_.end() || done < it->done) {
    stages_.push_back({label, unit, done, total, last_event_, last_event_});
    return;
  }
  it->done = done;
  it->total = total;
  it->unit = unit;
  it->last = last_event_;
}

void JobStatus::on_rank(const RankReport& report) {
  std::lock_guard lock(mutex_);
  touch_locked();
  ranks_[report.rank] = report;
}

void JobStatus::on_skipped(const std::string& path, const std::string& reason) {
  std::lock_guard lock(mutex_);
  touch_locked();
  ++skipped_count_;
  if (skipped_.size() < kMaxSkippedListed) skipped_.emplace_back(path, reason);
}

void JobStatus::on_loss(int iteration, double objective) {
  std::lock_guard lock(mutex_);
  touch_locked();
  if (loss_.size() < kMaxLossPoints) loss_.emplace_back(iteration, objective);
}

void JobStatus::on_result(const nlohmann::json& summary) {
  std::lock_guard lock(mutex_);
  touch_locked();
  result_ = summary;
  result_figures_.reset();
}

void JobStatus::on_failure(const std::string& message, int rank, const std::string& host) {
  std::lock_guard lock(mutex_);
  touch_locked();
  failure_ = Failure{message, host, rank};
  // The rank that caused the failure shows it in its row, whatever it last reported.
  auto it = ranks_.find(rank);
  if (it != ranks_.end()) {
    it->second.state = "failed";
    if (it->second.error.empty()) it->second.error = message;
  }
}

uint64_t JobStatus::version() const {
  std::lock_guard lock(mutex_);
  return version_;
}

nlohmann::json JobStatus::figures_locked() const {
  nlohmann::json figures = nlohmann::json::object();
  if (!loss_.empty()) {
    if (loss_drawn_points_ != loss_.size()) {
      loss_svg_ = report::line_chart_svg("Training objective per iteration", "iteration", "objective", loss_);
      loss_drawn_points_ = loss_.size();
    }
    figures["loss_svg"] = loss_svg_;
  }
  if (!result_figures_) {
    result_figures_ = nlohmann::json::object();
    // An evaluation's summary carries its confusion matrix and ROC curves: drawn by the HTML report's own code.
    try {
      if (result_.is_object() && result_.contains("confusion_matrix") && result_.contains("class_names")) {
        (*result_figures_)["confusion_svg"] = report::confusion_matrix_svg(
            result_["class_names"].get<std::vector<std::string>>(),
            result_["confusion_matrix"].get<std::vector<std::vector<int64_t>>>());
      }
      if (result_.is_object() && result_.contains("roc_curves")) {
        std::vector<report::RocCurve> curves;
        for (const auto& c : result_["roc_curves"])
          curves.push_back({c.at("label").get<std::string>(), c.at("fpr").get<std::vector<double>>(),
                            c.at("tpr").get<std::vector<double>>(), c.value("auc", std::nan(""))});
        (*result_figures_)["roc_svg"] = report::roc_curves_svg(curves);
      }
    } catch (const nlohmann::json::exception&) {
      // A summary of another shape has no figures; the numbers are still shown.
    }
  }
  figures.update(*result_figures_);
  return figures;
}

nlohmann::json JobStatus::to_json() const {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  const std::string phase = phases_.empty() ? "starting" : phases_.back().first;
  const bool finished = finished_phase(phase);

  nlohmann::json j;
  j["schema"] = "xfer-status/1";
  j["job"] = job_;
  j["phase"] = phase;
  j["finished"] = finished;
  j["started"] = iso8601_utc(started_);
  j["now"] = iso8601_utc(now);
  j["elapsed_seconds"] = seconds_between(started_, finished ? phases_.back().second : now);
  j["version"] = version_;

  nlohmann::json phases = nlohmann::json::array();
  for (size_t i = 0; i < phases_.size(); ++i) {
    const bool last = i + 1 == phases_.size();
    if (finished && last) {
      phases.push_back({{"name", phases_[i].first}, {"started", iso8601_utc(phases_[i].second)}, {"seconds", 0.0}});
      continue;
    }
    const auto end = last ? now : phases_[i + 1].second;
    phases.push_back({{"name", phases_[i].first},
                      {"started", iso8601_utc(phases_[i].second)},
                      {"seconds", seconds_between(phases_[i].second, end)}});
  }
  j["phases"] = phases;

  // Stages: the last one runs until the job ends; earlier ones are complete.
  nlohmann::json stages = nlohmann::json::array();
  for (size_t i = 0; i < stages_.size(); ++i) {
    const auto& s = stages_[i];
    const bool current = i + 1 == stages_.size();
    const bool complete = !current || phase == "done" || (s.total > 0 && s.done >= s.total);
    const std::string state = complete ? "complete" : (phase == "failed" ? "failed" : "running");
    const auto end = state == "running" ? now : s.last;
    const double elapsed = seconds_between(s.first, end);
    const double rate = elapsed > 0 ? static_cast<double>(s.done) / elapsed : std::nan("");
    const double eta = state == "complete" ? 0.0
                       : (s.total > 0 && rate > 0) ? static_cast<double>(s.total - s.done) / rate
                                                   : std::nan("");
    stages.push_back({{"label", s.label},
                      {"unit", s.unit},
                      {"done", s.done},
                      {"total", s.total},
                      {"items_per_second", finite_or_null(rate)},
                      {"elapsed_seconds", elapsed},
                      {"eta_seconds", finite_or_null(eta)},
                      {"state", state}});
  }
  j["stages"] = stages;
  j["totals"] = stages.empty() ? nlohmann::json() : stages.back();

  nlohmann::json ranks = nlohmann::json::array();
  auto rank_json = [&](const RankReport& r, bool reported) {
    return nlohmann::json{{"rank", r.rank},
                          {"host", r.host},
                          {"state", r.state},
                          {"items_done", r.items_done},
                          {"items_per_second", finite_or_null(r.items_per_second)},
                          {"current_part", r.current_part},
                          {"parts_done", r.parts_done},
                          {"last_heartbeat", iso8601_utc(r.last_heartbeat)},
                          {"heartbeat_age_seconds", std::max(0.0, seconds_between(r.last_heartbeat, now))},
                          {"error", r.error},
                          {"reported", reported}};
  };
  for (const auto& [rank, report] : ranks_) ranks.push_back(rank_json(report, true));
  if (ranks_.empty()) {
    // One process: rank 0 is this process, and its work is what its progress bars counted in images.
    RankReport self;
    self.host = host_;
    self.state = phase == "done" ? "done" : phase == "failed" ? "failed" : phases_.empty() ? "starting" : "working";
    for (size_t i = 0; i < stages.size(); ++i) {
      if (stages_[i].unit != "images") continue;
      self.items_done += stages_[i].done;
      self.items_per_second = stages[i]["items_per_second"].is_null() ? 0.0 : stages[i]["items_per_second"].get<double>();
    }
    self.last_heartbeat = last_event_;
    if (failure_ && failure_->rank == 0) self.error = failure_->message;
    ranks.push_back(rank_json(self, false));
  }
  j["ranks"] = ranks;

  nlohmann::json files = nlohmann::json::array();
  for (const auto& [path, reason] : skipped_) files.push_back({{"path", path}, {"reason", reason}});
  j["skipped"] = {{"count", skipped_count_},
                  {"files", files},
                  {"truncated", skipped_count_ > static_cast<int64_t>(skipped_.size())}};

  nlohmann::json loss = nlohmann::json::array();
  for (const auto& [iteration, objective] : loss_) loss.push_back({iteration, finite_or_null(objective)});
  j["loss"] = loss;
  j["result"] = result_;
  j["failure"] = failure_ ? nlohmann::json{{"message", failure_->message}, {"rank", failure_->rank},
                                           {"host", failure_->host}}
                          : nlohmann::json();
  j["figures"] = figures_locked();
  return j;
}

}  // namespace xfer::status
