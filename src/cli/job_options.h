#pragma once
// What every job command (featurize, train, evaluate, predict) shares: the job's communicator (one process, or
// the ranks an MPI launcher started), the threads each rank uses, and how the inputs are cut into parts.
// Declared once, so --help says the same everywhere.
#include <CLI/CLI.hpp>

#include "dist/communicator.h"
#include "featurize/part_queue.h"

namespace xfer::cli {

// The communicator main() made for this run (dist::make_world_communicator).
void set_world(dist::Communicator& world);
dist::Communicator& world();

struct JobOptions {
  int threads = 0;  // 0: this rank's share of its host's cores
  int batch = 32;
  int64_t part_size = featurize::kDefaultPartSize;
  bool stage_data = false;
  double max_megapixels = 100;
};

void add_job_options(CLI::App& command, JobOptions& options);

// Starts a job on this rank: SIGINT/SIGTERM become a clean stop, the thread count is settled (and logged under
// MPI: "rank 1 on node7: 8 threads (16 cores / 2 ranks on this host)"), and OpenMP uses it. Returns the threads.
int start_job(const JobOptions& options, dist::Communicator& comm);

// The part queue's options from the command's.
featurize::PartJobOptions part_job_options(const JobOptions& options, int threads, const std::string& label);

}  // namespace xfer::cli
