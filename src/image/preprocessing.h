#pragma once
// How a model wants its images: a property of the model, stored in the pipeline file so that predict
// prepares new images exactly as training did.
#include <string>

#include <nlohmann/json.hpp>

namespace xfer::image {

enum class ResizeMethod { bilinear, area, nearest };
// tf: x/127.5 - 1;  caffe: RGB->BGR then minus ImageNet means;  torch: x/255 then ImageNet mean/std;
// none: raw 0..255 values (the `pixels` featuriser).
enum class Normalization { none, tf, caffe, torch };
enum class Layout { nchw, nhwc };

struct Preprocessing {
  int width = 0;
  int height = 0;
  int channels = 3;  // 1: luma (ITU-R BT.601, as PIL's convert("L")); 3: RGB
  ResizeMethod resize = ResizeMethod::bilinear;
  Normalization normalization = Normalization::none;
  Layout layout = Layout::nchw;

  size_t values_per_image() const { return static_cast<size_t>(width) * height * channels; }
};

nlohmann::json to_json(const Preprocessing& p);
Preprocessing preprocessing_from_json(const nlohmann::json& j);  // throws Error on unknown values
ResizeMethod resize_method_from_string(const std::string& s);
Normalization normalization_from_string(const std::string& s);
std::string to_string(ResizeMethod m);
std::string to_string(Normalization n);

}  // namespace xfer::image
