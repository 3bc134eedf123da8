#include "pipeline/scoring_sink.h"

namespace xfer::pipeline {

void ScoringSink::accept(featurize::PartResult&& result) {
  auto& rows = result.rows;
  ScoredRows scored;
  scored.labels = std::move(rows.labels);
  scored.paths = std::move(rows.paths);
  scored.skipped = std::move(rows.skipped);
  scored.probabilities.resize(static_cast<size_t>(rows.rows) * static_cast<size_t>(model_.n_classes));
  if (rows.rows > 0) model_.predict_proba(rows.features.data(), rows.rows, scored.probabilities.data());
  parts_[result.part] = std::move(scored);
}

ScoredRows ScoringSink::take_in_input_order() {
  ScoredRows all;
  for (auto& [part, rows] : parts_) {
    all.labels.insert(all.labels.end(), rows.labels.begin(), rows.labels.end());
    all.paths.insert(all.paths.end(), std::make_move_iterator(rows.paths.begin()),
                     std::make_move_iterator(rows.paths.end()));
    all.probabilities.insert(all.probabilities.end(), rows.probabilities.begin(), rows.probabilities.end());
    all.skipped.insert(all.skipped.end(), rows.skipped.begin(), rows.skipped.end());
  }
  parts_.clear();
  return all;
}

}  // namespace xfer::pipeline
