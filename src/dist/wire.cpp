#include "dist/wire.h"

namespace xfer::dist {

Bytes encode(const nlohmann::json& value) { return nlohmann::json::to_cbor(value); }

nlohmann::json decode(const Bytes& bytes) {
  try {
    return nlohmann::json::from_cbor(bytes);
  } catch (const nlohmann::json::exception& e) {
    fail("message: not a valid CBOR message ({})", e.what());
  }
}

}  // namespace xfer::dist
