// The communicators that need no MPI: a single process, and ranks as threads of one process (for tests: the
// collective and part-queue logic runs exactly as under MPI, without launching anything).
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "dist/communicator.h"
#include "util/interrupt.h"

namespace xfer::dist {
namespace {

// What the ranks of one process share: a mailbox per rank and one slot per rank for collectives.
class SharedWorld {
 public:
  explicit SharedWorld(int n) : n_(n), mailboxes_(static_cast<size_t>(n)), slots_(static_cast<size_t>(n)) {}

  int size() const { return n_; }

  void post(int destination, Message message) {
    std::lock_guard lock(mutex_);
    mailboxes_[static_cast<size_t>(destination)].push_back(std::move(message));
    changed_.notify_all();
  }

  std::optional<Message> take(int rank, int tag) {
    std::lock_guard lock(mutex_);
    throw_if_aborted_locked();
    auto& box = mailboxes_[static_cast<size_t>(rank)];
    for (auto it = box.begin(); it != box.end(); ++it) {
      if (it->tag != tag) continue;
      Message m = std::move(*it);
      box.erase(it);
      return m;
    }
    return std::nullopt;
  }

  // A barrier that an abort releases (std::barrier cannot be woken).
  void barrier() {
    std::unique_lock lock(mutex_);
    throw_if_aborted_locked();
    const int64_t generation = generation_;
    if (++arrived_ == n_) {
      arrived_ = 0;
      ++generation_;
      changed_.notify_all();
      return;
    }
    changed_.wait(lock, [&] { return generation_ != generation || aborted_; });
    throw_if_aborted_locked();
  }

  Bytes& slot(int rank) { return slots_[static_cast<size_t>(rank)]; }

  void abort(int code, const std::string& reason) {
    std::lock_guard lock(mutex_);
    if (!aborted_) {
      aborted_ = true;
      abort_code_ = code;
      abort_reason_ = reason;
    }
    changed_.notify_all();
  }

 private:
  void throw_if_aborted_locked() const {
    if (aborted_) throw JobAborted(abort_code_, abort_reason_);
  }

  int n_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::deque<Message>> mailboxes_;
  std::vector<Bytes> slots_;
  int arrived_ = 0;
  int64_t generation_ = 0;
  bool aborted_ = false;
  int abort_code_ = 1;
  std::string abort_reason_;
};

class ThreadCommunicator final : public Communicator {
 public:
  ThreadCommunicator(std::shared_ptr<SharedWorld> world, int rank, std::string kind)
      : world_(std::move(world)), rank_(rank), host_(local_host_name()), kind_(std::move(kind)) {}

  int rank() const override { return rank_; }
  int size() const override { return world_->size(); }
  const std::string& host() const override { return host_; }
  int ranks_on_host() const override { return world_->size(); }
  std::string kind() const override { return kind_; }

  void allreduce_sum(double* values, size_t count) override { sum_in_rank_order(values, count); }
  void allreduce_sum(int64_t* values, size_t count) override { sum_in_rank_order(values, count); }

  void broadcast(Bytes& bytes, int root) override {
    if (rank_ == root) world_->slot(root) = bytes;
    world_->barrier();
    if (rank_ != root) bytes = world_->slot(root);
    world_->barrier();
  }

  std::vector<Bytes> gather(const Bytes& bytes, int root) override {
    world_->slot(rank_) = bytes;
    world_->barrier();
    std::vector<Bytes> all;
    if (rank_ == root)
      for (int r = 0; r < size(); ++r) all.push_back(world_->slot(r));
    world_->barrier();
    return all;
  }

  void barrier() override { world_->barrier(); }

  void send(int destination, int tag, const Bytes& bytes) override {
    if (destination < 0 || destination >= size()) fail("send: no rank {} in a world of {}", destination, size());
    world_->post(destination, Message{rank_, tag, bytes});
  }

  std::optional<Message> try_receive(int tag) override { return world_->take(rank_, tag); }

  [[noreturn]] void abort(int exit_code, const std::string& reason) override {
    world_->abort(exit_code, reason);
    throw JobAborted(exit_code, reason);
  }

 private:
  // Every rank adds the slots in rank order, so every rank holds bit-identical sums (as MPI reduce + bcast).
  template <typename T>
  void sum_in_rank_order(T* values, size_t count) {
    auto& mine = world_->slot(rank_);
    mine.resize(count * sizeof(T));
    std::memcpy(mine.data(), values, count * sizeof(T));
    world_->barrier();
    std::vector<T> sum(count, T{0});
    for (int r = 0; r < size(); ++r) {
      const auto* part = reinterpret_cast<const T*>(world_->slot(r).data());
      for (size_t i = 0; i < count; ++i) sum[i] += part[i];
    }
    world_->barrier();
    std::memcpy(values, sum.data(), count * sizeof(T));
  }

  std::shared_ptr<SharedWorld> world_;
  int rank_;
  std::string host_;
  std::string kind_;
};

}  // namespace

std::unique_ptr<Communicator> make_single_communicator() {
  return std::make_unique<ThreadCommunicator>(std::make_shared<SharedWorld>(1), 0, "single");
}

std::vector<std::unique_ptr<Communicator>> make_thread_communicators(int n) {
  if (n < 1) usage_fail("thread communicators: need at least one rank (got {})", n);
  auto world = std::make_shared<SharedWorld>(n);
  std::vector<std::unique_ptr<Communicator>> ranks;
  for (int r = 0; r < n; ++r) ranks.push_back(std::make_unique<ThreadCommunicator>(world, r, "threads"));
  return ranks;
}

Message receive(Communicator& comm, int tag) {
  // Polling, not blocking: the wait must notice an interruption, and MPI needs calls to make progress.
  auto pause = std::chrono::microseconds(20);
  while (true) {
    if (auto m = comm.try_receive(tag)) return std::move(*m);
    throw_if_interrupted("waiting for a message");
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
}

std::string local_host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

}  // namespace xfer::dist
