#pragma once
// The `pixels` featuriser: the preprocessed image itself, flattened, as the feature vector (the published
// Fashion-MNIST logistic-regression baseline works on these raw pixels).
//   "pixels"            28x28 luma, normalisation none (values 0..255), dim 784
//   "pixels:WxH"        W x H luma, dim W*H
//   "pixels:WxH:rgb"    W x H RGB, dim W*H*3, laid out HWC (pixel-major: r, g, b of pixel 0, then pixel 1, ...)
//   "pixels:WxH:gray"   same as "pixels:WxH"
// Resize method: area (the right filter for shrinking). Row i, component (y * W + x) * C + c.
#include <memory>
#include <string>

#include "featurize/featurizer.h"

namespace xfer::featurize {

bool is_pixels_spec(const std::string& model);
std::unique_ptr<Featurizer> make_pixels_featurizer(const FeaturizerSpec& spec);  // throws UsageError

}  // namespace xfer::featurize
