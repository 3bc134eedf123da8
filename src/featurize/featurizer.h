#pragma once
// A featuriser turns preprocessed images into one feature vector each: `pixels` (the images themselves)
// or a CNN layer. It is immutable after construction and may be shared by threads.
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "image/preprocessing.h"
#include "nn/calibration.h"

namespace xfer::featurize {

// What the user asked for; also what the pipeline file records to rebuild the same featuriser.
struct FeaturizerSpec {
  std::string model = "pixels";  // "pixels", "pixels:WxH[:rgb]", a model file (.onnx, .h5, model.json) or a name
  std::string layer;             // empty: the model's default feature layer
  std::string pool = "avg";      // avg | max | none: how a spatial layer becomes one vector
  std::string precision = "fp32";  // fp32 | bf16 | int8
  int threads = 0;                 // 0: all cores
  // int8: the activation ranges (required to build an int8 featuriser; the pipeline file stores them), and how a
  // job that has none yet measures them: this many images of its data set (a fixed-seed sample), this method.
  std::shared_ptr<const nn::Calibration> calibration;
  int calibration_images = 64;
  std::string calibration_method = "percentile";
};

class Featurizer {
 public:
  virtual ~Featurizer() = default;
  virtual const image::Preprocessing& preprocessing() const = 0;
  virtual int64_t feature_dim() const = 0;
  // images: n preprocessed images, each preprocessing().values_per_image() floats in preprocessing().layout;
  // features: n rows of feature_dim() floats (row-major). Thread-safe.
  virtual void featurize(const float* images, int64_t n, float* features) const = 0;
  // Everything needed to rebuild and verify this featuriser: spec fields, model path, model sha256, layer.
  virtual nlohmann::json describe() const = 0;
};

// The factory: "pixels" and friends here, model files and names through the nn engine.
std::unique_ptr<Featurizer> make_featurizer(const FeaturizerSpec& spec);

}  // namespace xfer::featurize
