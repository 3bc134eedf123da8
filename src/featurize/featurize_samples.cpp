#include "featurize/featurize_samples.h"

#include <algorithm>
#include <cstring>

#include <omp.h>
#include <spdlog/spdlog.h>

#include "image/preprocess.h"
#include "util/error.h"
#include "util/job_events.h"
#include "util/progress.h"

namespace xfer::featurize {

void load_image_input(const std::filesystem::path& path, const image::Preprocessing& preprocessing, float* out,
                      const FeaturizeOptions& options) {
  image::DecodeOptions decode;
  decode.max_pixels = options.max_pixels;
  if (options.jpeg_dct_scaling) decode = image::decode_options_for(preprocessing, options.max_pixels);
  const auto decoded = image::decode_image(path, decode);
  image::preprocess(decoded, preprocessing, out);
}

data::FeatureSet featurize_samples(const std::vector<data::Sample>& samples,
                                   const std::vector<std::string>& class_names, const Featurizer& featurizer,
                                   const FeaturizeOptions& options) {
  const auto& preprocessing = featurizer.preprocessing();
  const size_t per_image = preprocessing.values_per_image();
  const int64_t dim = featurizer.feature_dim();
  const int batch = std::max(1, options.batch);
  const int threads = options.threads > 0 ? options.threads : omp_get_num_procs();
  const int64_t n = static_cast<int64_t>(samples.size());

  data::FeatureSet result;
  result.dim = dim;
  result.class_names = class_names;
  result.featurizer = featurizer.describe();
  result.features.reserve(static_cast<size_t>(n * dim));
  result.labels.reserve(samples.size());
  result.paths.reserve(samples.size());

  // One batch of inputs, reused: pages touched once (a fresh buffer per batch costs more than the copy).
  std::vector<float> inputs(static_cast<size_t>(batch) * per_image);
  std::vector<std::string> errors(static_cast<size_t>(batch));
  std::vector<char> ok(static_cast<size_t>(batch));
  Progress progress("featurize", options.progress ? n : 0, "images");

  for (int64_t start = 0; start < n; start += batch) {
    const int m = static_cast<int>(std::min<int64_t>(batch, n - start));
    // Decoding and preprocessing: independent per image, each into its own slot, so the order never changes.
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int i = 0; i < m; ++i) {
      const auto slot = static_cast<size_t>(i);
      try {
        load_image_input(samples[static_cast<size_t>(start + i)].path, preprocessing,
                         inputs.data() + slot * per_image, options);
        ok[slot] = 1;
      } catch (const image::ImageError& e) {
        errors[slot] = e.reason();
        ok[slot] = 0;
      } catch (const std::exception& e) {
        errors[slot] = e.what();
        ok[slot] = 0;
      }
    }
    // Pack the good images together, in order, and note the bad ones (one warning each).
    int64_t valid = 0;
    for (int i = 0; i < m; ++i) {
      const auto slot = static_cast<size_t>(i);
      const auto& sample = samples[static_cast<size_t>(start + i)];
      if (!ok[slot]) {
        spdlog::warn("skipping {}: {}", sample.path.string(), errors[slot]);
        job_events::skipped(sample.path.string(), errors[slot]);
        result.skipped.push_back({sample.path, errors[slot]});
        continue;
      }
      if (valid != i)
        std::memmove(inputs.data() + static_cast<size_t>(valid) * per_image, inputs.data() + slot * per_image,
                     per_image * sizeof(float));
      result.labels.push_back(sample.label);
      result.paths.push_back(sample.path.string());
      ++valid;
    }
    if (valid > 0) {
      const size_t offset = result.features.size();
      result.features.resize(offset + static_cast<size_t>(valid * dim));
      featurizer.featurize(inputs.data(), valid, result.features.data() + offset);
    }
    progress.advance(m);
  }
  progress.finish();
  result.rows = static_cast<int64_t>(result.labels.size());
  if (!result.skipped.empty())
    spdlog::warn("featurize: {} of {} images skipped (listed above)", result.skipped.size(), n);
  return result;
}

}  // namespace xfer::featurize
