// A small command-line front end to the Keras importer for the script tests (they compare its results with
// TF.js, h5py and Keras' own model_config).
//   keras_tool config NAME [top]         the built-in architecture's model_config JSON (stdout)
//   keras_tool graph MODEL               a JSON summary of the imported graph (stdout); errors on stderr, exit 1
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "nn/keras/keras_builtin.h"
#include "nn/keras/keras_import.h"
#include "util/error.h"

namespace {

nlohmann::json summary(const xfer::nn::Graph& g) {
  nlohmann::json j;
  j["source"] = {{"format", g.source.format}, {"path", g.source.path}, {"producer", g.source.producer}, {"opset", g.source.opset}};
  for (const auto& v : g.inputs) j["inputs"].push_back({{"name", v.name}, {"shape", v.shape}});
  for (const auto& v : g.outputs) j["outputs"].push_back({{"name", v.name}, {"shape", v.shape}});
  std::map<std::string, int> ops;
  for (const auto& n : g.nodes) ++ops[n.op_type];
  j["ops"] = ops;
  j["nodes"] = g.nodes.size();
  int64_t params = 0;
  for (const auto& [name, t] : g.initializers) {
    if (t.type == xfer::nn::DataType::float32) params += t.element_count();
  }
  j["float_parameters"] = params;
  j["metadata"] = g.metadata;
  nlohmann::json names = nlohmann::json::array();
  for (const auto& n : g.nodes) names.push_back(n.name);
  j["node_names"] = names;
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "config" && argc >= 3) {
      bool top = argc > 3 && std::string(argv[3]) == "top";
      std::cout << xfer::nn::keras::builtin_keras_config(argv[2], top).dump() << "\n";
      return 0;
    }
    if (cmd == "graph" && argc == 3) {
      std::cout << summary(xfer::nn::import_keras_model(argv[2])).dump() << "\n";
      return 0;
    }
    std::cerr << "usage: keras_tool config NAME [top] | graph MODEL\n";
    return 2;
  } catch (const xfer::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
