#include "image/preprocessing.h"

#include "util/error.h"

namespace xfer::image {

std::string to_string(ResizeMethod m) {
  switch (m) {
    case ResizeMethod::bilinear: return "bilinear";
    case ResizeMethod::area: return "area";
    case ResizeMethod::nearest: return "nearest";
  }
  return "?";
}

std::string to_string(Normalization n) {
  switch (n) {
    case Normalization::none: return "none";
    case Normalization::tf: return "tf";
    case Normalization::caffe: return "caffe";
    case Normalization::torch: return "torch";
  }
  return "?";
}

ResizeMethod resize_method_from_string(const std::string& s) {
  if (s == "bilinear") return ResizeMethod::bilinear;
  if (s == "area") return ResizeMethod::area;
  if (s == "nearest") return ResizeMethod::nearest;
  fail("unknown resize method '{}' (expected bilinear, area or nearest)", s);
}

Normalization normalization_from_string(const std::string& s) {
  if (s == "none") return Normalization::none;
  if (s == "tf") return Normalization::tf;
  if (s == "caffe") return Normalization::caffe;
  if (s == "torch") return Normalization::torch;
  fail("unknown normalization '{}' (expected none, tf, caffe or torch)", s);
}

nlohmann::json to_json(const Preprocessing& p) {
  return {{"width", p.width},
          {"height", p.height},
          {"channels", p.channels},
          {"resize", to_string(p.resize)},
          {"normalization", to_string(p.normalization)},
          {"layout", p.layout == Layout::nchw ? "nchw" : "nhwc"}};
}

Preprocessing preprocessing_from_json(const nlohmann::json& j) {
  try {
    Preprocessing p;
    p.width = j.at("width").get<int>();
    p.height = j.at("height").get<int>();
    p.channels = j.at("channels").get<int>();
    p.resize = resize_method_from_string(j.at("resize").get<std::string>());
    p.normalization = normalization_from_string(j.at("normalization").get<std::string>());
    const auto layout = j.at("layout").get<std::string>();
    if (layout == "nchw")
      p.layout = Layout::nchw;
    else if (layout == "nhwc")
      p.layout = Layout::nhwc;
    else
      fail("unknown layout '{}' (expected nchw or nhwc)", layout);
    if (p.width <= 0 || p.height <= 0 || (p.channels != 1 && p.channels != 3))
      fail("invalid preprocessing: {}x{} with {} channels", p.width, p.height, p.channels);
    return p;
  } catch (const nlohmann::json::exception& e) {
    fail("invalid preprocessing settings {}: {}", j.dump(), e.what());
  }
}

}  // namespace xfer::image
