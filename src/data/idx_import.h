#pragma once
// MNIST-format IDX files (http://yann.lecun.com/exdb/mnist/ layout: big-endian magic 0x00000803 + n, rows,
// cols for images; 0x00000801 + n for labels), gzip-compressed or plain (zlib reads both), and their import
// into an ImageFolder: OUT/<class>/<index>.png (or .jpg), index = position in the IDX file, zero-padded so that
// sorting by name keeps the file order.
//
// The import is all or nothing: images are written into a temporary sibling folder OUT.partial-<pid>, a marker
// OUT/.xfer-import.json is written last, then the folder is renamed to OUT. An OUT that already holds a marker
// with the same inputs and options is reported as done; any other existing OUT is refused.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace xfer::data {

struct IdxImages {
  int64_t count = 0;
  int rows = 0;
  int cols = 0;
  std::vector<uint8_t> pixels;  // count * rows * cols, image i at pixels[i * rows * cols], row-major
};

// limit >= 0: read only the first `limit` items. Throw Error naming the file on a bad magic, truncation, etc.
IdxImages read_idx_images(const std::filesystem::path& path, int64_t limit = -1);
std::vector<uint8_t> read_idx_labels(const std::filesystem::path& path, int64_t limit = -1);

// Fashion-MNIST's ten classes as folder names, in label order. "T-shirt/top" cannot be a folder name, so it is
// "t-shirt_top"; the others are lower-case with "_" for spaces: t-shirt_top, trouser, pullover, dress, coat,
// sandal, shirt, sneaker, bag, ankle_boot.
const std::vector<std::string>& fashion_mnist_class_names();

struct IdxImportOptions {
  std::filesystem::path images;
  std::filesystem::path labels;
  std::filesystem::path out;
  // Folder name per label value; empty: the label numbers ("0", "1", ...). The single name "fashion-mnist"
  // stands for fashion_mnist_class_names().
  std::vector<std::string> class_names;
  std::string format = "png";  // png | jpeg
  int64_t limit = -1;          // first N images in file order; -1: all
  int threads = 0;             // 0: all cores
};

struct IdxImportResult {
  int64_t images = 0;
  std::vector<std::string> class_names;
  std::vector<int64_t> per_class;
  bool already_done = false;  // OUT held a complete import of the same inputs
};

IdxImportResult import_idx(const IdxImportOptions& options);

}  // namespace xfer::data
