#include "featurize/int8_calibration.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>

#include "dist/agreement.h"
#include "featurize/model_featurizer.h"
#include "featurize/pixels_featurizer.h"
#include "util/error.h"
#include "util/log.h"

namespace xfer::featurize {

std::vector<std::filesystem::path> calibration_sample(const JobInputs& inputs, int count) {
  std::vector<size_t> order(inputs.samples.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::mt19937_64 rng(20261202);  // fixed: the same data set always calibrates on the same images
  std::shuffle(order.begin(), order.end(), rng);
  order.resize(std::min(order.size(), static_cast<size_t>(std::max(count, 0))));
  std::sort(order.begin(), order.end());
  std::vector<std::filesystem::path> paths;
  for (size_t i : order) paths.push_back(inputs.samples[i].path);
  return paths;
}

void calibrate_everywhere(dist::Communicator& comm, FeaturizerSpec& spec, const JobInputs& inputs) {
  if (spec.precision != "int8" || spec.calibration) return;
  if (is_pixels_spec(spec.model)) usage_fail("--precision int8 is for CNN models, not '{}'", spec.model);
  if (spec.calibration_images < 1) usage_fail("--calibration-images must be at least 1");
  const auto bytes = dist::broadcast_from_root(comm, "int8 calibration", [&] {
    const auto start = std::chrono::steady_clock::now();
    const auto sample = calibration_sample(inputs, spec.calibration_images);
    if (sample.empty()) fail("{}: no images to calibrate int8 on", inputs.root);
    const nn::Calibration c = calibrate_model_featurizer(spec, sample);
    spdlog::info("int8 calibration ({}): {} images of {}, {} value ranges, {:.1f} s", c.method, c.images, inputs.root,
                 c.values.size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    const std::string text = c.to_json().dump();
    return dist::Bytes(text.begin(), text.end());
  });
  spec.calibration = std::make_shared<nn::Calibration>(
      nn::Calibration::from_json(nlohmann::json::parse(std::string(bytes.begin(), bytes.end()))));
}

}  // namespace xfer::featurize
