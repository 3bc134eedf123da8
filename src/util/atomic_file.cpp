#include "util/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "util/error.h"

namespace xfer {
namespace fs = std::filesystem;

namespace {
fs::path temporary_name_for(const fs::path& target) {
  std::random_device rd;
  return target.parent_path() / fmt::format(".{}.tmp-{}-{:x}", target.filename().string(), getpid(), rd());
}

void fsync_path(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}
}  // namespace

AtomicFileWriter::AtomicFileWriter(fs::path target, bool binary)
    : target_(std::move(target)), temporary_(temporary_name_for(target_)) {
  if (!target_.parent_path().empty()) {
    std::error_code ec;
    fs::create_directories(target_.parent_path(), ec);
    if (ec) fail("{}: cannot create folder: {}", target_.parent_path().string(), ec.message());
  }
  out_.open(temporary_, binary ? std::ios::binary | std::ios::trunc : std::ios::trunc);
  if (!out_) fail("{}: cannot write: {}", temporary_.string(), std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!committed_) {
    out_.close();
    std::error_code ec;
    fs::remove(temporary_, ec);
  }
}

void AtomicFileWriter::commit() {
  out_.flush();
  bool ok = static_cast<bool>(out_);
  out_.close();
  if (!ok) fail("{}: write failed (disk full?); the previous file, if any, is unchanged", target_.string());
  fsync_path(temporary_);
  std::error_code ec;
  fs::rename(temporary_, target_, ec);
  if (ec) fail("{}: cannot rename into place: {}", target_.string(), ec.message());
  committed_ = true;
}

void write_file_atomically(const fs::path& target, std::string_view contents) {
  AtomicFileWriter writer(target);
  writer.stream().write(contents.data(), static_cast<std::streamsize>(contents.size()));
  writer.commit();
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open: {}", path.string(), std::strerror(errno));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail("{}: read error", path.string());
  return data;
}

}  // namespace xfer
