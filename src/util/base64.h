#pragma once
// Base64 (RFC 4648, with padding, no line breaks) by OpenSSL's EVP_EncodeBlock: images embedded in the HTML report
// as data: URIs.
#include <cstdint>
#include <span>
#include <string>

namespace xfer {

std::string base64_encode(std::span<const uint8_t> bytes);

}  // namespace xfer
