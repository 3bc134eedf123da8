#include "util/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace xfer {

void init_logging(int verbosity, int rank, const std::string& host) {
  auto logger = spdlog::stderr_color_mt("xfer");
  logger->set_pattern(rank >= 0 ? fmt::format("%^%l%$ [rank {} on {}]: %v", rank, host) : "%^%l%$: %v");
  logger->set_level(verbosity < 0 ? spdlog::level::warn
                    : verbosity == 0 ? spdlog::level::info
                                     : spdlog::level::debug);
  spdlog::set_default_logger(logger);
}

}  // namespace xfer
