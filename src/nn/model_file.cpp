#include "nn/model_file.h"

#include <malloc.h>

#include <filesystem>

#include "nn/keras/keras_import.h"
#include "nn/onnx/onnx_import.h"
#include "util/error.h"

namespace xfer::nn {

namespace {
Graph import_by_kind(const std::string& path_or_name) {
  std::string ext = std::filesystem::path(path_or_name).extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".onnx") return import_onnx(path_or_name);
  if (is_keras_model(path_or_name)) return import_keras_model(path_or_name);
  fail("{}: not a model this build reads (.onnx, Keras .h5, TF.js model.json, or a built-in name)", path_or_name);
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
