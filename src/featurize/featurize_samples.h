#pragma once
// The featurisation runner: images -> feature rows, in batches. Decoding and preprocessing run in parallel on
// a pool of threads; each full batch then goes through Featurizer::featurize (thread-safe, may use its own
// threads). Bad images (zero bytes, truncated, corrupt, not an image, over the pixel limit) are skipped with one
// warning each naming the file and the reason, and listed with the rows. The output order is the input order
// (minus the skipped images) whatever the number of threads.
//
// featurize_range does one contiguous range of inputs (a part of a distributed job, see part_queue.h), from
// the files or from encoded bytes another rank read for it; featurize_samples does a whole list in this process
// with a progress bar.
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
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

// An input's encoded file, read by another rank (--stage-data), or why it could not be read.
struct StagedImage {
  std::vector<uint8_t> bytes;
  std::string read_error;  // non-empty: the file could not be read where it was staged
};

// The rows of a range of inputs, in input order.
struct RangeFeatures {
  int64_t rows = 0;
  std::vector<float> features;        // rows x dim
  std::vector<int> labels;            // rows
  std::vector<std::string> paths;     // rows
  std::vector<int64_t> image_index;   // rows: the input position of each row
  std::vector<data::SkippedImage> skipped;
};

// Featurises inputs [first, first + count) of samples. staged, when given, holds those inputs' bytes (staged[i]
// is input first + i). on_images_done(n) is called after each batch with the inputs it covered. Never throws for
// a bad image; throws Error if the featuriser fails and Interrupted (util/interrupt.h) between batches after
// SIGINT/SIGTERM.
RangeFeatures featurize_range(const std::vector<data::Sample>& samples, int64_t first, int64_t count,
                              const std::vector<StagedImage>* staged, const Featurizer& featurizer,
                              const FeaturizeOptions& options,
                              const std::function<void(int64_t)>& on_images_done = {});

// The whole list in this process, with a progress bar. class_names is copied into the result.
data::FeatureSet featurize_samples(const std::vector<data::Sample>& samples,
                                   const std::vector<std::string>& class_names, const Featurizer& featurizer,
                                   const FeaturizeOptions& options = {});

// Decodes and preprocesses one image into featurizer input (preprocessing().values_per_image() floats).
// Throws image::ImageError for a bad image.
void load_image_input(const std::filesystem::path& path, const image::Preprocessing& preprocessing, float* out,
                      const FeaturizeOptions& options = {});
// The same from the file's bytes; `name` names it in errors.
void load_image_input_bytes(std::span<const uint8_t> bytes, const std::string& name,
                            const image::Preprocessing& preprocessing, float* out, const FeaturizeOptions& options = {});

}  // namespace xfer::featurize
