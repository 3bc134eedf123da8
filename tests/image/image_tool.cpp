// Test helper: runs xfer's decoder / preprocessing on one file and writes the result as .npy (float32), so a
// Python test can compare it with OpenCV and numpy. Prints a JSON line with the image's properties; on a bad
// image prints the error message and exits 1.
//   image_tool decode FILE OUT.npy [--min WxH] [--max-pixels N]       -> shape [height, width, channels]
//   image_tool preprocess FILE OUT.npy W H C RESIZE NORM LAYOUT        -> shape [values]
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "image/decode.h"
#include "image/preprocess.h"
#include "util/npy.h"

using namespace xfer;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: image_tool decode|preprocess FILE OUT.npy ...\n");
    return 2;
  }
  const std::string mode = argv[1];
  try {
    if (mode == "decode") {
      image::DecodeOptions options;
      for (int i = 4; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--min") == 0) std::sscanf(argv[i + 1], "%dx%d", &options.min_width, &options.min_height);
        if (std::strcmp(argv[i], "--max-pixels") == 0) options.max_pixels = std::stoll(argv[i + 1]);
      }
      const auto img = image::decode_image(argv[2], options);
      std::vector<float> values(static_cast<size_t>(img.width) * img.height * img.channels);
      for (size_t i = 0; i < values.size(); ++i)
        values[i] = img.depth == 16 ? static_cast<float>(img.samples16[i]) : static_cast<float>(img.samples8[i]);
      write_npy(argv[3], values.data(), {img.height, img.width, img.channels});
      std::printf("%s\n", nlohmann::json{{"width", img.width}, {"height", img.height}, {"channels", img.channels},
                                         {"depth", img.depth}, {"orientation", img.exif_orientation}}
                              .dump()
                              .c_str());
    } else if (mode == "preprocess" && argc >= 10) {
      image::Preprocessing p;
      p.width = std::stoi(argv[4]);
      p.height = std::stoi(argv[5]);
      p.channels = std::stoi(argv[6]);
      p.resize = image::resize_method_from_string(argv[7]);
      p.normalization = image::normalization_from_string(argv[8]);
      p.layout = std::string(argv[9]) == "nhwc" ? image::Layout::nhwc : image::Layout::nchw;
      const auto img = image::decode_image(argv[2]);
      std::vector<float> out(p.values_per_image());
      image::preprocess(img, p, out.data());
      write_npy(argv[3], out.data(), {static_cast<int64_t>(out.size())});
      std::printf("%s\n", image::to_json(p).dump().c_str());
    } else {
      std::fprintf(stderr, "image_tool: bad arguments\n");
      return 2;
    }
  } catch (const std::exception& e) {
    std::printf("ERROR %s\n", e.what());
    return 1;
  }
  return 0;
}
