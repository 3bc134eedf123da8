#pragma once
// A progress bar for long work: a live bar with items/s and ETA when stderr is a terminal; when it is not (a log
// file, CI, a batch system), a plain line every 10 s with the same numbers, and a summary line at the end. Every bar also publishes its count as a job
// event (util/job_events.h) at most 10 times a second, at its start and at its end, so whoever watches the
// job (the status page) sees the same numbers as the terminal, whether or not a terminal is drawn.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace xfer {

class Progress {
 public:
  // total may be 0 when unknown (then no ETA is shown).
  Progress(std::string label, int64_t total, std::string unit = "items");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t n = 1);  // thread-safe
  void set_detail(const std::string& detail);  // e.g. "loss 0.3412"
  void finish();  // prints the summary line; called by the destructor if not before

  int64_t done() const;
  double elapsed_seconds() const;

  // Overridable for tests and for --quiet; true by default when stderr is a TTY.
  static void set_interactive(bool interactive);
  static void set_enabled(bool enabled);
  // How often the plain lines come when stderr is not a terminal (10 s; tests shorten it).
  static void set_plain_line_period(std::chrono::milliseconds period);

 private:
  void draw_locked(bool final_line);
  void publish_locked(std::chrono::steady_clock::time_point now);

  std::string label_;
  std::string unit_;
  std::string detail_;
  int64_t total_;
  int64_t done_ = 0;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  std::chrono::steady_clock::time_point last_publish_;
  mutable std::mutex mutex_;
};

}  // namespace xfer
