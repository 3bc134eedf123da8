// A small command-line front end to the Keras importer for the script tests (they compare its results with
// TF.js, h5py and Keras' own model_config).
//   keras_tool config NAME [top]         the built-in architecture's model_config JSON (stdout)
//   keras_tool architecture NAME [top]   summary of a built-in architecture imported with zero weights
//   keras_tool graph MODEL               a JSON summary of the imported graph (stdout); errors on stderr, exit 1
//   keras_tool run MODEL IN.npy OUT_DIR LAYER[:avg]... [--reference]
//       runs the imported graph on the engine (nn::Model) for NHWC float32 inputs and writes each layer to
//       OUT_DIR/<layer>.npy in Keras' layout (the importer names NHWC views after layers) or, with :avg, averaged over
//       H and W (Keras' pooling='avg') as OUT_DIR/<layer>_avg.npy; "output" is the model's output.
//       --reference runs every node on the engine's reference kernels instead of oneDNN.
//   keras_tool featurize MODEL LAYER POOL IN.npy OUT.npy
//       the model featuriser (featurize::make_featurizer, as `xfer train --model` uses it) on preprocessed NHWC
//       images; prints its describe() JSON on stdout.
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "featurize/featurizer.h"
#include "nn/keras/keras_builtin.h"
#include "nn/keras/keras_import.h"
#include "nn/model.h"
#include "nn/reference_ops.h"
#include "util/error.h"
#include "util/npy.h"

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

// A layer's value as Keras has it (NHWC for 4-D, see keras_import.h), or with avg its mean over H and W.
std::pair<std::vector<float>, std::vector<int64_t>> keras_view(const xfer::nn::Tensor& t, bool avg) {
  std::vector<float> f = xfer::nn::to_float_vector(t);
  if (!avg) return {f, t.shape};
  if (t.shape.size() != 4) xfer::fail("--layer :avg needs a 4-D value, got rank {}", t.shape.size());
  const int64_t n = t.shape[0], h = t.shape[1], w = t.shape[2], c = t.shape[3];
  std::vector<double> sum(static_cast<size_t>(n * c), 0.0);
  for (int64_t a = 0; a < n; ++a)
    for (int64_t p = 0; p < h * w; ++p)
      for (int64_t k = 0; k < c; ++k) sum[static_cast<size_t>(a * c + k)] += f[static_cast<size_t>((a * h * w + p) * c + k)];
  std::vector<float> out(sum.size());
  for (size_t i = 0; i < sum.size(); ++i) out[i] = static_cast<float>(sum[i] / static_cast<double>(h * w));
  return {out, {n, c}};
}

int run(int argc, char** argv) {
  std::vector<std::string> layers;
  bool reference = false;
  for (int i = 5; i < argc; ++i) {
    if (std::string(argv[i]) == "--reference") reference = true;
    else layers.push_back(argv[i]);
  }
  xfer::nn::Graph g = xfer::nn::import_keras_model(argv[2]);
  xfer::NpyArray x = xfer::read_npy(argv[3]);
  std::vector<float> input = x.to_float32();
  xfer::nn::CompileOptions options;
  options.reference_only = reference;
  std::vector<bool> pooled;
  for (const auto& l : layers) {
    auto colon = l.find(':');
    std::string name = l.substr(0, colon);
    options.outputs.push_back(name == "output" ? g.outputs.at(0).name : name);
    pooled.push_back(colon != std::string::npos && l.substr(colon + 1) == "avg");
  }
  auto model = xfer::nn::Model::compile(std::move(g), options);
  xfer::nn::Run runner(model);
  // One image at a time: the per-image results must not depend on batching.
  std::vector<std::vector<float>> rows(layers.size());
  std::vector<std::vector<int64_t>> shapes(layers.size());
  const int64_t per = x.element_count() / x.shape.at(0);
  for (int64_t i = 0; i < x.shape[0]; ++i) {
    std::vector<int64_t> shape = x.shape;
    shape[0] = 1;
    auto outs = runner.forward(input.data() + i * per, shape);
    if (outs.size() != layers.size()) xfer::fail("engine returned {} outputs for {} layers", outs.size(), layers.size());
    for (size_t k = 0; k < outs.size(); ++k) {
      auto [values, s] = keras_view(outs[k], pooled[k]);
      rows[k].insert(rows[k].end(), values.begin(), values.end());
      shapes[k] = s;
    }
  }
  for (size_t k = 0; k < layers.size(); ++k) {
    shapes[k][0] = x.shape[0];
    std::string name = layers[k].substr(0, layers[k].find(':')) + (pooled[k] ? "_avg" : "");
    xfer::write_npy(std::string(argv[4]) + "/" + name + ".npy", rows[k].data(), shapes[k]);
  }
  return 0;
}

int featurize(char** argv) {
  xfer::featurize::FeaturizerSpec spec;
  spec.model = argv[2];
  spec.layer = argv[3];
  spec.pool = argv[4];
  auto f = xfer::featurize::make_featurizer(spec);
  xfer::NpyArray x = xfer::read_npy(argv[5]);
  std::vector<float> input = x.to_float32();
  const int64_t n = x.shape.at(0);
  if (static_cast<size_t>(x.element_count() / n) != f->preprocessing().values_per_image()) {
    xfer::fail("{}: {} values per image, the featuriser wants {}", argv[5], x.element_count() / n,
               f->preprocessing().values_per_image());
  }
  std::vector<float> features(static_cast<size_t>(n * f->feature_dim()));
  f->featurize(input.data(), n, features.data());
  xfer::write_npy(argv[6], features.data(), {n, f->feature_dim()});
  std::cout << f->describe().dump() << "\n";
  return 0;
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
    if (cmd == "architecture" && argc >= 3) {  // the built-in architecture with zero weights
      bool top = argc > 3 && std::string(argv[3]) == "top";
      std::cout << summary(xfer::nn::import_keras_architecture(argv[2], top)).dump() << "\n";
      return 0;
    }
    if (cmd == "graph" && argc == 3) {
      std::cout << summary(xfer::nn::import_keras_model(argv[2])).dump() << "\n";
      return 0;
    }
    if (cmd == "run" && argc >= 6) return run(argc, argv);
    if (cmd == "featurize" && argc == 7) return featurize(argv);
    std::cerr << "usage: keras_tool config NAME [top] | graph MODEL | run MODEL IN.npy OUT_DIR LAYER[:avg]...\n";
    return 2;
  } catch (const xfer::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
