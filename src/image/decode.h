#pragma once
// Decoding JPEG (libjpeg-turbo's TurboJPEG API) and PNG (libpng) files into pixels, strictly: a truncated or
// corrupt file is an ImageError naming the file and the reason, never a silently grey image.
//
// Data convention: DecodedImage holds `channels` interleaved samples per pixel, rows top to bottom, pixel
// (x, y) channel c at index (y * width + x) * channels + c. channels is 1 (grey sources stay grey: expanding
// to RGB is exact and is done by preprocess()) or 3 (RGB, in that order). Alpha is dropped (not composited),
// as PIL's convert("RGB") does. 16-bit PNGs keep their 16 bits (depth == 16, samples in `samples16`, host
// byte order); everything else is depth 8 in `samples8`. EXIF orientation (JPEG APP1, PNG eXIf) is applied,
// so width/height are those of the upright image.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "util/error.h"

namespace xfer::image {

inline constexpr int64_t kDefaultMaxPixels = 100'000'000;  // 100 megapixels

// A file that cannot be decoded. what() is "<file>: <reason>"; reason() is the reason alone (for reports).
class ImageError : public Error {
 public:
  ImageError(const std::string& file, const std::string& reason)
      : Error(file + ": " + reason), file_(file), reason_(reason) {}
  const std::string& file() const { return file_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string file_;
  std::string reason_;
};

struct DecodedImage {
  int width = 0;
  int height = 0;
  int channels = 0;  // 1 (grey) or 3 (RGB)
  int depth = 8;     // 8 or 16 bits per sample
  std::vector<uint8_t> samples8;    // depth 8
  std::vector<uint16_t> samples16;  // depth 16
  int exif_orientation = 1;         // the EXIF orientation tag that was applied (1 = none)
};

struct DecodeOptions {
  // Images with more pixels than this (width * height from the header) are refused before any decoding.
  int64_t max_pixels = kDefaultMaxPixels;
  // When > 0, a JPEG may be decoded at a reduced DCT scale (1/2, 1/4, 1/8, ...) as long as the result is still
  // at least min_width x min_height (upright). Decoding a 1500x1200 JPEG at 1/4 costs a fraction of the full
  // decode, and the resize that follows has less to do: the big speed win for CNN inputs of 224..299 pixels.
  int min_width = 0;
  int min_height = 0;
};

enum class ImageFormat { unknown, jpeg, png };

// Sniffs the magic bytes (the file name's extension is not trusted).
ImageFormat detect_format(std::span<const uint8_t> bytes);

// Decodes a file / an in-memory file. `name` is used in error messages. Throws ImageError.
DecodedImage decode_image(const std::filesystem::path& path, const DecodeOptions& options = {});
DecodedImage decode_image_bytes(std::span<const uint8_t> bytes, const std::string& name,
                                const DecodeOptions& options = {});

}  // namespace xfer::image
