#pragma once
// Built-in keras.applications architectures, emitted as the model_config JSON Keras itself would write, with
// the same layer names (Keras 2.2.4 auto-naming: conv2d_1, batch_normalization_1, ...), so that official weights
// files and the nsfwjs models load by layer name. Written as C++ builders rather than shipped JSON files because
// the Python builders are loops: the C++ mirrors them line by line (reviewable against keras_applications) and
// stays a few hundred lines instead of ~1 MB of generated JSON.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xfer::nn::keras {

struct BuiltinInfo {
  std::string name;           // inception_v3, ...
  int input_size = 0;         // square input: 299 or 224
  std::string preprocessing;  // "tf" or "caffe"
  std::string top_feature_layer;     // with the top: the layer feeding the classifier (sparkdl's features)
  std::string notop_feature_layer;   // without the top: the last layer (pooled by the featuriser)
};

const std::vector<BuiltinInfo>& builtin_architectures();
const BuiltinInfo* find_builtin(const std::string& name);

// The model_config {"class_name": "Model", "config": {...}} of a built-in architecture; include_top adds the
// 1000-class ImageNet classifier.
nlohmann::json builtin_keras_config(const std::string& name, bool include_top);

}  // namespace xfer::nn::keras
