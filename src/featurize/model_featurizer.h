#pragma once
// Featurisers backed by the nn engine: a model file (.onnx, Keras .h5, TF.js model.json) or a built-in name,
// cut after the chosen layer and pooled. make_featurizer() hands every spec that is not `pixels` to this.
#include <memory>

#include "featurize/featurizer.h"

namespace xfer::featurize {

std::unique_ptr<Featurizer> make_model_featurizer(const FeaturizerSpec& spec);

}  // namespace xfer::featurize
