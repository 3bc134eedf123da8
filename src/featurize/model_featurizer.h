#pragma once
// Featurisers backed by the nn engine: a model file (.onnx, Keras .h5, TF.js model.json) or a built-in name,
// cut after the chosen layer and pooled. make_featurizer() hands every spec that is not `pixels` to this.
#include <filesystem>
#include <memory>
#include <vector>

#include "nn/calibration.h"

#include "featurize/featurizer.h"

namespace xfer::featurize {

std::unique_ptr<Featurizer> make_model_featurizer(const FeaturizerSpec& spec);

// int8: the activation ranges of the spec's feature graph, measured in fp32 on these images (decoded and
// preprocessed as featurisation does; an unreadable one is skipped with a warning).
nn::Calibration calibrate_model_featurizer(const FeaturizerSpec& spec, const std::vector<std::filesystem::path>& images);

}  // namespace xfer::featurize
