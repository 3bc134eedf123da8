#pragma once
// Post-training static quantisation's data: the activation range of every value an int8 kernel reads or writes,
// measured by running the fp32 model on calibration images (the user's own), and how a range is chosen.
//
//   nn::Calibration cal = nn::calibrate(graph, {"mixed5"}, {batch_of_images}, nn::CalibrationMethod::percentile);
//   auto model = nn::Model::compile(graph, {.outputs = {"mixed5"}, .precision = nn::Precision::int8,
//                                           .calibration = std::make_shared<nn::Calibration>(cal)});
//
// A value's range is a threshold T and a sign: int8 values are q = round(x / s), s = T / 127 (s8) or T / 255 (u8,
// chosen when the value was never negative, e.g. after a Relu). Scales are data, like folded weights: the plan
// reads them, the pipeline file stores them, and their digest is part of the featuriser's identity.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/graph.h"

namespace xfer::nn {

// How a threshold is chosen from a value's histogram of |x|:
//   minmax      the largest |x| seen (no clipping; a single outlier widens every step)
//   percentile  the 99.99th percentile of |x| (clips the rarest 0.01%)
//   entropy     TensorRT's: the threshold whose quantised distribution has the least KL divergence from the original
enum class CalibrationMethod { minmax, percentile, entropy };
CalibrationMethod calibration_method_from_string(const std::string& s);  // UsageError on anything else
const char* to_string(CalibrationMethod m);

struct ValueRange {
  float threshold = 0;       // |x| above it saturates
  bool is_unsigned = false;  // u8 (never negative in calibration) or s8
  float scale() const;       // real value of one int8 step
};

struct Calibration {
  std::string method;
  int64_t images = 0;                  // how many calibration images were seen
  std::map<std::string, ValueRange> values;  // by value name in the compiled (fused) graph

  const ValueRange* find(const std::string& value) const;
  nlohmann::json to_json() const;
  static Calibration from_json(const nlohmann::json& j);  // Error on a malformed record
  // SHA-256 of the canonical JSON: a different calibration is a different featuriser.
  std::string digest() const;
};

// Runs `graph` (as imported; cut after `outputs`, fused as Model::compile does) in fp32 over `batches` (tensors
// for its single input) and records the ranges of every input and output of its Conv, pooling and Concat nodes.
// The inputs of a Concat and the in- and output of a plain MaxPool/AveragePool are given one shared range, so
// int8 concats and pools need no requantisation.
Calibration calibrate(const Graph& graph, const std::vector<std::string>& outputs, const std::vector<Tensor>& batches,
                      CalibrationMethod method);

// The threshold `method` picks from a histogram of |x| over [0, max_abs] (bins of equal width).
float choose_threshold(const std::vector<double>& histogram, float max_abs, bool is_unsigned, CalibrationMethod method);

}  // namespace xfer::nn
