#pragma once
// The featurisation runner: images on disk -> a FeatureSet, in batches. Decoding and preprocessing run in
// parallel on a pool of threads; each full batch then goes through Featurizer::featurize (thread-safe, may use
// its own threads). Bad images (zero bytes, truncated, corrupt, not an image, over the pixel limit) are skipped
// with one warning each naming the file and the reason, and listed in FeatureSet::skipped. The output order is
// the input order (minus the skipped images) whatever the number of threads. A progress bar shows images/s
// and the ETA on a terminal, one summary line otherwise.
#include <cstdint>
#include <string>
#include <vector>

#include "data/feature_set.h"
#include "data/image_folder.h"
#include "featurize/featurizer.h"
#include "image/decode.h"

namespace xfer::featurize {

struct FeaturizeOptions {
  int batch = 32;     // images per Featurizer::featurize call
  int threads = 0;    // decode/preprocess threads; 0: all cores
  int64_t max_pixels = image::kDefaultMaxPixels;
  bool jpeg_dct_scaling = true;  // decode big JPEGs at a reduced DCT scale still >= the model's input size
  bool progress = true;
};

// class_names is copied into the result (labels of the samples index it). Never throws for a bad image;
// throws Error if the featuriser itself fails.
data::FeatureSet featurize_samples(const std::vector<data::Sample>& samples,
                                   const std::vector<std::string>& class_names, const Featurizer& featurizer,
                                   const FeaturizeOptions& options = {});

// Decodes and preprocesses one image into featurizer input (preprocessing().values_per_image() floats).
// Throws image::ImageError for a bad image.
void load_image_input(const std::filesystem::path& path, const image::Preprocessing& preprocessing, float* out,
                      const FeaturizeOptions& options = {});

}  // namespace xfer::featurize
