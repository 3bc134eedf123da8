#pragma once
// Writing 8-bit images (for data set import and test fixtures): PNG through libpng, JPEG through TurboJPEG.
// pixels: height rows of width * channels samples, top to bottom; channels 1 (grey) or 3 (RGB).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace xfer::image {

// Both write the file directly (not atomically: callers import into a temporary folder). Throw Error naming it.
void write_png(const std::filesystem::path& path, const uint8_t* pixels, int width, int height, int channels);
void write_jpeg(const std::filesystem::path& path, const uint8_t* pixels, int width, int height, int channels,
                int quality = 95);

// The JPEG file's bytes in memory (TurboJPEG), e.g. for a thumbnail embedded in a report. `name` is used in errors.
std::vector<uint8_t> encode_jpeg(const uint8_t* pixels, int width, int height, int channels, int quality,
                                 const std::string& name);

}  // namespace xfer::image
