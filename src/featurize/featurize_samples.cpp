#include "featurize/featurize_samples.h"

#include <algorithm>
#include <cstring>

#include <omp.h>
#include <spdlog/spdlog.h>

#include "image/preprocess.h"
#include "util/error.h"
#include "util/interrupt.h"
#include "util/progress.h"

namespace xfer::featurize {
namespace {

image::DecodeOptions decode_options(const image::Preprocessing& preprocessing, const FeaturizeOptions& options) {
  image::DecodeOptions decode;
  decode.max_pixels = options.max_pixels;
  if (options.jpeg_dct_scaling) decode = image::decode_options_for(preprocessing, options.max_pixels);
  return decode;
}

}  // namespace

void load_image_input(const std::filesystem::path& path, const image::Preprocessing& preprocessing, float* out,
                      const FeaturizeOptions& options) {
  const auto decoded = image::decode_image(path, decode_options(preprocessing, options));
  image::preprocess(decoded, preprocessing, out);
}

void load_image_input_bytes(std::span<const uint8_t> bytes, const std::string& name,
                            const image::Preprocessing& preprocessing, float* out, const FeaturizeOptions& options) {
  const auto decoded = image::decode_image_bytes(bytes, name, decode_options(preprocessing, options));
  image::preprocess(decoded, preprocessing, out);
}

RangeFeatures featurize_range(const std::vector<data::Sample>& samples, int64_t first, int64_t count,
                              const std::vector<StagedImage>* staged, const Featurizer& featurizer,
                              const FeaturizeOptions& options, const std::function<void(int64_t)>& on_images_done) {
  const auto& preprocessing = featurizer.preprocessing();
  const size_t per_image = preprocessing.values_per_image();
  const int64_t dim = featurizer.feature_dim();
  const int batch = std::max(1, options.batch);
  const int threads = options.threads > 0 ? options.threads : omp_get_num_procs();
  if (first < 0 || count < 0 || first + count > static_cast<int64_t>(samples.size()))
    fail("featurize: inputs [{}, {}) are outside the list of {}", first, first + count, samples.size());
  if (staged && static_cast<int64_t>(staged->size()) != count)
    fail("featurize: {} staged images for {} inputs", staged->size(), count);

  RangeFeatures result;
  result.features.reserve(static_cast<size_t>(count * dim));
  // One batch of inputs, reused: pages touched once (a fresh buffer per batch costs more than the copy).
  std::vector<float> inputs(static_cast<size_t>(batch) * per_image);
  std::vector<std::string> errors(static_cast<size_t>(batch));
  std::vector<char> ok(static_cast<size_t>(batch));

  for (int64_t start = 0; start < count; start += batch) {
    throw_if_interrupted("featurize");
    const int m = static_cast<int>(std::min<int64_t>(batch, count - start));
    // Decoding and preprocessing: independent per image, each into its own slot, so the order never changes.
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int i = 0; i < m; ++i) {
      const auto slot = static_cast<size_t>(i);
      const auto& sample = samples[static_cast<size_t>(first + start + i)];
      try {
        float* out = inputs.data() + slot * per_image;
        if (staged) {
          const auto& s = (*staged)[static_cast<size_t>(start + i)];
          if (!s.read_error.empty()) throw image::ImageError(sample.path.string(), s.read_error);
          load_image_input_bytes(s.bytes, sample.path.string(), preprocessing, out, options);
        } else {
          load_image_input(sample.path, preprocessing, out, options);
        }
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
      const int64_t position = first + start + i;
      const auto& sample = samples[static_cast<size_t>(position)];
      if (!ok[slot]) {
        spdlog::warn("skipping {}: {}", sample.path.string(), errors[slot]);
        result.skipped.push_back({sample.path, errors[slot]});
        continue;
      }
      if (valid != i)
        std::memmove(inputs.data() + static_cast<size_t>(valid) * per_image, inputs.data() + slot * per_image,
                     per_image * sizeof(float));
      result.labels.push_back(sample.label);
      result.paths.push_back(sample.path.string());
      result.image_index.push_back(position);
      ++valid;
    }
    if (valid > 0) {
      const size_t offset = result.features.size();
      result.features.resize(offset + static_cast<size_t>(valid * dim));
      featurizer.featurize(inputs.data(), valid, result.features.data() + offset);
    }
    if (on_images_done) on_images_done(m);
  }
  result.rows = static_cast<int64_t>(result.labels.size());
  return result;
}

data::FeatureSet featurize_samples(const std::vector<data::Sample>& samples,
                                   const std::vector<std::string>& class_names, const Featurizer& featurizer,
                                   const FeaturizeOptions& options) {
  const int64_t n = static_cast<int64_t>(samples.size());
  Progress progress("featurize", options.progress ? n : 0, "images");
  auto range = featurize_range(samples, 0, n, nullptr, featurizer, options,
                               [&](int64_t images) { progress.advance(images); });
  progress.finish();
  data::FeatureSet result;
  result.dim = featurizer.feature_dim();
  result.rows = range.rows;
  result.class_names = class_names;
  result.featurizer = featurizer.describe();
  result.features = std::move(range.features);
  result.labels = std::move(range.labels);
  result.paths = std::move(range.paths);
  result.skipped = std::move(range.skipped);
  if (!result.skipped.empty())
    spdlog::warn("featurize: {} of {} images skipped (listed above)", result.skipped.size(), n);
  return result;
}

}  // namespace xfer::featurize
