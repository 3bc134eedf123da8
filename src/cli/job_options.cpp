#include "cli/job_options.h"

#include <unistd.h>

#include <omp.h>
#include <spdlog/spdlog.h>

#include "dist/launcher.h"
#include "util/interrupt.h"

namespace xfer::cli {
namespace {
dist::Communicator* g_world = nullptr;
}

void set_world(dist::Communicator& world) { g_world = &world; }

dist::Communicator& world() {
  if (g_world == nullptr) fail("internal: no communicator (main sets it before any command runs)");
  return *g_world;
}

void add_job_options(CLI::App& command, JobOptions& options) {
  command.add_option("--threads", options.threads, "Threads per rank (0: the rank's share of its host's cores)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  command.add_option("--batch", options.batch, "Images per featuriser call")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  command.add_option("--part-size", options.part_size,
                     "Images per part: the unit ranks take from the queue, and that a rerun reuses")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24))
      ->capture_default_str();
  command.add_flag("--stage-data", options.stage_data,
                   "Rank 0 reads the image files and sends them to the ranks (for hosts that cannot see the data)");
  command.add_option("--max-megapixels", options.max_megapixels, "Skip images larger than this (checked before decoding)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

int start_job(const JobOptions& options, dist::Communicator& comm) {
  install_interrupt_handlers();
  int threads = options.threads;
  if (threads <= 0) {
    threads = dist::default_threads_per_rank(comm.ranks_on_host());
    if (comm.size() > 1) {
      spdlog::info("{} thread(s): {} cores / {} rank(s) on this host", threads, sysconf(_SC_NPROCESSORS_ONLN),
                   comm.ranks_on_host());
    }
  }
  omp_set_num_threads(threads);
  return threads;
}

featurize::PartJobOptions part_job_options(const JobOptions& options, int threads, const std::string& label) {
  featurize::PartJobOptions job;
  job.part_size = options.part_size;
  job.stage_data = options.stage_data;
  job.featurize.batch = options.batch;
  job.featurize.threads = threads;
  job.featurize.max_pixels = static_cast<int64_t>(options.max_megapixels * 1e6);
  job.label = label;
  return job;
}

}  // namespace xfer::cli
