#pragma once
// Small JPEG thumbnails of image files, for reports: decoded strictly (decode.h), 16-bit samples reduced to 8,
// shrunk with OpenCV's INTER_AREA so the longer side is at most max_side (never enlarged: a 28x28 image stays
// 28x28 and the page scales it), and encoded by TurboJPEG. Grey stays grey.
#include <cstdint>
#include <filesystem>
#include <vector>

namespace xfer::image {

struct Thumbnail {
  int width = 0, height = 0;
  std::vector<uint8_t> jpeg;
};

// Throws ImageError naming the file when it cannot be decoded.
Thumbnail jpeg_thumbnail(const std::filesystem::path& path, int max_side = 128, int quality = 80);

}  // namespace xfer::image
