// Decode + resize throughput of xfer's image path (TurboJPEG with DCT scaling, OpenCV resize, float output),
// over every .jpg in a folder, on N threads. Prints one JSON line; bench_decode.py runs it beside OpenCV's Python
// binding on the same files.
//   bench_image_decode FOLDER THREADS WIDTH HEIGHT [--no-dct-scaling]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <omp.h>

#include "featurize/featurize_samples.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: bench_image_decode FOLDER THREADS WIDTH HEIGHT [--no-dct-scaling]\n");
    return 2;
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(argv[1]))
    if (e.path().extension() == ".jpg") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  const int threads = std::stoi(argv[2]);
  xfer::image::Preprocessing p;
  p.width = std::stoi(argv[3]);
  p.height = std::stoi(argv[4]);
  p.channels = 3;
  p.resize = xfer::image::ResizeMethod::bilinear;
  p.layout = xfer::image::Layout::nhwc;
  xfer::featurize::FeaturizeOptions options;
  options.jpeg_dct_scaling = !(argc > 5 && std::strcmp(argv[5], "--no-dct-scaling") == 0);

  // One output buffer per thread, reused, as the featurisation runner does with its batch buffer.
  std::vector<std::vector<float>> out(static_cast<size_t>(threads), std::vector<float>(p.values_per_image()));
  double checksum = 0;
  const auto start = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(+ : checksum)
  for (size_t i = 0; i < files.size(); ++i) {
    auto& buffer = out[static_cast<size_t>(omp_get_thread_num())];
    xfer::featurize::load_image_input(files[i], p, buffer.data(), options);
    checksum += buffer[0];
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s\n", nlohmann::json{{"images", files.size()},
                                     {"seconds", seconds},
                                     {"images_per_second", static_cast<double>(files.size()) / seconds},
                                     {"dct_scaling", options.jpeg_dct_scaling},
                                     {"checksum", checksum}}
                          .dump()
                          .c_str());
  return 0;
}
