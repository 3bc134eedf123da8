#include "image/encode.h"

#include <cstring>
#include <fstream>

#include <png.h>
#include <turbojpeg.h>

#include "util/error.h"

namespace xfer::image {

void write_png(const std::filesystem::path& path, const uint8_t* pixels, int width, int height, int channels) {
  if (channels != 1 && channels != 3) fail("{}: cannot write a PNG with {} channels", path.string(), channels);
  // libpng's simplified API: no setjmp, errors come back in image.message.
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  if (!png_image_write_to_file(&image, path.c_str(), 0, pixels, 0, nullptr))
    fail("{}: cannot write PNG: {}", path.string(), image.message);
  png_image_free(&image);
}

std::vector<uint8_t> encode_jpeg(const uint8_t* pixels, int width, int height, int channels, int quality,
                                 const std::string& name) {
  if (channels != 1 && channels != 3) fail("{}: cannot encode a JPEG with {} channels", name, channels);
  tjhandle tj = tjInitCompress();
  if (!tj) fail("{}: cannot create a JPEG compressor", name);
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  const int ok = tjCompress2(tj, pixels, width, 0, height, channels == 1 ? TJPF_GRAY : TJPF_RGB, &jpeg, &size,
                             channels == 1 ? TJSAMP_GRAY : TJSAMP_420, quality, TJFLAG_ACCURATEDCT);
  std::string error = ok == 0 ? "" : tjGetErrorStr2(tj);
  tjDestroy(tj);
  if (ok != 0) {
    tjFree(jpeg);
    fail("{}: cannot encode JPEG: {}", name, error);
  }
  std::vector<uint8_t> bytes(jpeg, jpeg + size);
  tjFree(jpeg);
  return bytes;
}

void write_jpeg(const std::filesystem::path& path, const uint8_t* pixels, int width, int height, int channels,
                int quality) {
  const auto bytes = encode_jpeg(pixels, width, height, channels, quality, path.string());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) fail("{}: cannot write: {}", path.string(), std::strerror(errno));
}

}  // namespace xfer::image
