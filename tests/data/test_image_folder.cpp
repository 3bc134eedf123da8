// ImageFolder listing: class order, split layouts, and the clear errors for folders that cannot be a data set.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "data/image_folder.h"
#include "util/error.h"

namespace fs = std::filesystem;
using xfer::data::list_images;
using xfer::data::open_image_folder;

namespace {

class ImageFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("xfer-image-folder-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path touch(const fs::path& relative) {
    const auto path = root_ / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << "x";
    return path;
  }
  std::string error_of(const fs::path& data, const std::string& split = "") {
    try {
      open_image_folder(data, split);
    } catch (const xfer::Error& e) {
      return e.what();
    }
    return "";
  }

  fs::path root_;
};

TEST_F(ImageFolderTest, ClassesAreSortedSubFolderNamesAndSamplesSortedByPath) {
  touch("zebra/b.png");
  touch("zebra/a.JPG");
  touch("ant/x/deep.jpeg");  // nested folders belong to their class
  touch("ant/c.png");
  touch("ant/notes.txt");    // not an image extension: ignored
  touch("ant/.hidden.png");  // hidden: ignored
  touch("Bee/1.png");        // byte-wise order: upper case first
  touch("readme.md");        // files at the root are not classes
  const auto folder = open_image_folder(root_);
  ASSERT_EQ(folder.class_names, (std::vector<std::string>{"Bee", "ant", "zebra"}));
  ASSERT_EQ(folder.samples.size(), 5u);
  EXPECT_EQ(folder.samples[0].path, root_ / "Bee/1.png");
  EXPECT_EQ(folder.samples[0].label, 0);
  EXPECT_EQ(folder.samples[1].path, root_ / "ant/c.png");
  EXPECT_EQ(folder.samples[2].path, root_ / "ant/x/deep.jpeg");
  EXPECT_EQ(folder.samples[2].label, 1);
  EXPECT_EQ(folder.samples[3].path, root_ / "zebra/a.JPG");
  EXPECT_EQ(folder.samples[4].path, root_ / "zebra/b.png");
  EXPECT_EQ(folder.samples[4].label, 2);
}

TEST_F(ImageFolderTest, ChestXrayLayoutWithSplitOrSplitFolder) {
  for (const char* split : {"train", "test", "val"}) {
    touch(fs::path(split) / "NORMAL/n1.jpeg");
    touch(fs::path(split) / "PNEUMONIA/p1.jpeg");
    touch(fs::path(split) / "PNEUMONIA/p2.jpeg");
  }
  const auto by_split = open_image_folder(root_, "test");
  const auto by_path = open_image_folder(root_ / "test");
  EXPECT_EQ(by_split.class_names, (std::vector<std::string>{"NORMAL", "PNEUMONIA"}));
  EXPECT_EQ(by_split.root, root_ / "test");
  ASSERT_EQ(by_split.samples.size(), 3u);
  ASSERT_EQ(by_path.samples.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(by_split.samples[i].path, by_path.samples[i].path);
  // Without a split the root is ambiguous: the error names the splits and the option.
  const auto error = error_of(root_);
  EXPECT_NE(error.find("test, train, val"), std::string::npos) << error;
  EXPECT_NE(error.find("--split"), std::string::npos) << error;
  const auto missing = error_of(root_, "validation");
  EXPECT_NE(missing.find("no split folder 'validation'"), std::string::npos) << missing;
}

TEST_F(ImageFolderTest, ClearErrors) {
  EXPECT_NE(error_of(root_ / "absent").find("does not exist"), std::string::npos);
  touch("plain-file");
  EXPECT_NE(error_of(root_ / "plain-file").find("is not a folder"), std::string::npos);
  fs::create_directories(root_ / "empty");
  EXPECT_NE(error_of(root_ / "empty").find("no class sub-folders"), std::string::npos);
  touch("one/only/a.png");
  const auto single = error_of(root_ / "one");
  EXPECT_NE(single.find("single class folder 'only'"), std::string::npos) << single;
  touch("noimages/a/readme.txt");
  fs::create_directories(root_ / "noimages/b");
  const auto none = error_of(root_ / "noimages");
  EXPECT_NE(none.find("no image file"), std::string::npos) << none;
  EXPECT_NE(none.find((root_ / "noimages").string()), std::string::npos) << none;
}

TEST_F(ImageFolderTest, EmptyClassKeepsItsLabel) {
  touch("a/1.png");
  fs::create_directories(root_ / "b");
  touch("c/1.png");
  const auto folder = open_image_folder(root_);
  EXPECT_EQ(folder.class_names.size(), 3u);
  ASSERT_EQ(folder.samples.size(), 2u);
  EXPECT_EQ(folder.samples[1].label, 2);
}

TEST_F(ImageFolderTest, ListImagesForPredict) {
  const auto explicit_file = touch("odd.name");  // given explicitly: taken whatever its extension
  touch("dir/b.png");
  touch("dir/sub/a.jpg");
  touch("dir/skip.txt");
  const auto samples = list_images({explicit_file, root_ / "dir"});
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[0].path, explicit_file);
  EXPECT_EQ(samples[1].path, root_ / "dir/b.png");
  EXPECT_EQ(samples[2].path, root_ / "dir/sub/a.jpg");
  for (const auto& s : samples) EXPECT_EQ(s.label, -1);
  try {
    list_images({root_ / "nope.png"});
    FAIL() << "a missing input must be an error";
  } catch (const xfer::Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope.png"), std::string::npos);
  }
}

}  // namespace
