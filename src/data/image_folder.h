#pragma once
// Image data sets on disk, in torchvision's ImageFolder layout: ROOT/<class>/**/<image>. The classes are the
// sorted (byte-wise) names of ROOT's sub-folders; label i is class_names[i]. A root whose sub-folders are
// splits (train/, test/, val/: the chest_xray layout) is opened with a split name: open_image_folder("chest_xray",
// "train") is the same as open_image_folder("chest_xray/train").
//
// Image files are recognised by extension (.jpg, .jpeg, .png, any case); other files and hidden entries (".x")
// are ignored. Whether a file really decodes is found out later, by the featuriser runner, which skips bad
// images with a warning. Samples are sorted by class, then by path (byte-wise), so the order never depends on
// the file system.
#include <filesystem>
#include <string>
#include <vector>

namespace xfer::data {

struct Sample {
  std::filesystem::path path;
  int label = -1;  // index into the class names; -1 when unknown (predict)
};

struct ImageFolder {
  std::filesystem::path root;  // the folder whose sub-folders are the classes (after applying the split)
  std::vector<std::string> class_names;
  std::vector<Sample> samples;
};

// Throws Error with a clear message when: the folder is missing or not a folder; it holds splits but no split
// was given (or the split is missing); it has fewer than two classes; no image file is found at all.
// A class folder without images is allowed (warned about): its label still exists.
ImageFolder open_image_folder(const std::filesystem::path& data, const std::string& split = "");

// For predict: each argument is an image file (taken whatever its extension) or a folder (searched
// recursively for image files, sorted). Labels are -1. Throws Error naming a path that does not exist.
std::vector<Sample> list_images(const std::vector<std::filesystem::path>& files_or_folders);

// True for .jpg/.jpeg/.png (case-insensitive).
bool has_image_extension(const std::filesystem::path& path);

// The split sub-folder names that mark the chest_xray layout.
const std::vector<std::string>& split_folder_names();  // train, test, val, valid, validation

}  // namespace xfer::data
