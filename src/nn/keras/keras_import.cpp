// Entry point of the Keras importer: decides what path_or_name is (TF.js model.json, Keras HDF5, built-in name),
// gathers model_config and weights, and adds the metadata the featuriser needs.
#include "nn/keras/keras_import.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "nn/keras/keras_builtin.h"
#include "nn/keras/keras_graph.h"
#include "nn/keras/keras_weights.h"
#include "util/error.h"

namespace xfer::nn {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace keras;

// The ONNX opset whose operator semantics the translated graph follows (Clip/Pad/Slice take tensor inputs).
constexpr int64_t kKerasOpset = 13;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool is_h5_path(const std::string& p) { return ends_with(p, ".h5") || ends_with(p, ".hdf5") || ends_with(p, ".keras"); }

// The pretrained models unwrapped from npm's nsfwjs by scripts/fetch-nsfwjs.mjs.
struct CachedModel {
  const char* name;
  const char* folder;
  const char* preprocessing;
  const char* feature_layer;  // why: see the comment at the use site
};
const CachedModel kCached[] = {
    // nsfwjs kept Keras' ImageNet weights frozen up to mixed5 and fine-tuned after it for its own 5 classes:
    // pooled mixed5 (768-d) is the last layer with real ImageNet features.
    {"nsfwjs_inception_v3", "nsfwjs_inception_v3", "tf", "mixed5"},
    // For MobileNetV2 nsfwjs does not say where fine-tuning starts; the features before its own head.
    {"nsfwjs_mobilenet_v2", "nsfwjs_mobilenet_v2", "tf", "flatten_1"},
};

const std::set<std::string> kWeightedClasses = {"Conv2D", "Convolution2D", "DepthwiseConv2D", "SeparableConv2D",
                                                "SeparableConvolution2D", "BatchNormalization", "Dense"};

const json& model_layers(const json& model_config) {
  static const json empty = json::array();
  const json& cfg = model_config.contains("config") ? model_config["config"] : empty;
  if (cfg.is_array()) return cfg;  // Keras 2.2 Sequential
  if (cfg.is_object() && cfg.contains("layers")) return cfg["layers"];
  return empty;
}

std::string layer_name(const json& layer) {
  if (layer.contains("name") && layer["name"].is_string()) return layer["name"].get<std::string>();
  if (layer.contains("config") && layer["config"].contains("name")) return layer["config"]["name"].get<std::string>();
  return "";
}

// Which built-in architecture a file's layers look like, for the preprocessing default; "" when none.
std::string recognise_architecture(const json& model_config) {
  std::set<std::string> names;
  for (const auto& l : model_layers(model_config)) names.insert(layer_name(l));
  if (names.count("mixed5") && names.count("mixed10")) return "inception_v3";
  if (names.count("block_16_project")) return "mobilenet_v2";
  if (names.count("block14_sepconv2")) return "xception";
  if (names.count("res5c_branch2c") || names.count("conv5_block3_out")) return "resnet50";
  if (names.count("block5_conv4")) return "vgg19";
  if (names.count("block5_conv3")) return "vgg16";
  return "";
}

// The default feature layer of a file model: walk back from the output over the classifier head
// (Dense, Dropout, Activation) to the layer that feeds it.
std::string head_input_layer(const json& model_config) {
  const json& layers = model_layers(model_config);
  if (layers.empty()) return "";
  std::map<std::string, const json*> by_name;
  for (const auto& l : layers) by_name[layer_name(l)] = &l;
  const json* cur = &layers.back();
  const json& cfg = model_config["config"];
  if (cfg.is_object() && cfg.contains("output_layers") && cfg["output_layers"].size() == 1) {
    auto it = by_name.find(cfg["output_layers"][0][0].get<std::string>());
    if (it != by_name.end()) cur = it->second;
  }
  for (size_t guard = 0; guard < layers.size(); ++guard) {
    const std::string cls = cur->value("class_name", "");
    if (cls != "Dense" && cls != "Dropout" && cls != "Activation") return layer_name(*cur);
    // Sequential: the previous layer; functional: the inbound layer.
    if (cur->contains("inbound_nodes") && !(*cur)["inbound_nodes"].empty()) {
      auto it = by_name.find((*cur)["inbound_nodes"][0][0][0].get<std::string>());
      if (it == by_name.end()) return "";
      cur = it->second;
    } else {
      const json* prev = nullptr;
      for (const auto& l : layers) {
        if (&l == cur) break;
        prev = &l;
      }
      if (!prev) return layer_name(*cur);
      cur = prev;
    }
  }
  return "";
}

void set_input_metadata(Graph& g, const std::string& preprocessing, const std::string& feature_layer) {
  g.metadata["preprocessing"] = preprocessing;
  g.metadata["input_layout"] = "nhwc";
  if (!feature_layer.empty()) g.metadata["default_feature_layer"] = feature_layer;
}

Graph from_config(const json& model_config, const KerasWeights& weights, const std::string& origin,
                  const std::string& format, const std::string& producer) {
  Graph g = build_keras_graph(model_config, weights, origin);
  g.source = ModelSource{format, origin, kKerasOpset, producer};
  std::string arch = recognise_architecture(model_config);
  const BuiltinInfo* info = arch.empty() ? nullptr : find_builtin(arch);
  set_input_metadata(g, info ? info->preprocessing : "none", head_input_layer(model_config));
  if (!arch.empty()) g.metadata["architecture"] = arch;
  return g;
}

Graph import_tfjs(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open", path);
  json model_json;
  try {
    model_json = json::parse(in);
  } catch (const json::exception& e) {
    fail("{}: not JSON: {}", path, e.what());
  }
  if (!model_json.is_object() || !model_json.contains("modelTopology")) {
    fail("{}: no modelTopology (not a TF.js layers model.json)", path);
  }
  if (model_json.value("format", "layers-model") == "graph-model") {
    fail("{}: a TF.js graph model, not a layers model (convert the original Keras model instead)", path);
  }
  const json& topo = model_json["modelTopology"];
  const json& config = topo.contains("model_config") ? topo["model_config"] : topo;
  KerasWeights weights = read_tfjs_weights(model_json, fs::path(path).parent_path(), path);
  std::string producer = topo.contains("keras_version") ? "keras " + topo["keras_version"].get<std::string>() : "";
  return from_config(config, weights, path, "tfjs-layers", producer);
}

std::set<std::string> weighted_layers_of(const json& config) {
  std::set<std::string> out;
  for (const auto& l : model_layers(config)) {
    if (kWeightedClasses.count(l.value("class_name", ""))) out.insert(layer_name(l));
  }
  return out;
}

// A weights-only file against a built-in architecture (named, or found by the file's layer names).
Graph import_weights_only(const KerasH5& h5, const std::string& path, const std::string& arch_name) {
  std::set<std::string> file_layers;
  for (const auto& [layer, ws] : h5.weights.layers) {
    if (!ws.empty()) file_layers.insert(layer);
  }
  std::vector<const BuiltinInfo*> candidates;
  if (!arch_name.empty()) {
    const BuiltinInfo* b = find_builtin(arch_name);
    if (!b) usage_fail("{}: unknown built-in architecture '{}'", path, arch_name);
    candidates.push_back(b);
  } else {
    for (const auto& b : builtin_architectures()) candidates.push_back(&b);
  }
  std::string closest;
  size_t closest_diff = SIZE_MAX;
  for (const BuiltinInfo* b : candidates) {
    for (bool top : {false, true}) {
      json config = builtin_keras_config(b->name, top);
      auto arch_layers = weighted_layers_of(config);
      if (arch_layers == file_layers) {
        Graph g = build_keras_graph(config, h5.weights, path);
        g.source = ModelSource{"keras-h5", path, kKerasOpset, h5.keras_version.empty() ? "" : "keras " + h5.keras_version};
        set_input_metadata(g, b->preprocessing, top ? b->top_feature_layer : b->notop_feature_layer);
        g.metadata["architecture"] = b->name;
        g.metadata["include_top"] = top ? "true" : "false";
        return g;
      }
      size_t diff = 0;
      std::string example;
      for (const auto& l : file_layers) {
        if (!arch_layers.count(l)) { ++diff; if (example.empty()) example = "the file has " + l + ", the architecture does not"; }
      }
      for (const auto& l : arch_layers) {
        if (!file_layers.count(l)) { ++diff; if (example.empty()) example = "the architecture has " + l + ", the file does not"; }
      }
      if (diff < closest_diff) {
        closest_diff = diff;
        closest = fmt::format("{}{} ({} layers differ; e.g. {})", b->name, top ? "" : " without top", diff, example);
      }
    }
  }
  fail("{}: a weights-only file whose layers match no built-in architecture; closest: {}", path, closest);
}

Graph import_h5(const std::string& path, const std::string& arch_name) {
  KerasH5 h5 = read_keras_h5(path);
  if (h5.model_config && arch_name.empty()) {
    std::string producer = h5.keras_version.empty() ? "" : "keras " + h5.keras_version;
    return from_config(*h5.model_config, h5.weights, path, "keras-h5", producer);
  }
  return import_weights_only(h5, path, arch_name);
}

// The official keras.applications weights files, looked up in the model cache and in Keras' own ~/.keras/models.
Graph import_builtin(const std::string& name) {
  static const std::map<std::string, std::vector<std::string>> files = {
      {"inception_v3", {"inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5", "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"}},
      {"xception", {"xception_weights_tf_dim_ordering_tf_kernels_notop.h5", "xception_weights_tf_dim_ordering_tf_kernels.h5"}},
      {"resnet50", {"resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", "resnet50_weights_tf_dim_ordering_tf_kernels.h5"}},
      {"vgg16", {"vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", "vgg16_weights_tf_dim_ordering_tf_kernels.h5"}},
      {"vgg19", {"vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", "vgg19_weights_tf_dim_ordering_tf_kernels.h5"}},
      {"mobilenet_v2", {"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5", "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5"}},
  };
  std::vector<fs::path> dirs = {fs::path(keras_model_cache_dir())};
  if (const char* home = std::getenv("HOME")) dirs.push_back(fs::path(home) / ".keras" / "models");
  for (const auto& file : files.at(name)) {
    for (const auto& dir : dirs) {
      if (fs::exists(dir / file)) return import_h5((dir / file).string(), name);
    }
  }
  fail("{}: no weights for the built-in architecture; put {} in {} (or give NAME:WEIGHTS.h5)", name,
       files.at(name).front(), dirs.front().string());
}

}  // namespace

Graph import_keras_architecture(const std::string& name, bool include_top) {
  const BuiltinInfo* b = find_builtin(name);
  if (!b) usage_fail("unknown built-in Keras architecture '{}'", name);
  KerasWeights none;
  none.origin = name + " (architecture only)";
  none.zeros_for_missing = true;
  Graph g = build_keras_graph(builtin_keras_config(name, include_top), none, name);
  g.source = ModelSource{"builtin", name, kKerasOpset, ""};
  set_input_metadata(g, b->preprocessing, include_top ? b->top_feature_layer : b->notop_feature_layer);
  g.metadata["architecture"] = name;
  g.metadata["include_top"] = include_top ? "true" : "false";
  return g;
}

std::string keras_model_cache_dir() {
  if (const char* c = std::getenv("XFER_MODEL_CACHE"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return (fs::path(x) / "xfer" / "models").string();
  if (const char* h = std::getenv("HOME"); h && *h) return (fs::path(h) / ".cache" / "xfer" / "models").string();
  return (fs::current_path() / ".xfer-models").string();
}

std::vector<std::string> keras_builtin_names() {
  std::vector<std::string> out;
  for (const auto& b : builtin_architectures()) out.push_back(b.name);
  for (const auto& c : kCached) out.push_back(c.name);
  return out;
}

bool is_keras_model(const std::string& p) {
  if (is_h5_path(p) || ends_with(p, ".json")) return true;
  auto colon = p.find(':');
  std::string head = colon == std::string::npos ? p : p.substr(0, colon);
  for (const auto& n : keras_builtin_names()) {
    if (n == head) return true;
  }
  return false;
}

Graph import_keras_model(const std::string& path_or_name) {
  for (const auto& c : kCached) {
    if (path_or_name == c.name) {
      fs::path model = fs::path(keras_model_cache_dir()) / c.folder / "model.json";
      if (!fs::exists(model)) {
        fail("{}: not unwrapped yet: {} is missing (run: node scripts/fetch-nsfwjs.mjs)", c.name, model.string());
      }
      Graph g = import_tfjs(model.string());
      set_input_metadata(g, c.preprocessing, c.feature_layer);
      g.metadata["model_name"] = c.name;
      return g;
    }
  }
  if (find_builtin(path_or_name)) return import_builtin(path_or_name);
  if (auto colon = path_or_name.find(':'); colon != std::string::npos && find_builtin(path_or_name.substr(0, colon))) {
    return import_h5(path_or_name.substr(colon + 1), path_or_name.substr(0, colon));
  }
  if (!fs::exists(path_or_name)) {
    usage_fail("{}: no such file, and not a built-in model name ({})", path_or_name,
               fmt::format("{}", fmt::join(keras_builtin_names(), ", ")));
  }
  if (ends_with(path_or_name, ".json")) return import_tfjs(path_or_name);
  if (is_h5_path(path_or_name)) return import_h5(path_or_name, "");
  usage_fail("{}: not a Keras model (expected .h5, .hdf5, .keras or a TF.js model.json)", path_or_name);
}

}  // namespace xfer::nn
