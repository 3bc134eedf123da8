#pragma once
// Files that are either complete or absent: written under a temporary name in the same folder and renamed
// into place, so a crash or a full disk never leaves output that looks complete.
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace xfer {

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::filesystem::path target, bool binary = true);
  ~AtomicFileWriter();  // removes the temporary file if commit() was not reached
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  std::ostream& stream() { return out_; }
  // Flushes, checks every write succeeded, fsyncs and renames onto the target. Throws Error on failure.
  void commit();

 private:
  std::filesystem::path target_;
  std::filesystem::path temporary_;
  std::ofstream out_;
  bool committed_ = false;
};

// Whole-file helpers.
void write_file_atomically(const std::filesystem::path& target, std::string_view contents);
std::string read_file(const std::filesystem::path& path);

}  // namespace xfer
