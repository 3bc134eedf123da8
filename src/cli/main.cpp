// xfer: the thin command line over the library. Only this file decides exit codes:
// 0 success, 2 usage errors (bad flags or values), 1 failures of the work itself — except ExitStatus, whose
// code is passed through (broadcast's worst exit code over its hosts, 128 + N after signal N).
//
// Under an MPI launcher (mpirun, srun) every rank runs this same main. MPI is initialised here, before the
// command, and finalised last (dist::MpiSession). A failure on one rank cannot be left to the others, which may
// be waiting for it: that rank prints its error, naming itself and its host, and aborts the whole job. An error
// every rank agreed on (dist::JobMismatch: a host with another copy of the data, a missing model) is printed once,
// by rank 0, and every rank exits with its code.
#include <chrono>
#include <cstdio>
#include <thread>
#include <exception>

#include "cli/commands.h"
#include "cli/job_options.h"
#include "cli/openmp_wait.h"
#include "dist/agreement.h"
#include "dist/mpi_session.h"
#include "util/error.h"
#include "util/interrupt.h"
#include "util/log.h"
#include "util/progress.h"

namespace {

int exit_code_for(const std::exception& e) {
  if (const auto* status = dynamic_cast<const xfer::ExitStatus*>(&e))
    return status->code() > 0 && status->code() < 256 ? status->code() : 1;
  if (dynamic_cast<const xfer::UsageError*>(&e)) return 2;
  return 1;
}

int report_failure(const std::exception& e, xfer::dist::Communicator* world) {
  const int code = exit_code_for(e);
  if (world == nullptr || world->size() == 1) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return code;
  }
  if (dynamic_cast<const xfer::dist::JobMismatch*>(&e) != nullptr) {
    if (world->rank() == 0) std::fprintf(stderr, "error: %s\n", e.what());
    return code;
  }
  // A rank other than 0 gives rank 0 a moment to end the job itself: an interruption reaches every rank at once
  // (the launcher forwards the signal) and rank 0 reports what was kept; a failure in the part queue was sent to
  // rank 0, which shows it on the status page and names this rank. Only then does this rank end the job.
  const bool interrupted = dynamic_cast<const xfer::Interrupted*>(&e) != nullptr;
  if (world->rank() != 0 && !interrupted)
    std::fprintf(stderr, "error: rank %d on %s: %s\n", world->rank(), world->host().c_str(), e.what());
  std::fflush(stderr);
  if (world->rank() != 0) std::this_thread::sleep_for(std::chrono::seconds(5));
  if (world->rank() == 0 || interrupted)
    std::fprintf(stderr, "error: rank %d on %s: %s\n", world->rank(), world->host().c_str(), e.what());
  std::fflush(stderr);
  world->abort(code, e.what());
  return code;  // not reached: abort() ends every rank
}

}  // namespace

int main(int argc, char** argv) {
  xfer::cli::choose_openmp_wait_policy(argv);  // before MPI or any thread starts: it may execute xfer again
  std::unique_ptr<xfer::dist::MpiSession> mpi;
  std::unique_ptr<xfer::dist::Communicator> world;
  try {
    world = xfer::dist::make_world_communicator(&argc, &argv, mpi);
  } catch (const std::exception& e) {
    return report_failure(e, nullptr);
  }
  xfer::cli::set_world(*world);

  CLI::App app{"xfer: turns a folder of images and a pretrained CNN into a trained, evaluated classifier"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "xfer 0.1.0");
  int verbosity = 0;
  app.add_flag("-v,--verbose", verbosity, "More log detail");
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "Only warnings and errors; no progress bars");
  app.parse_complete_callback([&] {
    xfer::init_logging(quiet ? -1 : verbosity, world->size() > 1 ? world->rank() : -1, world->host());
    if (quiet || world->rank() != 0) xfer::Progress::set_enabled(false);
  });

  xfer::cli::add_data_commands(app);
  xfer::cli::add_featurize_command(app);
  xfer::cli::add_train_command(app);
  xfer::cli::add_evaluate_command(app);
  xfer::cli::add_predict_command(app);
  xfer::cli::add_status_command(app);
  xfer::cli::add_model_commands(app);
  xfer::cli::add_cluster_commands(app);
  xfer::cli::add_submit_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return world->rank() == 0 ? app.exit(e) : 0;
  } catch (const CLI::ParseError& e) {
    if (world->rank() == 0) app.exit(e);
    return 2;
  } catch (const std::exception& e) {
    return report_failure(e, world.get());
  }
  return 0;
}
