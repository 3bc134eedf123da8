#include "pipeline/classifier_fit.h"

#include <memory>

#include "util/progress.h"

namespace xfer::pipeline {

ml::LogisticRegressionModel fit_classifier(const float* x, int64_t n, int64_t d, const std::vector<int>& labels,
                                           int n_classes, const ml::LogisticRegressionOptions& options,
                                           const std::optional<ml::CrossValidationOptions>& cv,
                                           std::optional<ml::CrossValidationResult>& cv_result, bool show_progress,
                                           const std::function<void(double*, size_t)>& allreduce_sum) {
  std::unique_ptr<Progress> progress;
  if (!cv) {
    if (show_progress) progress = std::make_unique<Progress>("train", options.max_iter, "iterations");
    return ml::train_logistic_regression(x, n, d, labels, n_classes, options, progress.get(), allreduce_sum);
  }
  if (show_progress) progress = std::make_unique<Progress>("cross-validation", ml::planned_fits(*cv), "fits");
  auto result = ml::cross_validate_logistic_regression(x, n, d, labels, n_classes, options, *cv, progress.get(),
                                                       allreduce_sum);
  if (progress) progress->finish();
  auto model = std::move(result.model);
  result.model = {};
  cv_result = std::move(result);
  return model;
}

void record_cross_validation(nlohmann::json& training, const ml::CrossValidationResult& cv) {
  const auto& chosen = cv.grid.at(cv.best);
  training["options"]["reg"] = chosen.reg;
  training["options"]["elastic_net"] = chosen.elastic_net;
  training["options"]["reg_chosen_by"] = "cross-validation";
  training["cross_validation"] = cv.to_json();
}

}  // namespace xfer::pipeline
