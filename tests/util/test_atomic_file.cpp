#include <gtest/gtest.h>

#include <filesystem>

#include "util/atomic_file.h"

namespace fs = std::filesystem;

TEST(AtomicFile, UncommittedWriteLeavesTheOldFileAndNoTemporary) {
  auto dir = fs::temp_directory_path() / "xfer-test-atomic";
  fs::remove_all(dir);
  fs::create_directories(dir);
  xfer::write_file_atomically(dir / "f.txt", "old");
  {
    xfer::AtomicFileWriter writer(dir / "f.txt");
    writer.stream() << "new but never committed";
  }
  EXPECT_EQ(xfer::read_file(dir / "f.txt"), "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 1);
}

TEST(AtomicFile, CommitReplaces) {
  auto dir = fs::temp_directory_path() / "xfer-test-atomic2";
  fs::create_directories(dir);
  xfer::write_file_atomically(dir / "f.txt", "one");
  xfer::write_file_atomically(dir / "f.txt", "two");
  EXPECT_EQ(xfer::read_file(dir / "f.txt"), "two");
}
