#pragma once
// SHA-256 (OpenSSL) of files and buffers, as lowercase hex: pipelines pin the model file they were trained with.
#include <filesystem>
#include <string>
#include <string_view>

namespace xfer {

std::string sha256_hex(std::string_view bytes);
std::string sha256_file_hex(const std::filesystem::path& path);

}  // namespace xfer
