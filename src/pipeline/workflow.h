#pragma once
// The three jobs of the recipe's pneumonia.py, as library calls the CLI wraps: train (featurise a data set and
// fit the classifier), evaluate (metrics and report on labelled images), predict (classes for new images).
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "featurize/featurizer.h"
#include "ml/logistic_regression.h"
#include "pipeline/pipeline_file.h"
#include "report/html_report.h"

namespace xfer::pipeline {

struct TrainRequest {
  std::filesystem::path data;
  std::string split;                   // "" or train/test/val under a chest_xray-style root
  featurize::FeaturizerSpec featurizer;
  std::filesystem::path out;           // the pipeline file
  std::filesystem::path features_dir;  // optional: a feature cache, reused when it matches
  ml::LogisticRegressionOptions classifier;
  int batch = 32;
  int threads = 0;
};

struct TrainResult {
  Pipeline pipeline;
  int64_t n_images = 0;
  int64_t n_skipped = 0;
  bool features_reused = false;
  double featurize_seconds = 0;
  double train_seconds = 0;
  double train_accuracy = 0;
};

TrainResult train_pipeline(const TrainRequest& request);

struct EvaluateRequest {
  std::filesystem::path pipeline;
  std::filesystem::path data;
  std::string split;
  int batch = 32;
  int threads = 0;
};

struct EvaluateResult {
  nlohmann::json metrics;     // the evaluate JSON: accuracy, log_loss, roc_auc, pr_auc, confusion_matrix, ...
  std::string table;          // the same for people
  report::ReportData report;  // ready for write_html_report
};

EvaluateResult evaluate_pipeline(const EvaluateRequest& request);

struct Prediction {
  std::string path;
  std::string predicted;            // "" when the image was skipped
  double probability = 0;
  std::vector<double> probabilities;  // per class, in class_names order
  std::string error;                // why the image was skipped
};

struct PredictResult {
  std::vector<std::string> class_names;
  std::vector<Prediction> predictions;  // inputs in the order given (folders expanded, sorted)
};

PredictResult predict_images(const std::filesystem::path& pipeline_path,
                             const std::vector<std::filesystem::path>& inputs, int batch, int threads);

}  // namespace xfer::pipeline
