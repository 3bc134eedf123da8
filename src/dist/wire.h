#pragma once
// What goes into a message: a JSON value encoded as CBOR (nlohmann's encoder), with bulk numbers (features,
// image bytes) carried as CBOR byte strings rather than one JSON number each.
#include <cstring>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "dist/communicator.h"

namespace xfer::dist {

Bytes encode(const nlohmann::json& value);
// Throws Error when the bytes are not CBOR (a message from something that is not this xfer).
nlohmann::json decode(const Bytes& bytes);

// Plain numbers as a CBOR byte string and back (host byte order: every rank runs the same build).
template <typename T>
nlohmann::json to_binary(std::span<const T> values) {
  std::vector<uint8_t> bytes(values.size_bytes());
  if (!bytes.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return nlohmann::json::binary(std::move(bytes));
}

template <typename T>
std::vector<T> from_binary(const nlohmann::json& value) {
  const auto& bytes = value.get_binary();
  if (bytes.size() % sizeof(T) != 0) fail("message: {} bytes is not a whole number of values", bytes.size());
  std::vector<T> out(bytes.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

}  // namespace xfer::dist
