#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "util/error.h"
#include "util/npy.h"

namespace fs = std::filesystem;

namespace {
fs::path temp_dir() {
  auto dir = fs::temp_directory_path() / ("xfer-test-npy-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  fs::create_directories(dir);
  return dir;
}
}  // namespace

TEST(Npy, RoundTripKeepsShapeAndValues) {
  auto path = temp_dir() / "a.npy";
  std::vector<float> values = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.5f};
  xfer::write_npy(path, values.data(), {2, 3});
  auto array = xfer::read_npy(path);
  EXPECT_EQ(array.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(array.to_float32(), values);
}

TEST(Npy, HeaderIsPaddedTo64BytesAsNumpyWrites) {
  auto header = xfer::npy_header(xfer::NpyDtype::float32, {5});
  EXPECT_EQ(header.size() % 64, 0u);
  EXPECT_NE(header.find("'shape': (5,)"), std::string::npos);
  EXPECT_EQ(header.back(), '\n');
}

TEST(Npy, TruncatedFileIsAnErrorNamingIt) {
  auto path = temp_dir() / "short.npy";
  std::vector<float> values(100, 1.0f);
  xfer::write_npy(path, values.data(), {10, 10});
  fs::resize_file(path, fs::file_size(path) - 4);
  try {
    xfer::read_npy(path);
    FAIL() << "expected an error";
  } catch (const xfer::Error& e) {
    EXPECT_NE(std::string(e.what()).find("short.npy"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos);
  }
}

TEST(Npy, GarbageIsNotAnNpyFile) {
  auto path = temp_dir() / "garbage.npy";
  std::ofstream(path) << "hello, world";
  EXPECT_THROW(xfer::read_npy(path), xfer::Error);
}
