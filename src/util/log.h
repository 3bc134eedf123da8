#pragma once
// One logger for the whole program (spdlog, to stderr), so that stdout stays for results (tables, JSON, CSV).
#include <string>

#include <spdlog/spdlog.h>

namespace xfer {

// Sets the level from --verbose / --quiet; called once by main. Under MPI (rank >= 0) every line names the rank
// and its host, since the launcher mixes every rank's stderr into one stream.
void init_logging(int verbosity, int rank = -1, const std::string& host = "");

}  // namespace xfer
