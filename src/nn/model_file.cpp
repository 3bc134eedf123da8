#include "nn/model_file.h"

#include <malloc.h>

#include <filesystem>

#include "nn/keras/keras_import.h"
#include "nn/onnx/onnx_import.h"
#include "util/error.h"

namespace xfer::nn {

namespace {
Graph import_by_kind(const std::string& path_or_name) {
  // TF.js models ship (and unpack) as a folder holding model.json and its weight shards: the folder names the model.
  std::error_code error;
  if (std::filesystem::is_directory(path_or_name, error)) {
    const auto model_json = std::filesystem::path(path_or_name) / "model.json";
    if (std::filesystem::is_regular_file(model_json, error)) return import_keras_model(model_json.string());
    fail("{}: a folder, but without a model.json (a TF.js model folder holds model.json and its weight shards)",
         path_or_name);
  }
  std::string ext = std::filesystem::path(path_or_name).extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".onnx") return import_onnx(path_or_name);
  if (is_keras_model(path_or_name)) return import_keras_model(path_or_name);
  fail("{}: not a model this build reads (.onnx, Keras .h5, TF.js model.json or its folder, or a built-in name)",
       path_or_name);
}
}  // namespace

Graph load_model_graph(const std::string& path_or_name) {
  Graph graph = import_by_kind(path_or_name);
  // The parser's freed buffers (file bytes, protobuf) stay in glibc's heap and count against the process
  // otherwise: hand them back before the weights are reordered and the activations allocated.
  malloc_trim(0);
  return graph;
}

}  // namespace xfer::nn
