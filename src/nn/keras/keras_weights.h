#pragma once
// Keras layer weights as read from TF.js layers shards or Keras HDF5 files, before they meet the architecture.
// Every tensor is float32 in Keras' own layout (Conv2D kernel [kh, kw, in, out], Dense kernel [in, out], ...);
// the graph builder checks shapes against the layers and transposes to ONNX layouts.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/graph.h"

namespace xfer::nn::keras {

// layer name -> short weight name ("kernel", "bias", "gamma", "moving_mean", "depthwise_kernel", ...) -> tensor.
struct KerasWeights {
  std::map<std::string, std::map<std::string, Tensor>> layers;
  std::string origin;  // the file(s) these came from, for messages
  // Architecture only (model info, tests): a missing weight is zeros of the shape the layer needs. Never set
  // when weights come from a file.
  bool zeros_for_missing = false;
};

// "conv2d_1/kernel:0" -> "kernel"; "block1/conv/bias" -> "bias".
std::string short_weight_name(const std::string& full_name);

// TF.js layers: model_json is the parsed model.json, dir the folder its shard paths are relative to.
// Dequantises uint8/uint16 (q * scale + min) and float16; rejects shard paths that leave dir, shards shorter or
// longer than the manifest, unknown dtypes, and non-finite values.
KerasWeights read_tfjs_weights(const nlohmann::json& model_json, const std::filesystem::path& dir,
                               const std::string& model_path);

// A Keras 2 HDF5 file: a full model (attribute model_config + group model_weights) or a weights-only file
// (layer_names at the root). model_config is empty for weights-only files.
struct KerasH5 {
  std::optional<nlohmann::json> model_config;
  std::string keras_version;
  std::string backend;
  std::vector<std::string> layer_names;  // in file order, including layers without weights
  KerasWeights weights;
};
KerasH5 read_keras_h5(const std::string& path);

// Throws when a tensor holds NaN or Inf, naming the weight and the origin.
void check_finite(const Tensor& t, const std::string& what, const std::string& origin);

}  // namespace xfer::nn::keras
