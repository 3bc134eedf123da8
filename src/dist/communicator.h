#pragma once
// The job's communicator: how the ranks of one job talk. One interface, chosen at run time (never at build
// time): a single process (world size 1), ranks as threads in one process (for tests, as XGBoost tests its
// collectives), or MPI (mpirun over ssh, srun under Slurm). A single machine is simply world size 1.
//
// Two kinds of calls:
//  - collectives (allreduce_sum, broadcast, gather, barrier): every rank calls them, in the same order;
//  - tagged point-to-point messages of bytes (send, try_receive), used by the part queue: rank 0 hands out
//    parts and collects results in whatever order the ranks finish.
// Messages and collectives of any size: the MPI implementation cuts them into pieces MPI's int counts can carry.
//
// Failure: abort() ends the whole job (every rank, every host) with the given exit code; any rank may call it
// when it cannot go on alone (a rank that fails while others wait for it). Collective calls on a communicator
// whose job was aborted throw JobAborted.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/error.h"

namespace xfer::dist {

using Bytes = std::vector<uint8_t>;

struct Message {
  int source = -1;
  int tag = 0;
  Bytes bytes;
};

// The job was ended by abort() (here or on another rank); main exits with the code given to abort().
class JobAborted : public ExitStatus {
 public:
  using ExitStatus::ExitStatus;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // The host this rank runs on (its hostname), for messages and the status page.
  virtual const std::string& host() const = 0;
  // How many ranks of this job share this rank's host (1 for a single process).
  virtual int ranks_on_host() const = 0;
  // "single", "threads", "mpi".
  virtual std::string kind() const = 0;

  // Collectives: every rank calls them in the same order.
  virtual void allreduce_sum(double* values, size_t count) = 0;
  virtual void allreduce_sum(int64_t* values, size_t count) = 0;
  // After the call every rank holds root's bytes.
  virtual void broadcast(Bytes& bytes, int root) = 0;
  // Root receives every rank's bytes, in rank order; the others receive an empty vector.
  virtual std::vector<Bytes> gather(const Bytes& bytes, int root) = 0;
  virtual void barrier() = 0;

  // Point-to-point. Sending to oneself is allowed. try_receive never blocks: it returns the oldest message with
  // this tag from any source, if one has arrived.
  virtual void send(int destination, int tag, const Bytes& bytes) = 0;
  virtual std::optional<Message> try_receive(int tag) = 0;
  // Waits until the messages this rank sent have left it (MPI moves a large message only while both ends are in
  // MPI calls: a rank about to compute for a while flushes first, so its result does not wait for it).
  virtual void flush() {}

  // Ends the whole job with this exit code: MPI_Abort under MPI (every rank on every host is killed); in one
  // process it marks the job aborted, throws JobAborted here and in every rank that waits.
  [[noreturn]] virtual void abort(int exit_code, const std::string& reason) = 0;
};

// World size 1: this process alone.
std::unique_ptr<Communicator> make_single_communicator();

// n ranks in this process, one per thread: element r is rank r's communicator (hand each to its own thread).
std::vector<std::unique_ptr<Communicator>> make_thread_communicators(int n);

// Receives a message with this tag, waiting (polling) until one arrives; throws JobAborted or the interruption
// error (util/interrupt.h) while waiting, so a wait never outlives the job.
Message receive(Communicator& comm, int tag);

// The local host's name (gethostname), for messages.
std::string local_host_name();

}  // namespace xfer::dist
