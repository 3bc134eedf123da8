#include "util/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "util/job_events.h"

namespace xfer {
namespace {
int g_interactive = -1;  // -1: decide from isatty(stderr)
bool g_enabled = true;
std::chrono::milliseconds g_plain_line_period{10000};

bool interactive() {
  if (g_interactive < 0) g_interactive = isatty(STDERR_FILENO) ? 1 : 0;
  return g_interactive == 1;
}

std::string format_duration(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "?";
  auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}
}  // namespace

void Progress::set_interactive(bool value) { g_interactive = value ? 1 : 0; }
void Progress::set_enabled(bool enabled) { g_enabled = enabled; }
void Progress::set_plain_line_period(std::chrono::milliseconds period) { g_plain_line_period = period; }

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total),
      start_(std::chrono::steady_clock::now()), last_draw_(start_), last_publish_(start_) {
  job_events::progress(label_, 0, total_, unit_);
}

Progress::~Progress() { finish(); }

void Progress::advance(int64_t n) {
  std::lock_guard lock(mutex_);
  done_ += n;
  auto now = std::chrono::steady_clock::now();
  // Redraw at most 10 times a second: drawing must never cost more than the work.
  if (interactive() && g_enabled && now - last_draw_ > std::chrono::milliseconds(100)) {
    last_draw_ = now;
    draw_locked(false);
  } else if (!interactive() && g_enabled && now - last_draw_ >= g_plain_line_period) {
    last_draw_ = now;
    draw_locked(false);
  }
  // Watchers get the count at most 10 times a second too: a status page polled by many clients must not make
  // the job publish (and lock) per item.
  if (now - last_publish_ >= std::chrono::milliseconds(100)) publish_locked(now);
}

void Progress::publish_locked(std::chrono::steady_clock::time_point now) {
  last_publish_ = now;
  job_events::progress(label_, done_, total_, unit_);
}

void Progress::set_detail(const std::string& detail) {
  std::lock_guard lock(mutex_);
  detail_ = detail;
}

int64_t Progress::done() const {
  std::lock_guard lock(mutex_);
  return done_;
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::finish() {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  finished_ = true;
  publish_locked(std::chrono::steady_clock::now());
  if (g_enabled) draw_locked(true);
}

void Progress::draw_locked(bool final_line) {
  double elapsed = elapsed_seconds();
  double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  std::string line;
  if (final_line) {
    line = fmt::format("{}: {} {} in {} ({:.1f} {}/s){}{}", label_, done_, unit_, format_duration(elapsed), rate,
                       unit_, detail_.empty() ? "" : ", ", detail_);
  } else if (!interactive()) {
    // A log line: no carriage returns or bars, everything a reader of the log needs.
    std::string eta = (total_ > 0 && rate > 0) ? format_duration(static_cast<double>(total_ - done_) / rate) : "?";
    std::string share = total_ > 0 ? fmt::format(" ({:.0f}%)", 100.0 * static_cast<double>(done_) /
                                                                 static_cast<double>(total_))
                                    : "";
    line = fmt::format("{}: {}/{} {}{}, {:.1f} {}/s, ETA {}{}{}", label_, done_, total_ > 0 ? std::to_string(total_) : "?",
                       unit_, share, rate, unit_, eta, detail_.empty() ? "" : ", ", detail_);
  } else {
    constexpr int kWidth = 30;
    double fraction = total_ > 0 ? std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_)) : 0.0;
    int filled = static_cast<int>(fraction * kWidth);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::string eta = (total_ > 0 && rate > 0) ? format_duration(static_cast<double>(total_ - done_) / rate) : "?";
    line = fmt::format("{} [{}] {}/{} {:.1f} {}/s ETA {}{}{}", label_, bar, done_, total_, rate, unit_, eta,
                       detail_.empty() ? "" : "  ", detail_);
  }
  if (interactive()) {
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace xfer
