#pragma once
// Each command (or group of commands) registers its options and callback on the app. The options table is
// CLI11's: --help for every command is generated from the same declarations that parse the flags.
#include <CLI/CLI.hpp>

namespace xfer::cli {

void add_data_commands(CLI::App& app);       // data import-idx
void add_featurize_command(CLI::App& app);   // featurize
void add_train_command(CLI::App& app);       // train
void add_evaluate_command(CLI::App& app);    // evaluate
void add_predict_command(CLI::App& app);     // predict
void add_status_command(CLI::App& app);      // status URL [--json] [--watch]
void add_model_commands(CLI::App& app);      // model info | run | bench
void add_cluster_commands(CLI::App& app);
void add_submit_command(CLI::App& app);      // submit    // cluster init | doctor | broadcast | push | render | check | reset-*

}  // namespace xfer::cli
