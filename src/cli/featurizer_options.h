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
  command.add_option("--precision", spec.precision, "CNN arithmetic (int8: calibrated on the data set's own images)")
      ->check(CLI::IsMember({"fp32", "bf16", "int8"}))
      ->capture_default_str();
  command.add_option("--calibration-images", spec.calibration_images,
                     "int8: how many images (a fixed-seed sample of the data set) calibrate the activation ranges")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  command.add_option("--calibration-method", spec.calibration_method, "int8: how a range is chosen from its histogram")
      ->check(CLI::IsMember({"minmax", "percentile", "entropy"}))
      ->capture_default_str();
}

}  // namespace xfer::cli
