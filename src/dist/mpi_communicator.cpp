// The communicator over MPI (OpenMPI here). Only the thread that runs the command calls MPI (FUNNELED).
//
// Sizes: MPI counts are int, so payloads are cut into pieces of at most kChunkBytes (LightGBM's way), and
// collectives over doubles run on slices of at most kChunkValues values.
// Deadlock freedom: sends are non-blocking (MPI_Isend, the buffer kept until MPI says it is sent), and
// receives of arrived messages are non-blocking too (MPI_Improbe + MPI_Imrecv, completed on later polls), so a
// rank that sends a large result while its peer sends it a large part never waits on the other.
// Sums: reduce to rank 0, then broadcast, so every rank holds bit-identical values (MPI_Allreduce may round
// differently on different ranks, and ranks taking different optimiser steps would drift apart).
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <list>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "dist/mpi_session.h"

namespace xfer::dist {
namespace {

// 1 GiB: well inside int. XFER_MPI_CHUNK_BYTES lowers it, so tests exercise the cutting with small messages.
const size_t kChunkBytes = [] {
  const char* env = std::getenv("XFER_MPI_CHUNK_BYTES");
  const long long value = env ? std::atoll(env) : 0;
  return value >= 64 && value <= (1LL << 30) ? static_cast<size_t>(value) : size_t{1} << 30;
}();
constexpr size_t kChunkValues = size_t{1} << 26;
constexpr int kContinuationTagOffset = 1 << 20;  // tags of a long message's later pieces: tag + offset
constexpr int kGatherTag = (1 << 20) - 1;

bool g_aborted = false;

void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  fail("MPI: {} failed: {}", what, std::string(text, static_cast<size_t>(length)));
}

// A message on the wire: an 8-byte total size, then the payload; payloads beyond one piece continue in
// messages tagged tag + kContinuationTagOffset.
struct PendingSend {
  Bytes buffer;
  std::vector<MPI_Request> requests;
};

struct PendingReceive {
  int source = -1;
  int tag = 0;
  Bytes wire;
  MPI_Request request = MPI_REQUEST_NULL;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
    MPI_Comm local;
    check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local), "MPI_Comm_split_type");
    check(MPI_Comm_size(local, &ranks_on_host_), "MPI_Comm_size");
    MPI_Comm_free(&local);
    host_ = local_host_name();
  }

  ~MpiCommunicator() override {
    if (g_aborted) return;
    // Sends not yet delivered must complete before MPI_Finalize.
    for (auto& s : sends_) MPI_Waitall(static_cast<int>(s.requests.size()), s.requests.data(), MPI_STATUSES_IGNORE);
    for (auto& r : receives_) MPI_Cancel(&r.request);
    MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const std::string& host() const override { return host_; }
  int ranks_on_host() const override { return ranks_on_host_; }
  std::string kind() const override { return "mpi"; }

  void allreduce_sum(double* values, size_t count) override { sum(values, count, MPI_DOUBLE); }
  void allreduce_sum(int64_t* values, size_t count) override { sum(values, count, MPI_INT64_T); }

  void broadcast(Bytes& bytes, int root) override {
    uint64_t n = bytes.size();
    check(MPI_Bcast(&n, 1, MPI_UINT64_T, root, comm_), "MPI_Bcast");
    if (rank_ != root) bytes.resize(n);
    for (size_t offset = 0; offset < n; offset += kChunkBytes) {
      const int piece = static_cast<int>(std::min<size_t>(kChunkBytes, n - offset));
      check(MPI_Bcast(bytes.data() + offset, piece, MPI_BYTE, root, comm_), "MPI_Bcast");
    }
  }

  std::vector<Bytes> gather(const Bytes& bytes, int root) override {
    std::vector<Bytes> all;
    if (rank_ != root) {
      blocking_send(root, kGatherTag, bytes);
      return all;
    }
    all.resize(static_cast<size_t>(size_));
    for (int r = 0; r < size_; ++r) all[static_cast<size_t>(r)] = r == root ? bytes : blocking_receive(r, kGatherTag);
    return all;
  }

  void barrier() override { check(MPI_Barrier(comm_), "MPI_Barrier"); }

  void send(int destination, int tag, const Bytes& bytes) override {
    reap_sends();
    PendingSend s;
    s.buffer.resize(8 + bytes.size());
    const uint64_t n = bytes.size();
    std::memcpy(s.buffer.data(), &n, 8);
    std::memcpy(s.buffer.data() + 8, bytes.data(), bytes.size());
    for (size_t offset = 0; offset < s.buffer.size(); offset += kChunkBytes) {
      const int piece = static_cast<int>(std::min(kChunkBytes, s.buffer.size() - offset));
      MPI_Request request;
      check(MPI_Isend(s.buffer.data() + offset, piece, MPI_BYTE, destination,
                      offset == 0 ? tag : tag + kContinuationTagOffset, comm_, &request),
            "MPI_Isend");
      s.requests.push_back(request);
    }
    sends_.push_back(std::move(s));
  }

  void flush() override {
    for (auto& s : sends_)
      check(MPI_Waitall(static_cast<int>(s.requests.size()), s.requests.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
    sends_.clear();
  }

  std::optional<Message> try_receive(int tag) override {
    reap_sends();
    // A message of this tag whose transfer completed earlier comes first (in arrival order).
    for (auto it = receives_.begin(); it != receives_.end(); ++it) {
      if (it->tag != tag) continue;
      if (!test_for_a_while(it->request)) return std::nullopt;  // keep per-tag arrival order
      Message m = finish_receive(*it);
      receives_.erase(it);
      return m;
    }
    int found = 0;
    MPI_Message handle;
    MPI_Status status;
    check(MPI_Improbe(MPI_ANY_SOURCE, tag, comm_, &found, &handle, &status), "MPI_Improbe");
    if (!found) return std::nullopt;
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    PendingReceive r;
    r.source = status.MPI_SOURCE;
    r.tag = tag;
    r.wire.resize(static_cast<size_t>(count));
    check(MPI_Imrecv(r.wire.data(), count, MPI_BYTE, &handle, &r.request), "MPI_Imrecv");
    if (test_for_a_while(r.request)) return finish_receive(r);
    receives_.push_back(std::move(r));
    return std::nullopt;
  }

  [[noreturn]] void abort(int exit_code, const std::string& reason) override {
    spdlog::debug("rank {} on {}: aborting the job: {}", rank_, host_, reason);
    g_aborted = true;
    MPI_Abort(comm_, exit_code);
    throw JobAborted(exit_code, reason);  // not reached: MPI_Abort ends this process
  }

 private:
  template <typename T>
  void sum(T* values, size_t count, MPI_Datatype type) {
    for (size_t offset = 0; offset < count; offset += kChunkValues) {
      const int piece = static_cast<int>(std::min(kChunkValues, count - offset));
      T* slice = values + offset;
      if (rank_ == 0)
        check(MPI_Reduce(MPI_IN_PLACE, slice, piece, type, MPI_SUM, 0, comm_), "MPI_Reduce");
      else
        check(MPI_Reduce(slice, nullptr, piece, type, MPI_SUM, 0, comm_), "MPI_Reduce");
      check(MPI_Bcast(slice, piece, type, 0, comm_), "MPI_Bcast");
    }
  }

  // The rest of a long message (its first piece already in r.wire) and the payload out of its framing.
  Message finish_receive(PendingReceive& r) {
    if (r.wire.size() < 8) fail("MPI: a message from rank {} is shorter than its header", r.source);
    uint64_t n = 0;
    std::memcpy(&n, r.wire.data(), 8);
    Message m;
    m.source = r.source;
    m.tag = r.tag;
    m.bytes.assign(r.wire.begin() + 8, r.wire.end());
    size_t received = m.bytes.size();
    m.bytes.resize(n);
    while (received < n) {
      const size_t first = received + 8;  // position of this piece in the sender's framed buffer
      const int piece = static_cast<int>(std::min(kChunkBytes, static_cast<size_t>(n) + 8 - first));
      check(MPI_Recv(m.bytes.data() + received, piece, MPI_BYTE, r.source, r.tag + kContinuationTagOffset, comm_,
                     MPI_STATUS_IGNORE),
            "MPI_Recv");
      received += static_cast<size_t>(piece);
    }
    return m;
  }

  // MPI moves a large message a piece per call: keep calling for a few milliseconds (the sender is usually in MPI
  // too, flushing), but never longer, so a sender busy computing cannot stall this rank.
  static bool test_for_a_while(MPI_Request& request) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(5);
    int done = 0;
    do {
      check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    } while (!done && std::chrono::steady_clock::now() < until);
    return done != 0;
  }

  void blocking_send(int destination, int tag, const Bytes& bytes) {
    send(destination, tag, bytes);
    for (auto& s : sends_) MPI_Waitall(static_cast<int>(s.requests.size()), s.requests.data(), MPI_STATUSES_IGNORE);
    sends_.clear();
  }

  Bytes blocking_receive(int source, int tag) {
    MPI_Status status;
    check(MPI_Probe(source, tag, comm_, &status), "MPI_Probe");
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    PendingReceive r;
    r.source = source;
    r.tag = tag;
    r.wire.resize(static_cast<size_t>(count));
    check(MPI_Recv(r.wire.data(), count, MPI_BYTE, source, tag, comm_, MPI_STATUS_IGNORE), "MPI_Recv");
    return finish_receive(r).bytes;
  }

  void reap_sends() {
    for (auto it = sends_.begin(); it != sends_.end();) {
      int done = 0;
      check(MPI_Testall(static_cast<int>(it->requests.size()), it->requests.data(), &done, MPI_STATUSES_IGNORE),
            "MPI_Testall");
      it = done ? sends_.erase(it) : std::next(it);
    }
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, ranks_on_host_ = 1;
  std::string host_;
  std::list<PendingSend> sends_;
  std::list<PendingReceive> receives_;
};

}  // namespace

MpiSession::MpiSession(int* argc, char*** argv, const LaunchEnvironment& launch) {
  int provided = 0;
  check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  int size = 1, rank = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (launch.size > 0 && size != launch.size) {
    const std::string fix =
        launch.launcher == "srun"
            ? "srun must start the tasks with a PMI this OpenMPI speaks: srun --mpi=pmix (see `srun --mpi=list`)"
            : "Run the xfer of the MPI installation whose launcher you use (here: OpenMPI's mpirun)";
    // Every task sees the same mismatch, so every task stops; MPI_Finalize of a world of 1 is safe.
    MPI_Finalize();
    usage_fail("{} started {} ranks, but MPI sees a world of {}: the ranks cannot find each other. {}",
               launch.launcher, launch.size, size, fix);
  }
  if (provided < MPI_THREAD_FUNNELED) spdlog::warn("MPI provides thread level {} (< FUNNELED)", provided);
}

MpiSession::~MpiSession() {
  if (!g_aborted) MPI_Finalize();
}

std::unique_ptr<Communicator> MpiSession::world() const { return std::make_unique<MpiCommunicator>(); }

std::unique_ptr<Communicator> make_world_communicator(int* argc, char*** argv, std::unique_ptr<MpiSession>& session) {
  const auto launch = detect_launcher();
  if (!launch) return make_single_communicator();
  session = std::make_unique<MpiSession>(argc, argv, *launch);
  return session->world();
}

}  // namespace xfer::dist
