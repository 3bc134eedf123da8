#include "data/idx_import.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <set>
#include <system_error>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <omp.h>
#include <zlib.h>

#include "image/encode.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/progress.h"

namespace xfer::data {
namespace fs = std::filesystem;
namespace {

constexpr const char* kMarker = ".xfer-import.json";

// gzread reads gzip files and passes plain files through unchanged, so one reader serves both.
class IdxReader {
 public:
  explicit IdxReader(const fs::path& path) : path_(path) {
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) fail("{}: cannot open: {}", path.string(), std::strerror(errno));
    gzbuffer(file_, 1 << 20);
  }
  ~IdxReader() {
    if (file_) gzclose(file_);
  }
  IdxReader(const IdxReader&) = delete;
  IdxReader& operator=(const IdxReader&) = delete;

  void read(void* out, size_t size, const char* what) {
    auto* bytes = static_cast<uint8_t*>(out);
    while (size > 0) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(size, 1u << 30));
      const int got = gzread(file_, bytes, chunk);
      if (got < 0) {
        int code = 0;
        fail("{}: cannot read {}: {}", path_.string(), what, gzerror(file_, &code));
      }
      if (got == 0) fail("{}: truncated file (ends while reading {})", path_.string(), what);
      bytes += got;
      size -= static_cast<size_t>(got);
    }
  }
  uint32_t read_u32(const char* what) {
    uint8_t b[4];
    read(b, 4, what);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  }

 private:
  fs::path path_;
  gzFile file_ = nullptr;
};

int64_t take(int64_t available, int64_t limit) { return limit >= 0 ? std::min(available, limit) : available; }

void check_folder_name(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos || name[0] == '.')
    usage_fail("'{}' cannot be a class folder name (no '/', not empty, not starting with '.')", name);
}

}  // namespace

IdxImages read_idx_images(const fs::path& path, int64_t limit) {
  IdxReader in(path);
  const uint32_t magic = in.read_u32("the magic number");
  if (magic != 0x00000803)
    fail("{}: not an IDX image file (magic 0x{:08x}, expected 0x00000803: unsigned bytes, 3 dimensions)",
         path.string(), magic);
  IdxImages images;
  const uint32_t count = in.read_u32("the image count");
  images.rows = static_cast<int>(in.read_u32("the row count"));
  images.cols = static_cast<int>(in.read_u32("the column count"));
  if (images.rows <= 0 || images.cols <= 0 || images.rows > 65536 || images.cols > 65536)
    fail("{}: invalid image size {}x{}", path.string(), images.cols, images.rows);
  images.count = take(count, limit);
  images.pixels.resize(static_cast<size_t>(images.count) * static_cast<size_t>(images.rows) *
                       static_cast<size_t>(images.cols));
  in.read(images.pixels.data(), images.pixels.size(), "the pixels");
  return images;
}

std::vector<uint8_t> read_idx_labels(const fs::path& path, int64_t limit) {
  IdxReader in(path);
  const uint32_t magic = in.read_u32("the magic number");
  if (magic != 0x00000801)
    fail("{}: not an IDX label file (magic 0x{:08x}, expected 0x00000801: unsigned bytes, 1 dimension)",
         path.string(), magic);
  const uint32_t count = in.read_u32("the label count");
  std::vector<uint8_t> labels(static_cast<size_t>(take(count, limit)));
  in.read(labels.data(), labels.size(), "the labels");
  return labels;
}

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names = {"t-shirt_top", "trouser", "pullover", "dress", "coat",
                                                 "sandal",      "shirt",   "sneaker",  "bag",   "ankle_boot"};
  return names;
}

IdxImportResult import_idx(const IdxImportOptions& options) {
  if (options.format != "png" && options.format != "jpeg")
    usage_fail("unknown image format '{}' (expected png or jpeg)", options.format);
  const auto images = read_idx_images(options.images, options.limit);
  const auto labels = read_idx_labels(options.labels, options.limit);
  if (static_cast<int64_t>(labels.size()) != images.count)
    fail("{} has {} images but {} has {} labels", options.images.string(), images.count, options.labels.string(),
         labels.size());

  IdxImportResult result;
  result.images = images.count;
  const int max_label = labels.empty() ? 0 : *std::max_element(labels.begin(), labels.end());
  if (options.class_names.size() == 1 && options.class_names[0] == "fashion-mnist")
    result.class_names = fashion_mnist_class_names();
  else if (!options.class_names.empty())
    result.class_names = options.class_names;
  else
    for (int c = 0; c <= max_label; ++c) result.class_names.push_back(std::to_string(c));
  if (static_cast<int>(result.class_names.size()) <= max_label)
    usage_fail("{} has labels up to {} but only {} class names were given", options.labels.string(), max_label,
               result.class_names.size());
  std::set<std::string> unique;
  for (const auto& name : result.class_names) {
    check_folder_name(name);
    if (!unique.insert(name).second) usage_fail("class name '{}' is given twice", name);
  }

  // The marker records what was imported, so that running the same import again is recognised as done.
  const nlohmann::json marker = {{"images", fs::absolute(options.images).lexically_normal().string()},
                                 {"labels", fs::absolute(options.labels).lexically_normal().string()},
                                 {"count", images.count},
                                 {"format", options.format},
                                 {"class_names", result.class_names}};
  const fs::path out = options.out.has_filename() ? options.out : options.out.parent_path();
  std::error_code ec;
  if (fs::exists(out, ec)) {
    if (fs::exists(out / kMarker, ec)) {
      try {
        if (nlohmann::json::parse(read_file(out / kMarker)) == marker) {
          result.already_done = true;
          result.per_class.assign(result.class_names.size(), 0);
          for (uint8_t l : labels) ++result.per_class[l];
          return result;
        }
      } catch (const nlohmann::json::exception&) {
      }
      fail("{}: holds another import (different files, count, format or class names); remove it or choose another "
           "--out", out.string());
    }
    if (!fs::is_directory(out, ec) || !fs::is_empty(out, ec))
      fail("{}: already exists and is not an empty folder; remove it or choose another --out", out.string());
  }

  // Everything goes into a temporary sibling folder that is renamed into place only when complete.
  const fs::path partial = out.string() + fmt::format(".partial-{}", ::getpid());
  fs::remove_all(partial, ec);
  fs::create_directories(partial, ec);
  if (ec) fail("{}: cannot create the folder: {}", partial.string(), ec.message());
  for (const auto& name : result.class_names) fs::create_directories(partial / name);

  const int digits = static_cast<int>(std::to_string(std::max<int64_t>(images.count - 1, 0)).size());
  const std::string ext = options.format == "png" ? ".png" : ".jpg";
  const size_t image_size = static_cast<size_t>(images.rows) * static_cast<size_t>(images.cols);
  result.per_class.assign(result.class_names.size(), 0);
  for (uint8_t l : labels) ++result.per_class[l];

  Progress progress("import", images.count, "images");
  std::atomic<bool> failed{false};
  std::string first_error;
#pragma omp parallel for schedule(dynamic, 256) num_threads(options.threads > 0 ? options.threads : omp_get_num_procs())
  for (int64_t i = 0; i < images.count; ++i) {
    if (failed.load(std::memory_order_relaxed)) continue;
    try {
      const auto path = partial / result.class_names[labels[static_cast<size_t>(i)]] /
                        (fmt::format("{:0{}d}", i, digits) + ext);
      const uint8_t* pixels = images.pixels.data() + static_cast<size_t>(i) * image_size;
      if (options.format == "png")
        image::write_png(path, pixels, images.cols, images.rows, 1);
      else
        image::write_jpeg(path, pixels, images.cols, images.rows, 1);
      if ((i & 255) == 0) progress.advance(std::min<int64_t>(256, images.count - i));
    } catch (const std::exception& e) {
#pragma omp critical(xfer_idx_import_error)
      if (!failed.exchange(true)) first_error = e.what();
    }
  }
  progress.finish();
  if (failed) {
    fs::remove_all(partial, ec);
    throw Error(first_error);
  }
  write_file_atomically(partial / kMarker, marker.dump(1) + "\n");
  if (fs::exists(out, ec)) fs::remove(out, ec);  // the empty folder checked above
  fs::rename(partial, out, ec);
  if (ec) fail("{}: cannot rename {} into place: {}", out.string(), partial.string(), ec.message());
  return result;
}

}  // namespace xfer::data
