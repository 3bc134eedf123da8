// xfer: the thin command line over the library. Only this file decides exit codes:
// 0 success, 2 usage errors (bad flags or values), 1 failures of the work itself — except ExitStatus, whose
// code is passed through (broadcast's worst exit code over its hosts).
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "util/error.h"
#include "util/log.h"
#include "util/progress.h"

int main(int argc, char** argv) {
  CLI::App app{"xfer: turns a folder of images and a pretrained CNN into a trained, evaluated classifier"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "xfer 0.1.0");
  int verbosity = 0;
  app.add_flag("-v,--verbose", verbosity, "More log detail");
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "Only warnings and errors; no progress bars");
  app.parse_complete_callback([&] {
    xfer::init_logging(quiet ? -1 : verbosity);
    if (quiet) xfer::Progress::set_enabled(false);
  });

  xfer::cli::add_data_commands(app);
  xfer::cli::add_featurize_command(app);
  xfer::cli::add_train_command(app);
  xfer::cli::add_evaluate_command(app);
  xfer::cli::add_predict_command(app);
  xfer::cli::add_status_command(app);
  xfer::cli::add_model_commands(app);
  xfer::cli::add_cluster_commands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const xfer::ExitStatus& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return e.code() > 0 && e.code() < 256 ? e.code() : 1;
  } catch (const xfer::UsageError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
