#pragma once
// The three jobs of the recipe's pneumonia.py, as library calls the CLI wraps: train (featurise a data set and
// fit the classifier), evaluate (metrics and report on labelled images), predict (classes for new images).
//
// Each is collective over the job's communicator: one process, or every rank of an MPI job. Featurisation goes
// through the part queue (featurize/part_queue.h); training holds each rank's share of the rows and sums the
// objective's statistics and gradient across ranks, so every rank takes the same optimiser steps; rank 0 writes
// the pipeline file and receives the results (the other ranks' results are empty).
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dist/communicator.h"
#include "featurize/featurizer.h"
#include "featurize/part_queue.h"
#include "ml/cross_validation.h"
#include "ml/logistic_regression.h"
#include "pipeline/pipeline_file.h"
#include "report/html_report.h"

namespace xfer::pipeline {

struct TrainRequest {
  std::filesystem::path data;
  std::string split;                   // "" or train/test/val under a chest_xray-style root
  featurize::FeaturizerSpec featurizer;
  std::filesystem::path out;           // the pipeline file
  // The features' folder: each part is committed there as it finishes and reused by a rerun when its inputs and
  // featuriser match. Default: the pipeline file's name with ".features" (xray.pipeline.json ->
  // xray.pipeline.features).
  std::filesystem::path features_dir;
  ml::LogisticRegressionOptions classifier;
  featurize::PartJobOptions parts;
  std::optional<ml::CrossValidationOptions> cross_validation;  // set: choose reg (and elastic_net) by CV (--reg auto)
};

std::filesystem::path default_features_dir(const std::filesystem::path& pipeline_out);

struct TrainResult {
  Pipeline pipeline;
  int64_t n_images = 0;
  int64_t n_skipped = 0;
  bool features_reused = false;  // every part came from an earlier run
  featurize::PartRunSummary featurize_run;
  double featurize_seconds = 0;
  double train_seconds = 0;
  double train_accuracy = 0;
  std::optional<ml::CrossValidationResult> cross_validation;  // the grid, scores and choice (without the model)
};

TrainResult train_pipeline(dist::Communicator& comm, const TrainRequest& request);

struct EvaluateRequest {
  std::filesystem::path pipeline;
  std::filesystem::path data;
  std::string split;
  featurize::PartJobOptions parts;
};

struct EvaluateResult {
  nlohmann::json metrics;     // the evaluate JSON: accuracy, log_loss, roc_auc, pr_auc, confusion_matrix, ...
  std::string table;          // the same for people
  report::ReportData report;  // ready for write_html_report
};

EvaluateResult evaluate_pipeline(dist::Communicator& comm, const EvaluateRequest& request);

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

PredictResult predict_images(dist::Communicator& comm, const std::filesystem::path& pipeline_path,
                             const std::vector<std::filesystem::path>& inputs, const featurize::PartJobOptions& parts);

}  // namespace xfer::pipeline
