#include "pipeline/workflow.h"

#include <chrono>
#include <map>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "data/feature_set.h"
#include "data/image_folder.h"
#include "featurize/featurize_samples.h"
#include "ml/classification_metrics.h"
#include "util/error.h"
#include "util/job_events.h"
#include "util/progress.h"

namespace xfer::pipeline {
namespace fs = std::filesystem;
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A feature cache is reused only when it was made by the same featuriser from the same images.
bool cache_matches(const data::FeatureSet& cached, const nlohmann::json& featurizer,
                   const std::vector<data::Sample>& samples, const std::vector<std::string>& class_names) {
  if (cached.featurizer != featurizer || cached.class_names != class_names) return false;
  if (cached.paths.size() + cached.skipped.size() != samples.size()) return false;
  std::map<std::string, int> expected;
  for (const auto& s : samples) expected[s.path.string()] = s.label;
  for (size_t i = 0; i < cached.paths.size(); ++i) {
    auto it = expected.find(cached.paths[i]);
    if (it == expected.end() || it->second != cached.labels[i]) return false;
  }
  return true;
}

data::FeatureSet featurize_or_reuse(const TrainRequest& request, const data::ImageFolder& folder,
                                    const featurize::Featurizer& featurizer, bool& reused) {
  reused = false;
  auto description = featurizer.describe();
  if (!request.features_dir.empty() && fs::exists(request.features_dir / "manifest.json")) {
    try {
      auto cached = data::read_feature_set(request.features_dir);
      if (cache_matches(cached, description, folder.samples, folder.class_names)) {
        spdlog::info("features: reusing {} ({} rows)", request.features_dir.string(), cached.rows);
        reused = true;
        return cached;
      }
      spdlog::info("features: {} was made from other images or another featuriser; featurising again",
                   request.features_dir.string());
    } catch (const Error& e) {
      spdlog::warn("features: ignoring the cache: {}", e.what());
    }
  }
  featurize::FeaturizeOptions options;
  options.batch = request.batch;
  options.threads = request.threads;
  auto features = featurize::featurize_samples(folder.samples, folder.class_names, featurizer, options);
  if (!request.features_dir.empty()) data::write_feature_set(request.features_dir, features);
  return features;
}

// Probabilities for every row, n x K row-major.
std::vector<double> predict_probabilities(const ml::LogisticRegressionModel& model, const data::FeatureSet& features) {
  std::vector<double> probs(static_cast<size_t>(features.rows) * static_cast<size_t>(model.n_classes));
  if (features.rows > 0) model.predict_proba(features.features.data(), features.rows, probs.data());
  return probs;
}

int argmax_row(const std::vector<double>& probs, size_t row, int k) {
  int best = 0;
  for (int c = 1; c < k; ++c)
    if (probs[row * static_cast<size_t>(k) + static_cast<size_t>(c)] > probs[row * static_cast<size_t>(k) + static_cast<size_t>(best)]) best = c;
  return best;
}

// "nsfwjs_inception_v3, layer mixed5 (avg-pooled), 768 features, fp32" for people.
std::string describe_featurizer(const Pipeline& p) {
  const auto& f = p.featurizer;
  std::string text = p.featurizer_spec.model;
  std::string layer = f.value("layer", "");
  std::string pool = f.value("pool", "none");
  if (!layer.empty()) text += fmt::format(", layer {}{}", layer, pool != "none" ? " (" + pool + "-pooled)" : "");
  text += fmt::format(", {} features", p.classifier.n_features);
  if (f.contains("precision")) text += ", " + f["precision"].get<std::string>();
  return text;
}

}  // namespace

TrainResult train_pipeline(const TrainRequest& request) {
  job_events::phase("listing");
  auto folder = data::open_image_folder(request.data, request.split);
  auto featurizer = featurize::make_featurizer(request.featurizer);
  spdlog::info("train: {} images in {} classes from {}; featuriser {} ({} features)", folder.samples.size(),
               folder.class_names.size(), folder.root.string(), request.featurizer.model, featurizer->feature_dim());

  TrainResult result;
  auto start = std::chrono::steady_clock::now();
  job_events::phase("featurizing");
  auto features = featurize_or_reuse(request, folder, *featurizer, result.features_reused);
  result.featurize_seconds = seconds_since(start);
  result.n_images = features.rows;
  result.n_skipped = static_cast<int64_t>(features.skipped.size());
  if (features.rows == 0) fail("{}: no image could be read ({} skipped)", request.data.string(), result.n_skipped);

  job_events::phase("training");
  start = std::chrono::steady_clock::now();
  ml::LogisticRegressionModel model;
  {
    Progress progress("train", request.classifier.max_iter, "iterations");
    model = ml::train_logistic_regression(features.features.data(), features.rows, features.dim, features.labels,
                                          static_cast<int>(folder.class_names.size()), request.classifier, &progress);
  }
  result.train_seconds = seconds_since(start);

  auto predicted = model.predict(features.features.data(), features.rows);
  int64_t correct = 0;
  for (size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == features.labels[i];
  result.train_accuracy = static_cast<double>(correct) / static_cast<double>(features.rows);

  Pipeline& p = result.pipeline;
  p.featurizer_spec = request.featurizer;
  p.featurizer = featurizer->describe();
  p.preprocessing = featurizer->preprocessing();
  p.class_names = folder.class_names;
  p.classifier = std::move(model);
  nlohmann::json skipped = nlohmann::json::array();
  for (const auto& s : features.skipped) skipped.push_back({{"path", s.path.string()}, {"reason", s.reason}});
  p.training = {{"data", fs::absolute(folder.root).string()},
                {"split", request.split},
                {"n_images", result.n_images},
                {"n_skipped", result.n_skipped},
                {"skipped", skipped},
                {"train_accuracy", result.train_accuracy},
                {"options",
                 {{"reg", request.classifier.reg},
                  {"elastic_net", request.classifier.elastic_net},
                  {"max_iter", request.classifier.max_iter},
                  {"tol", request.classifier.tol},
                  {"standardize", request.classifier.standardize},
                  {"fit_intercept", request.classifier.fit_intercept},
                  {"class_weight", request.classifier.balanced_class_weight ? "balanced" : "none"}}},
                {"iterations", p.classifier.summary.iterations},
                {"converged", p.classifier.summary.converged}};
  save_pipeline(request.out, p);
  return result;
}

EvaluateResult evaluate_pipeline(const EvaluateRequest& request) {
  job_events::phase("listing");
  auto pipeline = load_pipeline(request.pipeline);
  auto featurizer = open_featurizer(pipeline, request.pipeline, request.threads);
  auto folder = data::open_image_folder(request.data, request.split);

  // The evaluation set's classes are matched to the pipeline's by name: a test folder may lack a class,
  // but a class the classifier never saw cannot be scored.
  std::map<std::string, int> pipeline_label;
  for (size_t i = 0; i < pipeline.class_names.size(); ++i) pipeline_label[pipeline.class_names[i]] = static_cast<int>(i);
  std::vector<data::Sample> samples = folder.samples;
  for (auto& s : samples) {
    const auto& name = folder.class_names[static_cast<size_t>(s.label)];
    auto it = pipeline_label.find(name);
    if (it == pipeline_label.end())
      fail("{}: class folder '{}' is not one of the pipeline's classes ({})", request.data.string(), name,
           fmt::format("{}", fmt::join(pipeline.class_names, ", ")));
    s.label = it->second;
  }

  featurize::FeaturizeOptions options;
  options.batch = request.batch;
  options.threads = request.threads;
  job_events::phase("featurizing");
  auto features = featurize::featurize_samples(samples, pipeline.class_names, *featurizer, options);
  if (features.rows == 0) fail("{}: no image could be read ({} skipped)", request.data.string(), features.skipped.size());
  job_events::phase("evaluating");
  auto probs = predict_probabilities(pipeline.classifier, features);
  auto metrics = ml::compute_metrics(features.labels, probs, pipeline.class_names);

  EvaluateResult result;
  result.metrics = metrics.to_json();
  result.metrics["n_images"] = features.rows;
  result.metrics["n_skipped"] = features.skipped.size();
  nlohmann::json skipped = nlohmann::json::array();
  for (const auto& s : features.skipped) {
    skipped.push_back({{"path", s.path.string()}, {"reason", s.reason}});
    result.report.skipped.emplace_back(s.path.string(), s.reason);
  }
  result.metrics["skipped"] = skipped;
  result.table = metrics.to_table();

  auto& report = result.report;
  report.title = fmt::format("xfer evaluation: {}", fs::path(request.pipeline).filename().string());
  report.class_names = pipeline.class_names;
  report.confusion = result.metrics.at("confusion_matrix").get<std::vector<std::vector<int64_t>>>();
  // Binary problems have one curve (the positive class, index 1); multiclass one one-vs-rest curve per class.
  const bool binary = pipeline.class_names.size() == 2;
  for (size_t c = 0; c < metrics.roc_curves.size(); ++c) {
    size_t cls = binary ? 1 : c;
    double auc = binary ? metrics.roc_auc : metrics.per_class[cls].roc_auc;
    report.roc_curves.push_back({pipeline.class_names[cls], metrics.roc_curves[c].fpr, metrics.roc_curves[c].tpr, auc});
  }
  report.metrics = result.metrics;
  report.summary = {{"pipeline", fs::absolute(request.pipeline).string()},
                    {"evaluated on", fs::absolute(folder.root).string()},
                    {"featuriser", describe_featurizer(pipeline)},
                    {"trained on", pipeline.training.value("data", "?")},
                    {"training images", std::to_string(pipeline.training.value("n_images", 0))},
                    {"images evaluated", std::to_string(features.rows)},
                    {"images skipped", std::to_string(features.skipped.size())}};
  return result;
}

PredictResult predict_images(const fs::path& pipeline_path, const std::vector<fs::path>& inputs, int batch,
                             int threads) {
  job_events::phase("listing");
  auto pipeline = load_pipeline(pipeline_path);
  auto featurizer = open_featurizer(pipeline, pipeline_path, threads);
  auto samples = data::list_images(inputs);
  featurize::FeaturizeOptions options;
  options.batch = batch;
  options.threads = threads;
  job_events::phase("featurizing");
  auto features = featurize::featurize_samples(samples, pipeline.class_names, *featurizer, options);
  job_events::phase("predicting");
  auto probs = predict_probabilities(pipeline.classifier, features);

  PredictResult result;
  result.class_names = pipeline.class_names;
  const int k = pipeline.classifier.n_classes;
  std::map<std::string, Prediction> by_path;
  for (size_t i = 0; i < static_cast<size_t>(features.rows); ++i) {
    Prediction p;
    p.path = features.paths[i];
    int best = argmax_row(probs, i, k);
    p.predicted = pipeline.class_names[static_cast<size_t>(best)];
    p.probabilities.assign(probs.begin() + static_cast<std::ptrdiff_t>(i * static_cast<size_t>(k)),
                           probs.begin() + static_cast<std::ptrdiff_t>((i + 1) * static_cast<size_t>(k)));
    p.probability = p.probabilities[static_cast<size_t>(best)];
    by_path[p.path] = std::move(p);
  }
  for (const auto& s : features.skipped) by_path[s.path.string()] = Prediction{s.path.string(), "", 0, {}, s.reason};
  for (const auto& s : samples) {
    auto it = by_path.find(s.path.string());
    if (it != by_path.end()) result.predictions.push_back(it->second);
  }
  return result;
}

}  // namespace xfer::pipeline
