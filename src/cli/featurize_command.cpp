// PLACEHOLDER: replaced by the command's real implementation.
#include "cli/commands.h"

namespace xfer::cli {

void add_featurize_command(CLI::App& /*app*/) {}

}  // namespace xfer::cli
