#include "image/thumbnail.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "image/decode.h"
#include "image/encode.h"

namespace xfer::image {

Thumbnail jpeg_thumbnail(const std::filesystem::path& path, int max_side, int quality) {
  DecodeOptions options;
  options.min_width = options.min_height = max_side;  // a big JPEG may be decoded at a reduced DCT scale
  const DecodedImage image = decode_image(path, options);
  const int type = image.channels == 1 ? CV_8UC1 : CV_8UC3;
  cv::Mat pixels(image.height, image.width, type);
  if (image.depth == 16) {
    const cv::Mat wide(image.height, image.width, image.channels == 1 ? CV_16UC1 : CV_16UC3,
                       const_cast<uint16_t*>(image.samples16.data()));
    wide.convertTo(pixels, type, 1.0 / 257.0);
  } else {
    cv::Mat(image.height, image.width, type, const_cast<uint8_t*>(image.samples8.data())).copyTo(pixels);
  }
  const double scale = static_cast<double>(max_side) / std::max(image.width, image.height);
  if (scale < 1.0) {
    cv::Mat small;
    const int w = std::max(1, static_cast<int>(std::lround(image.width * scale)));
    const int h = std::max(1, static_cast<int>(std::lround(image.height * scale)));
    cv::resize(pixels, small, cv::Size(w, h), 0, 0, cv::INTER_AREA);
    pixels = small;
  }
  Thumbnail t;
  t.width = pixels.cols;
  t.height = pixels.rows;
  t.jpeg = encode_jpeg(pixels.ptr<uint8_t>(0), t.width, t.height, image.channels, quality, path.string());
  return t;
}

}  // namespace xfer::image
