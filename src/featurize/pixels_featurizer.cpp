#include "featurize/pixels_featurizer.h"

#include <cstring>
#include <regex>

#include "util/error.h"

namespace xfer::featurize {
namespace {

class PixelsFeaturizer final : public Featurizer {
 public:
  PixelsFeaturizer(std::string model, image::Preprocessing preprocessing)
      : model_(std::move(model)), preprocessing_(preprocessing) {}

  const image::Preprocessing& preprocessing() const override { return preprocessing_; }
  int64_t feature_dim() const override { return static_cast<int64_t>(preprocessing_.values_per_image()); }
  void featurize(const float* images, int64_t n, float* features) const override {
    if (n > 0) std::memcpy(features, images, static_cast<size_t>(n) * preprocessing_.values_per_image() * sizeof(float));
  }
  nlohmann::json describe() const override {
    return {{"kind", "pixels"},
            {"model", model_},
            {"feature_dim", feature_dim()},
            {"preprocessing", image::to_json(preprocessing_)}};
  }

 private:
  std::string model_;
  image::Preprocessing preprocessing_;
};

}  // namespace

bool is_pixels_spec(const std::string& model) { return model == "pixels" || model.starts_with("pixels:"); }

std::unique_ptr<Featurizer> make_pixels_featurizer(const FeaturizerSpec& spec) {
  if (!is_pixels_spec(spec.model)) usage_fail("'{}' is not a pixels featuriser", spec.model);
  if (!spec.layer.empty()) usage_fail("--layer '{}': the pixels featuriser has no layers", spec.layer);
  image::Preprocessing p;
  p.width = 28;
  p.height = 28;
  p.channels = 1;
  p.resize = image::ResizeMethod::area;
  p.normalization = image::Normalization::none;
  p.layout = image::Layout::nhwc;  // pixel-major, like a flattened H x W x C array
  if (spec.model != "pixels") {
    static const std::regex pattern(R"(pixels:([0-9]{1,4})x([0-9]{1,4})(:(rgb|gray))?)");
    std::smatch m;
    if (!std::regex_match(spec.model, m, pattern))
      usage_fail("--model '{}': expected pixels, pixels:WxH or pixels:WxH:rgb (e.g. pixels:32x32:rgb)", spec.model);
    p.width = std::stoi(m[1].str());
    p.height = std::stoi(m[2].str());
    p.channels = m[4].str() == "rgb" ? 3 : 1;
    if (p.width < 1 || p.height < 1) usage_fail("--model '{}': the size must be at least 1x1", spec.model);
  }
  const std::string canonical =
      p.width == 28 && p.height == 28 && p.channels == 1
          ? "pixels"
          : "pixels:" + std::to_string(p.width) + "x" + std::to_string(p.height) + (p.channels == 3 ? ":rgb" : "");
  return std::make_unique<PixelsFeaturizer>(canonical, p);
}

}  // namespace xfer::featurize
