#include "image/preprocess.h"

#include <array>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace xfer::image {
namespace {

int interpolation(ResizeMethod m) {
  switch (m) {
    case ResizeMethod::bilinear: return cv::INTER_LINEAR;
    case ResizeMethod::area: return cv::INTER_AREA;
    case ResizeMethod::nearest: return cv::INTER_NEAREST;
  }
  return cv::INTER_LINEAR;
}

// Per output channel: value = sample * scale[c] + shift[c] (sample on the 0..255 scale), and which source
// channel feeds it (caffe wants BGR).
struct Affine {
  std::array<float, 3> scale{1, 1, 1};
  std::array<float, 3> shift{0, 0, 0};
  std::array<int, 3> source{0, 1, 2};
};

Affine affine_for(Normalization n, int channels) {
  Affine a;
  // ImageNet statistics in RGB order. A one-channel (luma) input uses their average: the model was trained on
  // colour images, and luma is a weighted average of the colour channels.
  constexpr std::array<float, 3> kCaffeMeanRgb{123.68f, 116.779f, 103.939f};
  constexpr std::array<float, 3> kTorchMean{0.485f, 0.456f, 0.406f};
  constexpr std::array<float, 3> kTorchStd{0.229f, 0.224f, 0.225f};
  auto avg = [](const std::array<float, 3>& v) { return (v[0] + v[1] + v[2]) / 3.0f; };
  for (int c = 0; c < 3; ++c) {
    const auto i = static_cast<size_t>(c);
    switch (n) {
      case Normalization::none: break;
      case Normalization::tf:
        a.scale[i] = 1.0f / 127.5f;
        a.shift[i] = -1.0f;
        break;
      case Normalization::caffe:
        a.source[i] = channels == 3 ? 2 - c : 0;
        a.shift[i] = channels == 3 ? -kCaffeMeanRgb[static_cast<size_t>(2 - c)] : -avg(kCaffeMeanRgb);
        break;
      case Normalization::torch: {
        const float mean = channels == 3 ? kTorchMean[i] : avg(kTorchMean);
        const float sd = channels == 3 ? kTorchStd[i] : avg(kTorchStd);
        a.scale[i] = 1.0f / (255.0f * sd);
        a.shift[i] = -mean / sd;
        break;
      }
    }
  }
  return a;
}

template <typename T>
void write_floats(const cv::Mat& resized, const Preprocessing& p, float* out) {
  // 16-bit samples / 257 map 0..65535 onto 0..255 exactly at both ends (65535 / 257 = 255).
  const float to_255 = sizeof(T) == 2 ? 1.0f / 257.0f : 1.0f;
  const Affine a = affine_for(p.normalization, p.channels);
  const int src_channels = resized.channels();
  const size_t plane = static_cast<size_t>(p.width) * static_cast<size_t>(p.height);
  for (int y = 0; y < p.height; ++y) {
    const T* row = resized.ptr<T>(y);
    for (int x = 0; x < p.width; ++x) {
      const size_t pixel = static_cast<size_t>(y) * static_cast<size_t>(p.width) + static_cast<size_t>(x);
      for (int c = 0; c < p.channels; ++c) {
        const auto ci = static_cast<size_t>(c);
        // A grey source feeds every output channel.
        const int src_c = src_channels == 1 ? 0 : a.source[ci];
        const float v = static_cast<float>(row[x * src_channels + src_c]) * to_255 * a.scale[ci] + a.shift[ci];
        if (p.layout == Layout::nchw)
          out[ci * plane + pixel] = v;
        else
          out[pixel * static_cast<size_t>(p.channels) + ci] = v;
      }
    }
  }
}

}  // namespace

void preprocess(const DecodedImage& image, const Preprocessing& p, float* out) {
  if (p.width <= 0 || p.height <= 0 || (p.channels != 1 && p.channels != 3))
    fail("invalid preprocessing: {}x{} with {} channels", p.width, p.height, p.channels);
  if (image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3))
    fail("invalid decoded image: {}x{} with {} channels", image.width, image.height, image.channels);
  const bool wide = image.depth == 16;
  void* data = wide ? static_cast<void*>(const_cast<uint16_t*>(image.samples16.data()))
                    : static_cast<void*>(const_cast<uint8_t*>(image.samples8.data()));
  const cv::Mat source(image.height, image.width, CV_MAKETYPE(wide ? CV_16U : CV_8U, image.channels), data);

  // Luma before resizing (as PIL's convert("L") then resize): a third of the resize work.
  cv::Mat colour = source;
  if (p.channels == 1 && image.channels == 3) cv::cvtColor(source, colour, cv::COLOR_RGB2GRAY);

  cv::Mat resized = colour;
  if (colour.cols != p.width || colour.rows != p.height)
    cv::resize(colour, resized, cv::Size(p.width, p.height), 0, 0, interpolation(p.resize));

  if (wide)
    write_floats<uint16_t>(resized, p, out);
  else
    write_floats<uint8_t>(resized, p, out);
}

DecodeOptions decode_options_for(const Preprocessing& p, int64_t max_pixels) {
  DecodeOptions options;
  options.max_pixels = max_pixels;
  options.min_width = p.width;
  options.min_height = p.height;
  return options;
}

}  // namespace xfer::image
