// The CNN featuriser: a model file or built-in name, cut after the feature layer, pooled to one vector per image,
// run by the nn engine. One compiled Model is shared; each concurrent featurize() call borrows its own Run.
#include "featurize/model_featurizer.h"

#include <filesystem>
#include <mutex>

#include "featurize/featurize_samples.h"
#include "nn/model.h"
#include "nn/model_file.h"
#include "nn/passes.h"
#include "nn/reference_ops.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sha256.h"

namespace xfer::featurize {
namespace {

int64_t metadata_int(const nn::Graph& g, const std::string& key, int64_t fallback) {
  auto it = g.metadata.find(key);
  if (it == g.metadata.end()) return fallback;
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    fail("{}: metadata '{}' is not a number: '{}'", g.source.path, key, it->second);
  }
}

// How images must be prepared, from the importer's metadata or, for ONNX, from the input's declared shape.
image::Preprocessing preprocessing_for(const nn::Graph& g) {
  if (g.inputs.size() != 1) fail("{}: a featuriser model must have one input, this one has {}", g.source.path, g.inputs.size());
  const auto& shape = g.inputs[0].shape;
  image::Preprocessing p;
  bool nhwc = g.metadata.count("input_layout") && g.metadata.at("input_layout") == "nhwc";
  p.layout = nhwc ? image::Layout::nhwc : image::Layout::nchw;
  if (shape.size() == 4) {
    p.channels = static_cast<int>(nhwc ? shape[3] : shape[1]);
    p.height = static_cast<int>(nhwc ? shape[1] : shape[2]);
    p.width = static_cast<int>(nhwc ? shape[2] : shape[3]);
  }
  p.width = static_cast<int>(metadata_int(g, "input_width", p.width));
  p.height = static_cast<int>(metadata_int(g, "input_height", p.height));
  p.channels = static_cast<int>(metadata_int(g, "input_channels", p.channels));
  if (p.width < 1 || p.height < 1 || (p.channels != 1 && p.channels != 3))
    fail("{}: cannot tell the input image size from input '{}' [{}]", g.source.path, g.inputs[0].name, fmt::join(shape, ","));
  // ONNX files carry no preprocessing; torchvision's exports (the ONNX models we target) expect ImageNet mean/std.
  auto it = g.metadata.find("preprocessing");
  p.normalization = image::normalization_from_string(it != g.metadata.end() ? it->second : "torch");
  return p;
}

// SHA-256 over the weights the model was imported with (initializer names, types, shapes and bytes, in name order).
// It identifies the model whatever its file format: an ONNX file, a model.json with its shards, an HDF5 file or a
// built-in name resolved through the model cache — so a pipeline can refuse a model that changed since training.
std::string weights_digest(const nn::Graph& g) {
  std::string bytes;
  for (const auto& [name, tensor] : g.initializers) {
    bytes += fmt::format("{}:{}:{};", name, nn::to_string(tensor.type), fmt::join(tensor.shape, "x"));
    if (tensor.bytes) bytes.append(reinterpret_cast<const char*>(tensor.bytes->data()), tensor.bytes->size());
  }
  return sha256_hex(bytes);
}

// The graph a featuriser runs: the model cut after its feature layer and, for a spatial layer, pooled to one
// vector per image; found by running it once in fp32 at batch 1. Calibration and the featuriser share it, so the
// calibrated values are the values the int8 model computes.
struct FeatureGraph {
  nn::Graph graph;          // cut (and pooled)
  std::string layer;        // the feature layer
  std::string output;       // the value returned: the layer, or its pooled form
  image::Preprocessing preprocessing;
  nn::ModelSource source;
  std::string sha256;
};

std::vector<int64_t> input_shape_of(const image::Preprocessing& p, int64_t n) {
  if (p.layout == image::Layout::nhwc) return {n, p.height, p.width, p.channels};
  return {n, p.channels, p.height, p.width};
}

FeatureGraph feature_graph(const FeaturizerSpec& spec) {
  FeatureGraph f;
  nn::Graph graph = nn::load_model_graph(spec.model);
  f.preprocessing = preprocessing_for(graph);
  f.source = graph.source;
  f.sha256 = weights_digest(graph);
  f.layer = spec.layer.empty() ? nn::default_feature_layer(graph) : nn::resolve_layer(graph, spec.layer);
  nn::cut_graph(graph, {f.layer});
  // The layer's rank decides whether it needs pooling: probe it once at batch 1 (fp32: int8 needs this graph first).
  nn::CompileOptions probe_options;
  probe_options.outputs = {f.layer};
  std::vector<float> zeros(f.preprocessing.values_per_image(), 0.0f);
  auto out = nn::Run(nn::Model::compile(graph, probe_options)).forward(zeros.data(), input_shape_of(f.preprocessing, 1)).at(0);
  f.output = nn::pool_output(graph, f.layer, static_cast<int64_t>(out.shape.size()), spec.pool);
  f.graph = std::move(graph);
  return f;
}

class ModelFeaturizer final : public Featurizer {
 public:
  explicit ModelFeaturizer(const FeaturizerSpec& spec) : spec_(spec) {
    nn::set_threads(spec.threads);
    FeatureGraph f = feature_graph(spec);
    preprocessing_ = f.preprocessing;
    source_ = f.source;
    sha256_ = f.sha256;
    layer_ = f.layer;
    pooled_ = f.output != f.layer;
    nn::CompileOptions opt;
    opt.precision = nn::precision_from_string(spec.precision);
    opt.outputs = {f.output};
    if (opt.precision == nn::Precision::int8) {
      if (!spec.calibration)
        fail("{}: --precision int8 needs the activation ranges calibrated on images of the data set", spec.model);
      opt.calibration = spec.calibration;
    }
    model_ = nn::Model::compile(std::move(f.graph), opt);
    std::vector<float> zeros(preprocessing_.values_per_image(), 0.0f);
    dim_ = nn::Run(model_).forward(zeros.data(), input_shape(1)).at(0).element_count();
    spdlog::info("{}: feature layer '{}' ({} values per image{}), {}", spec.model, layer_, dim_,
                 pooled_ ? ", " + spec.pool + "-pooled" : "", nn::to_string(opt.precision));
  }

  const image::Preprocessing& preprocessing() const override { return preprocessing_; }
  int64_t feature_dim() const override { return dim_; }

  void featurize(const float* images, int64_t n, float* features) const override {
    if (n <= 0) return;
    std::unique_ptr<nn::Run> run = acquire();
    auto out = run->forward(images, input_shape(n)).at(0);
    if (out.element_count() != n * dim_) fail("{}: layer '{}' gave {} values for {} images", spec_.model, layer_, out.element_count(), n);
    std::copy_n(out.data<float>(), n * dim_, features);
    release(std::move(run));
  }

  nlohmann::json describe() const override {
    nlohmann::json d = {{"kind", "model"},
            {"model", spec_.model},
            {"format", source_.format},
            {"path", source_.path},
            {"sha256", sha256_},  // of the imported weights (weights_digest), whatever the file format
            {"layer", layer_},
            {"pool", pooled_ ? spec_.pool : "none"},
            {"precision", spec_.precision},
            {"feature_dim", dim_},
            {"preprocessing", image::to_json(preprocessing_)}};
    // int8: the scales are part of what computes the features; another calibration is another featuriser.
    if (spec_.calibration) {
      d["calibration_sha256"] = spec_.calibration->digest();
      d["calibration_method"] = spec_.calibration->method;
      d["calibration_images"] = spec_.calibration->images;
    }
    return d;
  }

 private:
  std::vector<int64_t> input_shape(int64_t n) const { return input_shape_of(preprocessing_, n); }

  // Runs keep their activation buffers between calls (fresh pages are expensive here), one per concurrent caller.
  std::unique_ptr<nn::Run> acquire() const {
    std::lock_guard lock(mutex_);
    if (runs_.empty()) return std::make_unique<nn::Run>(model_);
    auto run = std::move(runs_.back());
    runs_.pop_back();
    return run;
  }
  void release(std::unique_ptr<nn::Run> run) const {
    std::lock_guard lock(mutex_);
    runs_.push_back(std::move(run));
  }

  FeaturizerSpec spec_;
  image::Preprocessing preprocessing_;
  nn::ModelSource source_;
  std::string layer_;
  bool pooled_ = false;
  int64_t dim_ = 0;
  std::string sha256_;
  std::shared_ptr<const nn::Model> model_;
  mutable std::mutex mutex_;
  mutable std::vector<std::unique_ptr<nn::Run>> runs_;
};

}  // namespace

std::unique_ptr<Featurizer> make_model_featurizer(const FeaturizerSpec& spec) {
  return std::make_unique<ModelFeaturizer>(spec);
}

nn::Calibration calibrate_model_featurizer(const FeaturizerSpec& spec, const std::vector<std::filesystem::path>& images) {
  nn::set_threads(spec.threads);
  FeatureGraph f = feature_graph(spec);
  const auto per_image = static_cast<size_t>(f.preprocessing.values_per_image());
  std::vector<float> values;
  int64_t n = 0;
  for (const auto& path : images) {
    std::vector<float> one(per_image);
    try {
      load_image_input(path, f.preprocessing, one.data());
    } catch (const Error& e) {
      spdlog::warn("int8 calibration: skipping {}: {}", path.string(), e.what());
      continue;
    }
    values.insert(values.end(), one.begin(), one.end());
    ++n;
  }
  if (n == 0) fail("int8 calibration: none of the {} sampled images could be read", images.size());
  auto batch = nn::make_float_tensor(input_shape_of(f.preprocessing, n), values.data());
  return nn::calibrate(f.graph, {f.output}, {batch}, nn::calibration_method_from_string(spec.calibration_method));
}

}  // namespace xfer::featurize
