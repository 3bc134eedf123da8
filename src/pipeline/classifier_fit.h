#pragma once
// The classifier step of `train`: one fit at the reg given, or — the default, `--reg auto` — cross-validation over a
// grid (ml/cross_validation.h) and the model on all rows at the chosen point, recorded in the pipeline file.
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "ml/cross_validation.h"
#include "ml/logistic_regression.h"

namespace xfer::pipeline {

// cv set: cross-validate (cv_result receives the grid, scores and choice); unset: one fit with options as given.
// show_progress: a progress bar on stderr (rank 0 only, when distributed).
ml::LogisticRegressionModel fit_classifier(const float* x, int64_t n, int64_t d, const std::vector<int>& labels,
                                           int n_classes, const ml::LogisticRegressionOptions& options,
                                           const std::optional<ml::CrossValidationOptions>& cv,
                                           std::optional<ml::CrossValidationResult>& cv_result,
                                           bool show_progress = true,
                                           const std::function<void(double*, size_t)>& allreduce_sum = {});

// Writes the cross-validation record into the pipeline's training provenance: training.cross_validation (grid,
// per-fold scores, choice) and training.options.reg / elastic_net set to the chosen values, with
// options.reg_chosen_by = "cross-validation".
void record_cross_validation(nlohmann::json& training, const ml::CrossValidationResult& cv);

}  // namespace xfer::pipeline
