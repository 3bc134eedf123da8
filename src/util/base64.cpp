#include "util/base64.h"

#include <openssl/evp.h>

#include "util/error.h"

namespace xfer {

std::string base64_encode(std::span<const uint8_t> bytes) {
  if (bytes.size() > (1u << 30)) fail("base64: {} bytes is more than this encoder takes at once", bytes.size());
  std::string text(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // + the NUL EVP_EncodeBlock writes
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()), bytes.data(),
                                      static_cast<int>(bytes.size()));
  text.resize(static_cast<size_t>(written));
  return text;
}

}  // namespace xfer
