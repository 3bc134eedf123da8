#pragma once
// The part sink of evaluate and predict: rank 0 scores each finished part with the classifier as it arrives
// (features are not kept: a part's rows become K probabilities each), and hands back the rows in input order.
#include <map>
#include <string>
#include <vector>

#include "data/feature_set.h"
#include "featurize/part_queue.h"
#include "ml/logistic_regression.h"

namespace xfer::pipeline {

struct ScoredRows {
  std::vector<int> labels;
  std::vector<std::string> paths;
  std::vector<double> probabilities;  // rows x K
  std::vector<data::SkippedImage> skipped;
  int64_t rows() const { return static_cast<int64_t>(labels.size()); }
};

class ScoringSink final : public featurize::PartSink {
 public:
  explicit ScoringSink(const ml::LogisticRegressionModel& model) : model_(model) {}
  void accept(featurize::PartResult&& result) override;
  // Every part's rows in part order (= input order); empties the sink.
  ScoredRows take_in_input_order();

 private:
  const ml::LogisticRegressionModel& model_;
  std::map<int64_t, ScoredRows> parts_;
};

}  // namespace xfer::pipeline
