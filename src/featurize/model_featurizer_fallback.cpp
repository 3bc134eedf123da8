// Linked only while src/featurize/model_featurizer.cpp (the nn engine's featuriser) does not exist yet:
// every spec other than `pixels` is then a clear usage error instead of a link failure.
#include "featurize/model_featurizer.h"

#include "util/error.h"

namespace xfer::featurize {

std::unique_ptr<Featurizer> make_model_featurizer(const FeaturizerSpec& spec) {
  usage_fail("--model '{}': this build has no CNN featuriser yet; use pixels, pixels:WxH or pixels:WxH:rgb",
             spec.model);
}

}  // namespace xfer::featurize
