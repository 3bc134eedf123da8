#include "util/npy.h"

#include <cstring>
#include <fstream>
#include <limits>
#include <regex>

#include <fmt/ranges.h>

#include "util/atomic_file.h"
#include "util/error.h"

namespace xfer {
namespace {
constexpr char kMagic[] = "\x93NUMPY";

const char* descr_of(NpyDtype dtype) {
  switch (dtype) {
    case NpyDtype::float32: return "<f4";
    case NpyDtype::float64: return "<f8";
    case NpyDtype::int64: return "<i8";
    case NpyDtype::int32: return "<i4";
    case NpyDtype::uint8: return "|u1";
  }
  return "?";
}

bool dtype_from_descr(const std::string& descr, NpyDtype& out) {
  static const std::pair<const char*, NpyDtype> table[] = {
      {"<f4", NpyDtype::float32}, {"<f8", NpyDtype::float64}, {"<i8", NpyDtype::int64},
      {"<i4", NpyDtype::int32},   {"|u1", NpyDtype::uint8},   {"<u1", NpyDtype::uint8}};
  for (auto& [name, dtype] : table) {
    if (descr == name) {
      out = dtype;
      return true;
    }
  }
  return false;
}
}  // namespace

size_t npy_element_size(NpyDtype dtype) {
  switch (dtype) {
    case NpyDtype::float32: return 4;
    case NpyDtype::float64: return 8;
    case NpyDtype::int64: return 8;
    case NpyDtype::int32: return 4;
    case NpyDtype::uint8: return 1;
  }
  return 0;
}

int64_t NpyArray::element_count() const {
  int64_t count = 1;
  for (auto d : shape) count *= d;
  return count;
}

size_t NpyArray::element_size() const { return npy_element_size(dtype); }

std::vector<float> NpyArray::to_float32() const {
  auto n = static_cast<size_t>(element_count());
  std::vector<float> out(n);
  const unsigned char* p = bytes.data();
  for (size_t i = 0; i < n; ++i) {
    switch (dtype) {
      case NpyDtype::float32: { float v; std::memcpy(&v, p + 4 * i, 4); out[i] = v; break; }
      case NpyDtype::float64: { double v; std::memcpy(&v, p + 8 * i, 8); out[i] = static_cast<float>(v); break; }
      case NpyDtype::int64: { int64_t v; std::memcpy(&v, p + 8 * i, 8); out[i] = static_cast<float>(v); break; }
      case NpyDtype::int32: { int32_t v; std::memcpy(&v, p + 4 * i, 4); out[i] = static_cast<float>(v); break; }
      case NpyDtype::uint8: out[i] = p[i]; break;
    }
  }
  return out;
}

std::string npy_header(NpyDtype dtype, const std::vector<int64_t>& shape) {
  // Python tuple syntax: "()", "(3,)", "(3, 4)".
  std::string dims = fmt::format("{}", fmt::join(shape, ", "));
  if (shape.size() == 1) dims += ",";
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr_of(dtype), dims);
  // Pad so that data starts on a 64-byte boundary, as numpy does; header ends with '\n'.
  size_t unpadded = 6 + 2 + 2 + dict.size() + 1;
  size_t padded = (unpadded + 63) / 64 * 64;
  dict.append(padded - unpadded, ' ');
  dict.push_back('\n');
  std::string header(kMagic, 6);
  header.push_back('\x01');
  header.push_back('\x00');
  auto length = static_cast<uint16_t>(dict.size());
  header.push_back(static_cast<char>(length & 0xff));
  header.push_back(static_cast<char>(length >> 8));
  return header + dict;
}

NpyArray read_npy(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path.string());
  in.seekg(0, std::ios::end);
  auto file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  char prefix[8];
  if (!in.read(prefix, 8) || std::memcmp(prefix, kMagic, 6) != 0)
    fail("{}: not a NumPy .npy file (bad magic)", path.string());
  uint64_t header_length = 0;
  size_t length_bytes = prefix[6] == 1 ? 2 : 4;
  if (prefix[6] < 1 || prefix[6] > 3) fail("{}: unsupported .npy version {}", path.string(), int(prefix[6]));
  unsigned char len[4] = {0, 0, 0, 0};
  if (!in.read(reinterpret_cast<char*>(len), static_cast<std::streamsize>(length_bytes)))
    fail("{}: truncated .npy header", path.string());
  for (size_t i = 0; i < length_bytes; ++i) header_length |= static_cast<uint64_t>(len[i]) << (8 * i);
  if (header_length > 1 << 20 || 8 + length_bytes + header_length > file_size)
    fail("{}: .npy header length {} is impossible for a {}-byte file", path.string(), header_length, file_size);
  std::string header(header_length, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_length));

  std::smatch m;
  NpyArray array;
  if (!std::regex_search(header, m, std::regex(R"('descr'\s*:\s*'([^']*)')")) ||
      !dtype_from_descr(m[1].str(), array.dtype))
    fail("{}: unsupported .npy dtype (need <f4, <f8, <i8, <i4 or u1): {}", path.string(), header);
  if (std::regex_search(header, m, std::regex(R"('fortran_order'\s*:\s*True)")))
    fail("{}: Fortran-order .npy arrays are not supported; save with np.ascontiguousarray", path.string());
  if (!std::regex_search(header, m, std::regex(R"('shape'\s*:\s*\(([^)]*)\))")))
    fail("{}: .npy header has no shape", path.string());
  std::string dims = m[1].str();
  static const std::regex kDigits(R"(\d+)");
  std::sregex_iterator it(dims.begin(), dims.end(), kDigits), end;
  uint64_t count = 1;
  for (; it != end; ++it) {
    auto d = std::stoull(it->str());
    if (d != 0 && count > std::numeric_limits<uint64_t>::max() / 16 / d)
      fail("{}: .npy shape is too large", path.string());
    count *= d;
    array.shape.push_back(static_cast<int64_t>(d));
  }
  uint64_t data_bytes = count * array.element_size();
  uint64_t data_offset = 8 + length_bytes + header_length;
  if (file_size - data_offset != data_bytes)
    fail("{}: .npy data is {} bytes but its shape needs {} (truncated or corrupt)", path.string(),
         file_size - data_offset, data_bytes);
  array.bytes.resize(data_bytes);
  if (!in.read(reinterpret_cast<char*>(array.bytes.data()), static_cast<std::streamsize>(data_bytes)))
    fail("{}: read error in .npy data", path.string());
  return array;
}

void write_npy(const std::filesystem::path& path, const NpyArray& array) {
  AtomicFileWriter writer(path);
  auto header = npy_header(array.dtype, array.shape);
  writer.stream().write(header.data(), static_cast<std::streamsize>(header.size()));
  writer.stream().write(reinterpret_cast<const char*>(array.bytes.data()),
                        static_cast<std::streamsize>(array.bytes.size()));
  writer.commit();
}

void write_npy(const std::filesystem::path& path, const float* data, const std::vector<int64_t>& shape) {
  NpyArray array;
  array.dtype = NpyDtype::float32;
  array.shape = shape;
  array.bytes.resize(static_cast<size_t>(array.element_count()) * 4);
  if (!array.bytes.empty()) std::memcpy(array.bytes.data(), data, array.bytes.size());
  write_npy(path, array);
}

}  // namespace xfer
