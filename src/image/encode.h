#pragma once
// Writing 8-bit images (for data set import and test fixtures): PNG through libpng, JPEG through TurboJPEG.
// pixels: height rows of width * channels samples, top to bottom; channels 1 (grey) or 3 (RGB).
#include <cstdint>
#include <filesystem>

namespace xfer::image {

// Both write the file directly (not atomically: callers import into a temporary folder). Throw Error naming it.
void write_png(const std::filesystem::path& path, const uint8_t* pixels, int width, int height, int channels);
void write_jpeg(const std::filesystem::path& path, const uint8_t* pixels, int width, int height, int channels,
                int quality = 95);

}  // namespace xfer::image
