#pragma once
// Loads a model by what it is: FILE.onnx through the ONNX importer; Keras HDF5 (.h5/.hdf5/.keras), TF.js
// model.json (or the folder holding it, as TF.js models are shipped) and built-in names through the Keras importer. Anything else is an Error naming it.
#include <string>

#include "nn/graph.h"

namespace xfer::nn {

Graph load_model_graph(const std::string& path_or_name);

}  // namespace xfer::nn
