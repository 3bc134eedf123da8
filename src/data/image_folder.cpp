#include "data/image_folder.h"

#include <algorithm>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "util/error.h"

namespace xfer::data {
namespace fs = std::filesystem;
namespace {

bool hidden(const fs::path& p) {
  const auto name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

std::vector<std::string> sub_folder_names(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (hidden(it->path())) continue;
    std::error_code type_ec;
    if (it->is_directory(type_ec)) names.push_back(it->path().filename().string());
  }
  if (ec) fail("{}: cannot list the folder: {}", dir.string(), ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

// Image files under dir, recursively (following symlinked folders, as data sets are often assembled from
// links), skipping hidden entries; sorted byte-wise by path.
std::vector<fs::path> image_files_under(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (hidden(it->path())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    std::error_code type_ec;
    if (!it->is_directory(type_ec) && has_image_extension(it->path())) files.push_back(it->path());
  }
  if (ec) fail("{}: cannot list the folder: {}", dir.string(), ec.message());
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) { return a.string() < b.string(); });
  return files;
}

bool is_split_name(const std::string& name) {
  const auto& splits = split_folder_names();
  return std::find(splits.begin(), splits.end(), name) != splits.end();
}

void require_folder(const fs::path& dir, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail("{}: {} does not exist", dir.string(), what);
  if (!fs::is_directory(dir, ec)) fail("{}: {} is not a folder", dir.string(), what);
}

}  // namespace

const std::vector<std::string>& split_folder_names() {
  static const std::vector<std::string> names = {"train", "test", "val", "valid", "validation"};
  return names;
}

bool has_image_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

ImageFolder open_image_folder(const fs::path& data, const std::string& split) {
  require_folder(data, "the data folder");
  fs::path root = data;
  auto subfolders = sub_folder_names(data);
  // The chest_xray layout: every sub-folder is a split (train/ test/ val/), each holding the class folders.
  const bool split_layout = !subfolders.empty() && std::all_of(subfolders.begin(), subfolders.end(), is_split_name);
  if (!split.empty()) {
    root = data / split;
    if (!fs::is_directory(root))
      fail("{}: has no split folder '{}' (it has: {})", data.string(), split,
           subfolders.empty() ? std::string("no sub-folders") : fmt::format("{}", fmt::join(subfolders, ", ")));
    subfolders = sub_folder_names(root);
  } else if (split_layout) {
    fail("{}: holds the splits {}; choose one with --split or point --data at one of them", data.string(),
         fmt::join(subfolders, ", "));
  }

  ImageFolder folder;
  folder.root = root;
  if (subfolders.empty())
    fail("{}: has no class sub-folders (expected {}/<class>/<image>)", root.string(), root.string());
  if (subfolders.size() < 2)
    fail("{}: has a single class folder '{}': a classifier needs at least two classes", root.string(), subfolders[0]);
  folder.class_names = subfolders;
  for (size_t label = 0; label < subfolders.size(); ++label) {
    auto files = image_files_under(root / subfolders[label]);
    if (files.empty()) spdlog::warn("{}: class folder '{}' holds no image file", root.string(), subfolders[label]);
    for (auto& f : files) folder.samples.push_back({std::move(f), static_cast<int>(label)});
  }
  if (folder.samples.empty())
    fail("{}: no image file (.jpg, .jpeg, .png) in any of its {} class folders", root.string(), subfolders.size());
  return folder;
}

std::vector<Sample> list_images(const std::vector<fs::path>& files_or_folders) {
  std::vector<Sample> samples;
  for (const auto& input : files_or_folders) {
    std::error_code ec;
    if (!fs::exists(input, ec)) fail("{}: no such file or folder", input.string());
    if (fs::is_directory(input, ec)) {
      auto files = image_files_under(input);
      if (files.empty()) spdlog::warn("{}: no image file (.jpg, .jpeg, .png) in this folder", input.string());
      for (auto& f : files) samples.push_back({std::move(f), -1});
    } else {
      samples.push_back({input, -1});
    }
  }
  return samples;
}

}  // namespace xfer::data
