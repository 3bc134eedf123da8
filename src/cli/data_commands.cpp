// PLACEHOLDER: replaced by the command's real implementation.
#include "cli/commands.h"

namespace xfer::cli {

void add_data_commands(CLI::App& /*app*/) {}

}  // namespace xfer::cli
