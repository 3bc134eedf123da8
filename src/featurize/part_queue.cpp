#include "featurize/part_queue.h"

#include <atomic>
#include <chrono>
#include <deque>
#include <exception>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "dist/wire.h"
#include "util/interrupt.h"
#include "util/progress.h"

namespace xfer::featurize {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kToCoordinator = 101;
constexpr int kToWorker = 102;

// Waits a little between polls: short at first (answers come fast), never more than a millisecond.
class Backoff {
 public:
  void pause() {
    std::this_thread::sleep_for(wait_);
    wait_ = std::min(wait_ * 2, std::chrono::microseconds(1000));
  }
  void reset() { wait_ = std::chrono::microseconds(20); }

 private:
  std::chrono::microseconds wait_{20};
};

// How a worker talks to the coordinator: over the communicator (ranks 1..n-1), or in memory (rank 0's own
// worker thread, which must not call MPI: only the coordinating thread does).
class WorkerChannel {
 public:
  virtual ~WorkerChannel() = default;
  virtual void send(json message) = 0;
  virtual std::optional<json> try_receive() = 0;
  virtual bool cancelled() const { return false; }
};

class RemoteChannel final : public WorkerChannel {
 public:
  explicit RemoteChannel(dist::Communicator& comm) : comm_(comm) {}
  void send(json message) override {
    const bool result = message.at("type") == "result";
    comm_.send(0, kToCoordinator, dist::encode(message));
    if (result) comm_.flush();  // the rows leave now, not a batch later
  }
  std::optional<json> try_receive() override {
    auto m = comm_.try_receive(kToWorker);
    if (!m) return std::nullopt;
    return dist::decode(m->bytes);
  }

 private:
  dist::Communicator& comm_;
};

// Two in-memory mailboxes between rank 0's coordinating thread and its worker thread.
class LocalChannel final : public WorkerChannel {
 public:
  void send(json message) override { push(to_coordinator_, std::move(message)); }
  std::optional<json> try_receive() override { return pop(to_worker_); }
  bool cancelled() const override { return cancelled_.load(); }

  void send_to_worker(json message) { push(to_worker_, std::move(message)); }
  std::optional<json> receive_from_worker() { return pop(to_coordinator_); }
  void cancel() { cancelled_ = true; }

 private:
  void push(std::deque<json>& box, json message) {
    std::lock_guard lock(mutex_);
    box.push_back(std::move(message));
  }
  std::optional<json> pop(std::deque<json>& box) {
    std::lock_guard lock(mutex_);
    if (box.empty()) return std::nullopt;
    json m = std::move(box.front());
    box.pop_front();
    return m;
  }

  std::mutex mutex_;
  std::deque<json> to_worker_, to_coordinator_;
  std::atomic<bool> cancelled_{false};
};

class Cancelled : public std::exception {
 public:
  const char* what() const noexcept override { return "cancelled by the coordinator"; }
};

std::vector<StagedImage> staged_from_json(const json& staged) {
  std::vector<StagedImage> out;
  out.reserve(staged.size());
  for (const auto& s : staged) {
    StagedImage image;
    if (s.contains("error"))
      image.read_error = s["error"].get<std::string>();
    else
      image.bytes = s.at("bytes").get_binary();
    out.push_back(std::move(image));
  }
  return out;
}

// A worker: asks for parts, computes them, sends the rows back; the same code on every rank.
void work(WorkerChannel& channel, const std::string& host, const std::vector<data::Sample>& samples,
          const Featurizer& featurizer, const PartJobOptions& options, std::vector<KeptPart>& kept) {
  const auto n = static_cast<int64_t>(samples.size());
  channel.send({{"type", "ready"}, {"want", 2}, {"host", host}});  // one to compute, one queued so there is never a wait
  std::deque<json> queue;
  bool stopped = false;
  auto drain = [&] {
    while (auto m = channel.try_receive()) {
      const auto type = m->at("type").get<std::string>();
      if (type == "assign") queue.push_back(std::move(*m));
      else if (type == "stop") stopped = true;
    }
  };
  Backoff backoff;
  while (true) {
    drain();
    if (!queue.empty()) {
      backoff.reset();
      json assignment = std::move(queue.front());
      queue.pop_front();
      const auto part = assignment.at("part").get<int64_t>();
      const int64_t first = part * options.part_size;
      const int64_t count = std::min(options.part_size, n - first);
      std::optional<std::vector<StagedImage>> staged;
      if (assignment.contains("staged")) staged = staged_from_json(assignment["staged"]);
      assignment = json();  // the staged bytes are copied; free the message
      const auto start = Clock::now();
      int64_t done = 0;
      auto rows = featurize_range(samples, first, count, staged ? &*staged : nullptr, featurizer, options.featurize,
                                  [&](int64_t images) {
                                    if (channel.cancelled()) throw Cancelled();
                                    done += images;
                                    channel.send({{"type", "progress"}, {"part", part}, {"done", done}});
                                  });
      json skipped = json::array();
      for (const auto& s : rows.skipped) skipped.push_back({s.path.string(), s.reason});
      channel.send({{"type", "result"},
                    {"part", part},
                    {"rows", rows.rows},
                    {"features", dist::to_binary(std::span<const float>(rows.features))},
                    {"image_index", dist::to_binary(std::span<const int64_t>(rows.image_index))},
                    {"skipped", skipped},
                    {"seconds", std::chrono::duration<double>(Clock::now() - start).count()}});
      if (options.keep_rows) kept.push_back({part, std::move(rows)});
      continue;
    }
    if (stopped) break;
    if (channel.cancelled()) throw Cancelled();
    throw_if_interrupted(options.label);
    backoff.pause();
  }
  channel.send({{"type", "bye"}});
}

// Rank 0's side: the queue of parts, every rank's state, the sink.
class Coordinator {
 public:
  Coordinator(dist::Communicator& comm, LocalChannel& local, const std::vector<data::Sample>& samples,
              const PartJobOptions& options, PartSink& sink, std::deque<int64_t> pending, int64_t parts)
      : comm_(comm), local_(local), samples_(samples), options_(options), sink_(sink),
        pending_(std::move(pending)), parts_(parts), to_compute_(static_cast<int64_t>(pending_.size())),
        ranks_(static_cast<size_t>(comm.size())) {
    int64_t images = 0;
    for (int64_t part : pending_) images += part_images(part);
    progress_ = std::make_unique<Progress>(options.label, options.featurize.progress ? images : 0, "images");
    for (int r = 0; r < comm.size(); ++r) {
      auto& report = ranks_[static_cast<size_t>(r)].report;
      report.rank = r;
      report.host = r == 0 ? comm.host() : "";
      report.state = "starting";
      report.last_heartbeat = std::chrono::system_clock::now();
    }
  }

  // Runs until every part is in and every worker said goodbye. check_local_worker rethrows what rank 0's own
  // worker thread failed with.
  void run(const std::function<void()>& check_local_worker) {
    Backoff backoff;
    while (byes_ < comm_.size()) {
      bool handled = false;
      if (comm_.size() > 1) {
        while (auto m = comm_.try_receive(kToCoordinator)) {
          handle(m->source, dist::decode(m->bytes));
          handled = true;
        }
      }
      while (auto m = local_.receive_from_worker()) {
        handle(0, std::move(*m));
        handled = true;
      }
      if (handled) {
        backoff.reset();
        continue;
      }
      if (const int s = interrupted()) {
        progress_->finish();
        throw Interrupted(s, fmt::format("{}: interrupted by {} after {} of {} parts. {}", options_.label,
                                         signal_name(s), parts_ - to_compute_ + committed_, parts_,
                                         sink_.interrupted_hint(parts_ - to_compute_ + committed_, parts_)));
      }
      check_local_worker();
      backoff.pause();
    }
    progress_->finish();
  }

  std::vector<RankReport> reports() const {
    std::vector<RankReport> out;
    for (const auto& r : ranks_) out.push_back(r.report);
    return out;
  }

 private:
  struct RankState {
    RankReport report;
    bool stop_sent = false;
    Clock::time_point first_work{};
    int64_t done_in_part = 0;
  };

  int64_t part_images(int64_t part) const {
    return std::min(options_.part_size, static_cast<int64_t>(samples_.size()) - part * options_.part_size);
  }

  void send(int rank, json message) {
    if (rank == 0)
      local_.send_to_worker(std::move(message));
    else
      comm_.send(rank, kToWorker, dist::encode(message));
  }

  void handle(int rank, json message) {
    auto& state = ranks_[static_cast<size_t>(rank)];
    auto& report = state.report;
    report.last_heartbeat = std::chrono::system_clock::now();
    const auto type = message.at("type").get<std::string>();
    if (type == "ready") {
      if (message.contains("host")) report.host = message["host"].get<std::string>();
      report.state = "waiting";
      assign(rank, message.at("want").get<int>());
    } else if (type == "progress") {
      if (state.first_work == Clock::time_point{}) state.first_work = Clock::now();
      const auto done = message.at("done").get<int64_t>();
      const int64_t delta = done - state.done_in_part;
      state.done_in_part = done;
      report.current_part = message.at("part").get<int64_t>();
      report.items_done += delta;
      report.state = "working";
      const double elapsed = std::chrono::duration<double>(Clock::now() - state.first_work).count();
      report.items_per_second = elapsed > 0 ? static_cast<double>(report.items_done) / elapsed : 0;
      progress_->advance(delta);
    } else if (type == "result") {
      accept(rank, message);
      state.done_in_part = 0;
      report.current_part = -1;
      ++report.parts_done;
      assign(rank, 1);
    } else if (type == "failed") {
      report.state = "failed";
      report.error = message.at("error").get<std::string>();
      job_events::rank(report);
      progress_->finish();
      throw RankFailure(rank, report.host, fmt::format("rank {} on {} failed: {}", rank, report.host, report.error));
    } else if (type == "bye") {
      report.state = "done";
      ++byes_;
    } else {
      fail("{}: rank {} sent an unknown message '{}'", options_.label, rank, type);
    }
    job_events::rank(report);
  }

  void accept(int rank, const json& message) {
    PartResult result;
    result.part = message.at("part").get<int64_t>();
    result.first_image = result.part * options_.part_size;
    result.images = part_images(result.part);
    result.rank = rank;
    result.host = ranks_[static_cast<size_t>(rank)].report.host;
    result.seconds = message.at("seconds").get<double>();
    auto& rows = result.rows;
    rows.rows = message.at("rows").get<int64_t>();
    rows.features = dist::from_binary<float>(message.at("features"));
    rows.image_index = dist::from_binary<int64_t>(message.at("image_index"));
    if (static_cast<int64_t>(rows.image_index.size()) != rows.rows)
      fail("{}: rank {} sent {} rows with {} input positions", options_.label, rank, rows.rows, rows.image_index.size());
    for (const int64_t i : rows.image_index) {
      if (i < result.first_image || i >= result.first_image + result.images)
        fail("{}: rank {} sent a row of input {} for part {}", options_.label, rank, i, result.part);
      const auto& sample = samples_[static_cast<size_t>(i)];
      rows.paths.push_back(sample.path.string());
      rows.labels.push_back(sample.label);
    }
    for (const auto& s : message.at("skipped")) {
      rows.skipped.push_back({s.at(0).get<std::string>(), s.at(1).get<std::string>()});
      job_events::skipped(s.at(0).get<std::string>(), s.at(1).get<std::string>());
    }
    sink_.accept(std::move(result));
    ++committed_;
  }

  void assign(int rank, int want) {
    auto& state = ranks_[static_cast<size_t>(rank)];
    for (int i = 0; i < want; ++i) {
      if (pending_.empty()) {
        if (!state.stop_sent) send(rank, {{"type", "stop"}});
        state.stop_sent = true;
        return;
      }
      const int64_t part = pending_.front();
      pending_.pop_front();
      json message = {{"type", "assign"}, {"part", part}};
      if (options_.stage_data) message["staged"] = stage(part);
      send(rank, std::move(message));
    }
  }

  // The encoded files of a part, read here for ranks that cannot see them.
  json stage(int64_t part) const {
    json staged = json::array();
    const int64_t first = part * options_.part_size;
    for (int64_t i = first; i < first + part_images(part); ++i) {
      const auto& path = samples_[static_cast<size_t>(i)].path;
      std::error_code ec;
      const auto size = std::filesystem::file_size(path, ec);
      if (ec) {
        staged.push_back({{"error", "cannot read: " + ec.message()}});
        continue;
      }
      if (static_cast<int64_t>(size) > options_.max_staged_file_bytes) {
        staged.push_back({{"error", fmt::format("{} bytes, over the {} MB limit for staged files", size,
                                                options_.max_staged_file_bytes >> 20)}});
        continue;
      }
      std::ifstream in(path, std::ios::binary);
      std::vector<uint8_t> bytes(size);
      if (size > 0) in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
      if (!in) {
        staged.push_back({{"error", "cannot read the file"}});
        continue;
      }
      staged.push_back({{"bytes", json::binary(std::move(bytes))}});
    }
    return staged;
  }

  dist::Communicator& comm_;
  LocalChannel& local_;
  const std::vector<data::Sample>& samples_;
  const PartJobOptions& options_;
  PartSink& sink_;
  std::deque<int64_t> pending_;
  int64_t parts_;
  int64_t to_compute_;
  int64_t committed_ = 0;
  int byes_ = 0;
  std::vector<RankState> ranks_;
  std::unique_ptr<Progress> progress_;
};

}  // namespace

std::string PartSink::interrupted_hint(int64_t, int64_t) const { return "Nothing was kept."; }

int64_t part_count(int64_t images, int64_t part_size) {
  if (part_size <= 0) usage_fail("part size must be > 0 (got {})", part_size);
  return (images + part_size - 1) / part_size;
}

PartRunSummary run_parts(dist::Communicator& comm, const std::vector<data::Sample>& samples,
                         const Featurizer& featurizer, const PartJobOptions& options, PartSink* sink) {
  const auto start = Clock::now();
  const int64_t parts = part_count(static_cast<int64_t>(samples.size()), options.part_size);
  PartRunSummary summary;
  summary.parts = parts;

  if (comm.rank() != 0) {
    RemoteChannel channel(comm);
    try {
      work(channel, comm.host(), samples, featurizer, options, summary.kept);
    } catch (const Interrupted&) {
      throw;  // every rank got the signal; rank 0 reports it
    } catch (const std::exception& e) {
      channel.send({{"type", "failed"}, {"error", e.what()}});  // so rank 0 can name this rank and show why
      throw;
    }
    summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return summary;
  }

  if (sink == nullptr) fail("{}: rank 0 needs a sink for the parts", options.label);
  std::deque<int64_t> pending;
  for (int64_t part = 0; part < parts; ++part) {
    if (sink->already_done(part))
      ++summary.parts_reused;
    else
      pending.push_back(part);
  }
  for (int64_t part : pending)
    summary.images_computed +=
        std::min(options.part_size, static_cast<int64_t>(samples.size()) - part * options.part_size);
  if (summary.parts_reused > 0)
    spdlog::info("{}: {} of {} parts already committed and reused; computing {}", options.label,
                 summary.parts_reused, parts, pending.size());
  spdlog::debug("{}: {} parts of up to {} images over {} rank(s)", options.label, parts, options.part_size,
                comm.size());

  LocalChannel local;
  Coordinator coordinator(comm, local, samples, options, *sink, std::move(pending), parts);
  std::exception_ptr worker_error;
  std::atomic<bool> worker_finished{false};
  std::thread worker([&] {
    try {
      work(local, comm.host(), samples, featurizer, options, summary.kept);
    } catch (const Cancelled&) {
    } catch (...) {
      worker_error = std::current_exception();
    }
    worker_finished = true;
  });
  auto stop_worker = [&] {
    local.cancel();
    if (worker.joinable()) worker.join();
  };
  try {
    coordinator.run([&] {
      if (worker_finished && worker_error) std::rethrow_exception(worker_error);
    });
  } catch (...) {
    stop_worker();
    throw;
  }
  stop_worker();
  summary.ranks = coordinator.reports();
  summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return summary;
}

}  // namespace xfer::featurize
