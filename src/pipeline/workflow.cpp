#include "pipeline/workflow.h"

#include <chrono>
#include <map>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "data/feature_set.h"
#include "data/image_folder.h"
#include "dist/agreement.h"
#include "featurize/feature_folder_job.h"
#include "featurize/int8_calibration.h"
#include "featurize/job_inputs.h"
#include "ml/classification_metrics.h"
#include "pipeline/classifier_fit.h"
#include "pipeline/distributed_rows.h"
#include "pipeline/report_sections.h"
#include "pipeline/scoring_sink.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/job_events.h"
#include "util/progress.h"

namespace xfer::pipeline {
namespace fs = std::filesystem;
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

featurize::JobInputs inputs_of(const data::ImageFolder& folder) {
  return {folder.root.string(), folder.class_names, folder.samples};
}

// Every rank parses the pipeline file that rank 0 read, so only rank 0 needs the file.
Pipeline share_pipeline(dist::Communicator& comm, const fs::path& path) {
  const auto bytes = dist::broadcast_from_root(comm, "reading the pipeline file", [&] {
    const auto text = read_pipeline_text(path);
    return dist::Bytes(text.begin(), text.end());
  });
  return parse_pipeline(std::string(bytes.begin(), bytes.end()), path);
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

fs::path default_features_dir(const fs::path& pipeline_out) {
  auto dir = pipeline_out;
  return dir.replace_extension(".features");
}

TrainResult train_pipeline(dist::Communicator& comm, const TrainRequest& request) {
  job_events::phase("listing");
  auto list = [&] { return inputs_of(data::open_image_folder(request.data, request.split)); };
  const auto inputs = featurize::share_inputs(comm, list);
  auto spec = request.featurizer;
  spec.threads = request.parts.featurize.threads;
  featurize::calibrate_everywhere(comm, spec, inputs);  // int8: the scales, from this data set's images
  const auto featurizer = featurize::open_featurizer_everywhere(
      comm, [&] { return featurize::make_featurizer(spec); }, inputs, !request.parts.stage_data, list);
  if (comm.rank() == 0)
    spdlog::info("train: {} images in {} classes from {}; featuriser {} ({} features)", inputs.samples.size(),
                 inputs.class_names.size(), inputs.root, request.featurizer.model, featurizer->feature_dim());

  TrainResult result;
  auto start = std::chrono::steady_clock::now();
  const auto features_dir = request.features_dir.empty() ? default_features_dir(request.out) : request.features_dir;
  job_events::phase("featurizing");
  auto parts = request.parts;
  parts.keep_rows = true;  // each rank trains on the rows it computed: features never cross the network twice
  auto folder_job = featurize::featurize_to_folder(comm, inputs, *featurizer, parts, features_dir);
  result.features_reused = folder_job.run.parts > 0 && folder_job.run.parts_reused == folder_job.run.parts;
  const auto features = training_rows(comm, features_dir, std::move(folder_job.run.kept));
  result.featurize_run = std::move(folder_job.run);
  result.featurize_seconds = seconds_since(start);

  // Counts over every rank's rows.
  int64_t counts[2] = {features.rows, static_cast<int64_t>(features.skipped.size())};
  comm.allreduce_sum(counts, 2);
  result.n_images = counts[0];
  result.n_skipped = counts[1];

  job_events::phase("training");
  start = std::chrono::steady_clock::now();
  ml::LogisticRegressionModel model;
  {
    std::function<void(double*, size_t)> allreduce;
    if (comm.size() > 1) allreduce = [&comm](double* values, size_t count) { comm.allreduce_sum(values, count); };
    model = fit_classifier(features.features.data(), features.rows, features.dim, features.labels,
                           static_cast<int>(inputs.class_names.size()), request.classifier, request.cross_validation,
                           result.cross_validation, comm.rank() == 0, allreduce);
  }
  result.train_seconds = seconds_since(start);

  auto predicted = model.predict(features.features.data(), features.rows);
  int64_t correct = 0;
  for (size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == features.labels[i];
  comm.allreduce_sum(&correct, 1);
  result.train_accuracy = static_cast<double>(correct) / static_cast<double>(result.n_images);

  Pipeline& p = result.pipeline;
  p.featurizer_spec = spec;  // with its int8 calibration, so evaluate and predict quantise as training did
  p.featurizer_spec.threads = 0;
  p.featurizer = featurizer->describe();
  p.preprocessing = featurizer->preprocessing();
  p.class_names = inputs.class_names;
  p.classifier = std::move(model);
  if (comm.rank() != 0) return result;  // rank 0 writes the pipeline file

  nlohmann::json skipped = nlohmann::json::array();
  for (const auto& s : features.skipped) skipped.push_back({{"path", s.path.string()}, {"reason", s.reason}});
  p.training = {{"data", fs::absolute(inputs.root).string()},
                {"split", request.split},
                {"n_images", result.n_images},
                {"n_skipped", result.n_skipped},
                {"skipped", skipped},
                {"features", fs::absolute(features_dir).string()},
                {"ranks", comm.size()},
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
  if (result.cross_validation) record_cross_validation(p.training, *result.cross_validation);
  save_pipeline(request.out, p);
  return result;
}

EvaluateResult evaluate_pipeline(dist::Communicator& comm, const EvaluateRequest& request) {
  job_events::phase("listing");
  // Rank 0 opens the folder and maps its classes to the pipeline's by name: a test folder may lack a class, but a
  // class the classifier never saw cannot be scored.
  const auto pipeline = share_pipeline(comm, request.pipeline);
  auto list = [&] {
    const auto folder = data::open_image_folder(request.data, request.split);
    std::map<std::string, int> pipeline_label;
    for (size_t i = 0; i < pipeline.class_names.size(); ++i)
      pipeline_label[pipeline.class_names[i]] = static_cast<int>(i);
    auto inputs = inputs_of(folder);
    for (auto& s : inputs.samples) {
      const auto& name = folder.class_names[static_cast<size_t>(s.label)];
      auto it = pipeline_label.find(name);
      if (it == pipeline_label.end())
        fail("{}: class folder '{}' is not one of the pipeline's classes ({})", request.data.string(), name,
             fmt::format("{}", fmt::join(pipeline.class_names, ", ")));
      s.label = it->second;
    }
    inputs.class_names = pipeline.class_names;
    return inputs;
  };
  const auto inputs = featurize::share_inputs(comm, list);
  const auto featurizer = featurize::open_featurizer_everywhere(
      comm, [&] { return open_featurizer(pipeline, request.pipeline, request.parts.featurize.threads); }, inputs,
      !request.parts.stage_data, list);

  ScoringSink sink(pipeline.classifier);
  job_events::phase("featurizing");
  featurize::run_parts(comm, inputs.samples, *featurizer, request.parts, &sink);
  EvaluateResult result;
  if (comm.rank() != 0) return result;
  job_events::phase("evaluating");
  const auto scored = sink.take_in_input_order();
  if (scored.rows() == 0) fail("{}: no image could be read ({} skipped)", request.data.string(), scored.skipped.size());
  auto metrics = ml::compute_metrics(scored.labels, scored.probabilities, pipeline.class_names);

  result.metrics = metrics.to_json();
  result.metrics["n_images"] = scored.rows();
  result.metrics["n_skipped"] = scored.skipped.size();
  nlohmann::json skipped = nlohmann::json::array();
  for (const auto& s : scored.skipped) {
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
                    {"evaluated on", fs::absolute(inputs.root).string()},
                    {"featuriser", describe_featurizer(pipeline)},
                    {"trained on", pipeline.training.value("data", "?")},
                    {"training images", std::to_string(pipeline.training.value("n_images", 0))},
                    {"images evaluated", std::to_string(scored.rows())},
                    {"images skipped", std::to_string(scored.skipped.size())}};
  if (comm.size() > 1) report.summary.emplace_back("ranks", std::to_string(comm.size()));
  report.cross_validation = cv_curve_of(pipeline.training);
  report.mistakes = collect_mistakes(scored.paths, scored.labels, scored.probabilities, pipeline.class_names);
  return result;
}

PredictResult predict_images(dist::Communicator& comm, const fs::path& pipeline_path, const std::vector<fs::path>& inputs,
                             const featurize::PartJobOptions& parts) {
  job_events::phase("listing");
  auto list = [&] {
    featurize::JobInputs listed;
    listed.root = inputs.empty() ? "" : inputs.front().string();
    listed.samples = data::list_images(inputs);
    return listed;
  };
  const auto pipeline = share_pipeline(comm, pipeline_path);
  const auto shared = featurize::share_inputs(comm, list);
  const auto featurizer = featurize::open_featurizer_everywhere(
      comm, [&] { return open_featurizer(pipeline, pipeline_path, parts.featurize.threads); }, shared,
      !parts.stage_data, list);
  ScoringSink sink(pipeline.classifier);
  job_events::phase("featurizing");
  featurize::run_parts(comm, shared.samples, *featurizer, parts, &sink);
  job_events::phase("predicting");

  PredictResult result;
  result.class_names = pipeline.class_names;
  if (comm.rank() != 0) return result;
  const auto scored = sink.take_in_input_order();
  const int k = pipeline.classifier.n_classes;
  std::map<std::string, Prediction> by_path;
  for (size_t i = 0; i < static_cast<size_t>(scored.rows()); ++i) {
    Prediction p;
    p.path = scored.paths[i];
    int best = argmax_row(scored.probabilities, i, k);
    p.predicted = pipeline.class_names[static_cast<size_t>(best)];
    p.probabilities.assign(scored.probabilities.begin() + static_cast<std::ptrdiff_t>(i * static_cast<size_t>(k)),
                           scored.probabilities.begin() + static_cast<std::ptrdiff_t>((i + 1) * static_cast<size_t>(k)));
    p.probability = p.probabilities[static_cast<size_t>(best)];
    by_path[p.path] = std::move(p);
  }
  for (const auto& s : scored.skipped) by_path[s.path.string()] = Prediction{s.path.string(), "", 0, {}, s.reason};
  for (const auto& s : shared.samples) {
    auto it = by_path.find(s.path.string());
    if (it != by_path.end()) result.predictions.push_back(it->second);
  }
  return result;
}

}  // namespace xfer::pipeline
