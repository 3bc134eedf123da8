#include "featurize/featurizer.h"

#include "featurize/model_featurizer.h"
#include "featurize/pixels_featurizer.h"

namespace xfer::featurize {

std::unique_ptr<Featurizer> make_featurizer(const FeaturizerSpec& spec) {
  if (is_pixels_spec(spec.model)) return make_pixels_featurizer(spec);
  return make_model_featurizer(spec);
}

}  // namespace xfer::featurize
