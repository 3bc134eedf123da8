// The CNN featuriser: a model file or built-in name, cut after the feature layer, pooled to one vector per image,
// run by the nn engine. One compiled Model is shared; each concurrent featurize() call borrows its own Run.
#include "featurize/model_featurizer.h"

#include <filesystem>
#include <mutex>

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

class ModelFeaturizer final : public Featurizer {
 public:
  explicit ModelFeaturizer(const FeaturizerSpec& spec) : spec_(spec) {
    nn::set_threads(spec.threads);
    nn::Graph graph = nn::load_model_graph(spec.model);
    preprocessing_ = preprocessing_for(graph);
    source_ = graph.source;
    sha256_ = weights_digest(graph);
    layer_ = spec.layer.empty() ? nn::default_feature_layer(graph) : nn::resolve_layer(graph, spec.layer);
    nn::CompileOptions opt;
    opt.precision = nn::precision_from_string(spec.precision);
    opt.outputs = {layer_};
    // The layer's rank decides whether it needs pooling: probe it once at batch 1.
    nn::Graph cut = graph;
    nn::cut_graph(cut, {layer_});
    auto probe_model = nn::Model::compile(cut, opt);
    nn::Run probe(probe_model);
    std::vector<float> zeros(preprocessing_.values_per_image(), 0.0f);
    auto out = probe.forward(zeros.data(), input_shape(1)).at(0);
    std::string output = nn::pool_output(cut, layer_, static_cast<int64_t>(out.shape.size()), spec.pool);
    pooled_ = output != layer_;
    if (pooled_) {
      opt.outputs = {output};
      model_ = nn::Model::compile(cut, opt);
      out = nn::Run(model_).forward(zeros.data(), input_shape(1)).at(0);
    } else {
      model_ = probe_model;
    }
    dim_ = out.element_count();
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
    return {{"kind", "model"},
            {"model", spec_.model},
            {"format", source_.format},
            {"path", source_.path},
            {"sha256", sha256_},  // of the imported weights (weights_digest), whatever the file format
            {"layer", layer_},
            {"pool", pooled_ ? spec_.pool : "none"},
            {"precision", spec_.precision},
            {"feature_dim", dim_},
            {"preprocessing", image::to_json(preprocessing_)}};
  }

 private:
  std::vector<int64_t> input_shape(int64_t n) const {
    const auto& p = preprocessing_;
    if (p.layout == image::Layout::nhwc) return {n, p.height, p.width, p.channels};
    return {n, p.channels, p.height, p.width};
  }

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

}  // namespace xfer::featurize
