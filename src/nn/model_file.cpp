#include "nn/model_file.h"

#include <filesystem>

#include "nn/keras/keras_import.h"
#include "nn/onnx/onnx_import.h"
#include "util/error.h"

namespace xfer::nn {

Graph load_model_graph(const std::string& path_or_name) {
  std::string ext = std::filesystem::path(path_or_name).extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".onnx") return import_onnx(path_or_name);
  if (is_keras_model(path_or_name)) return import_keras_model(path_or_name);
  fail("{}: not a model this build reads (.onnx, Keras .h5, TF.js model.json, or a built-in name)", path_or_name);
}

}  // namespace xfer::nn
