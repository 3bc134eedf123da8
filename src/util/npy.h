#pragma once
// NumPy .npy files (format 1.0/2.0), so features and tensors are read by numpy, pandas or any other tool
// without xfer. Only little-endian C-order arrays of the dtypes below; anything else is a clear error.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace xfer {

enum class NpyDtype { float32, float64, int64, int32, uint8 };

struct NpyArray {
  NpyDtype dtype = NpyDtype::float32;
  std::vector<int64_t> shape;
  std::vector<unsigned char> bytes;  // element i of a C-order array at bytes[i * element_size]

  int64_t element_count() const;
  size_t element_size() const;
  // Copies out as float32 whatever the stored dtype; a float64/int array is converted.
  std::vector<float> to_float32() const;
};

size_t npy_element_size(NpyDtype dtype);

// Reads and validates header and size against the file's length (a short or hostile file is an Error naming it).
NpyArray read_npy(const std::filesystem::path& path);
// Writes atomically (temporary name + rename).
void write_npy(const std::filesystem::path& path, const float* data, const std::vector<int64_t>& shape);
void write_npy(const std::filesystem::path& path, const NpyArray& array);

// The header alone, for writers that stream rows: the returned string includes magic, version and padding.
std::string npy_header(NpyDtype dtype, const std::vector<int64_t>& shape);

}  // namespace xfer
