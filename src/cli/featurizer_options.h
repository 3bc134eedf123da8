#pragma once
// The featuriser options shared by featurize and train (one declaration, so --help says the same everywhere).
#include <CLI/CLI.hpp>

#include "featurize/featurizer.h"

namespace xfer::cli {

inline void add_featurizer_options(CLI::App& command, featurize::FeaturizerSpec& spec) {
  command.add_option("--model", spec.model,
                     "pixels | pixels:WxH[:rgb] | a model file (.onnx, Keras .h5, TF.js model.json or its folder) | a built-in name")
      ->capture_default_str();
  command.add_option("--layer", spec.layer, "Feature layer (any tensor of the graph); default: the model's own");
  command.add_option("--pool", spec.pool, "How a spatial layer becomes one vector per image")
      ->check(CLI::IsMember({"avg", "max", "none"}))
      ->capture_default_str();
  command.add_option("--precision", spec.precision, "CNN arithmetic")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
}

}  // namespace xfer::cli
