#pragma once
// The one owner of MPI_Init_thread / MPI_Finalize: main() creates a session when a launcher started the process
// (dist/launcher.h), before any command runs, and destroys it last. It checks that MPI's world is the world
// the launcher meant to start: a mismatch (an srun without a PMI plugin this OpenMPI speaks, an xfer built
// against another MPI than the launcher's) would otherwise run N separate jobs that each believe they are alone.
#include <memory>

#include "dist/communicator.h"
#include "dist/launcher.h"

namespace xfer::dist {

class MpiSession {
 public:
  // Initialises MPI (MPI_THREAD_FUNNELED: only the thread that runs the command calls MPI). Throws UsageError
  // when MPI's world size is not the launcher's.
  MpiSession(int* argc, char*** argv, const LaunchEnvironment& launch);
  ~MpiSession();  // MPI_Finalize, unless the job was aborted
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  // The job's communicator over MPI_COMM_WORLD (a duplicate, so library traffic never mixes with ours).
  std::unique_ptr<Communicator> world() const;
};

// For main: the communicator of this run. A session when launched by mpirun/srun, else a single process.
// `session` receives the MPI session to keep alive (left empty for a single process).
std::unique_ptr<Communicator> make_world_communicator(int* argc, char*** argv, std::unique_ptr<MpiSession>& session);

}  // namespace xfer::dist
