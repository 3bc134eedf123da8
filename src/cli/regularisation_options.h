#pragma once
// train's penalty options: --reg auto (the default: cross-validation over a grid), one value (MLlib's regParam;
// 0 is MLlib's own default) or a comma list to cross-validate; --elastic-net one value or a list; --cv-folds,
// --cv-metric, --cv-seed. Declared once here so --help and the parsing agree.
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "ml/cross_validation.h"
#include "ml/logistic_regression.h"

namespace xfer::cli {

struct RegularisationOptions {
  std::string reg = "auto";
  std::string elastic_net = "0";
  int folds = 5;
  std::string metric = "log_loss";
  uint64_t seed = 0;
};

void add_regularisation_options(CLI::App& command, RegularisationOptions& options);

// Sets classifier.reg / elastic_net (one value each) or cross_validation (a grid to choose from). UsageError
// naming the option for a value that is not a number or out of range.
void apply_regularisation_options(const RegularisationOptions& options, ml::LogisticRegressionOptions& classifier,
                                  std::optional<ml::CrossValidationOptions>& cross_validation);

}  // namespace xfer::cli
