#include "pipeline/pipeline_file.h"

#include "util/atomic_file.h"
#include "util/error.h"

namespace xfer::pipeline {
namespace {

nlohmann::json spec_to_json(const featurize::FeaturizerSpec& spec) {
  nlohmann::json j = {{"model", spec.model}, {"layer", spec.layer}, {"pool", spec.pool}, {"precision", spec.precision}};
  if (spec.calibration) j["calibration"] = spec.calibration->to_json();  // int8's scales: data, like the coefficients
  return j;
}

featurize::FeaturizerSpec spec_from_json(const nlohmann::json& j) {
  featurize::FeaturizerSpec spec;
  spec.model = j.at("model").get<std::string>();
  spec.layer = j.value("layer", "");
  spec.pool = j.value("pool", "avg");
  spec.precision = j.value("precision", "fp32");
  if (j.contains("calibration")) {
    spec.calibration = std::make_shared<nn::Calibration>(nn::Calibration::from_json(j.at("calibration")));
    spec.calibration_method = spec.calibration->method;
    spec.calibration_images = static_cast<int>(spec.calibration->images);
  }
  if (spec.precision == "int8" && !spec.calibration) fail("int8 featuriser without its calibration");
  return spec;
}

}  // namespace

void save_pipeline(const std::filesystem::path& path, const Pipeline& pipeline) {
  nlohmann::json j;
  j["format"] = "xfer-pipeline";
  j["format_version"] = kPipelineFormatVersion;
  j["featurizer_spec"] = spec_to_json(pipeline.featurizer_spec);
  j["featurizer"] = pipeline.featurizer;
  j["preprocessing"] = image::to_json(pipeline.preprocessing);
  j["class_names"] = pipeline.class_names;
  j["classifier"] = pipeline.classifier.to_json();
  j["training"] = pipeline.training;
  write_file_atomically(path, j.dump(1) + "\n");
}

std::string read_pipeline_text(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) fail("{}: no such pipeline file (train one with `xfer train --out`)", path.string());
  auto text = read_file(path);
  parse_pipeline(text, path);  // a damaged file is an error here, where it was read
  return text;
}

Pipeline load_pipeline(const std::filesystem::path& path) { return parse_pipeline(read_pipeline_text(path), path); }

Pipeline parse_pipeline(const std::string& text, const std::filesystem::path& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not a pipeline file (invalid JSON: {})", path.string(), e.what());
  }
  if (!j.is_object() || j.value("format", "") != "xfer-pipeline")
    fail("{}: not an xfer pipeline file (no \"format\": \"xfer-pipeline\")", path.string());
  int version = j.value("format_version", 0);
  if (version != kPipelineFormatVersion)
    fail("{}: pipeline format version {} is not supported by this xfer (it reads version {}); retrain or use the "
         "xfer that wrote it",
         path.string(), version, kPipelineFormatVersion);
  try {
    Pipeline p;
    p.featurizer_spec = spec_from_json(j.at("featurizer_spec"));
    p.featurizer = j.at("featurizer");
    p.preprocessing = image::preprocessing_from_json(j.at("preprocessing"));
    p.class_names = j.at("class_names").get<std::vector<std::string>>();
    p.classifier = ml::LogisticRegressionModel::from_json(j.at("classifier"));
    p.training = j.value("training", nlohmann::json::object());
    if (p.class_names.size() != static_cast<size_t>(p.classifier.n_classes))
      fail("{} class names but a classifier for {} classes", p.class_names.size(), p.classifier.n_classes);
    return p;
  } catch (const nlohmann::json::exception& e) {
    fail("{}: damaged pipeline file: {}", path.string(), e.what());
  } catch (const Error& e) {
    fail("{}: damaged pipeline file: {}", path.string(), e.what());
  }
}

std::unique_ptr<featurize::Featurizer> open_featurizer(const Pipeline& pipeline,
                                                        const std::filesystem::path& pipeline_path, int threads) {
  auto spec = pipeline.featurizer_spec;
  spec.threads = threads;
  auto featurizer = featurize::make_featurizer(spec);
  auto now = featurizer->describe();
  const auto& then = pipeline.featurizer;
  auto recorded = [&](const char* key) { return then.contains(key) ? then[key] : nlohmann::json(); };
  if (!recorded("sha256").is_null() && now.value("sha256", "") != recorded("sha256").get<std::string>())
    fail("{}: the weights of model {} have changed since this pipeline was trained (SHA-256 {} then, {} now); "
         "retrain the pipeline or restore the original model file",
         pipeline_path.string(), now.value("path", spec.model), recorded("sha256").get<std::string>(),
         now.value("sha256", "?"));
  if (recorded("calibration_sha256") != now.value("calibration_sha256", nlohmann::json()))
    fail("{}: the featuriser's int8 calibration differs from the one recorded at training", pipeline_path.string());
  if (featurizer->feature_dim() != pipeline.classifier.n_features)
    fail("{}: the featuriser gives {} features but the classifier expects {}; the model or --layer differ from "
         "training",
         pipeline_path.string(), featurizer->feature_dim(), pipeline.classifier.n_features);
  if (image::to_json(featurizer->preprocessing()) != image::to_json(pipeline.preprocessing))
    fail("{}: the model's preprocessing differs from the one recorded at training ({} vs {})", pipeline_path.string(),
         image::to_json(featurizer->preprocessing()).dump(), image::to_json(pipeline.preprocessing).dump());
  return featurizer;
}

}  // namespace xfer::pipeline
