#pragma once
// One logger for the whole program (spdlog, to stderr), so that stdout stays for results (tables, JSON, CSV).
#include <spdlog/spdlog.h>

namespace xfer {

// Sets the level from --verbose / --quiet; called once by main.
void init_logging(int verbosity);

}  // namespace xfer
