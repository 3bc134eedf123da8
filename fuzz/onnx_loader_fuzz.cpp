// libFuzzer target: arbitrary bytes through the ONNX loader (xfer::nn::import_onnx_bytes).
// A hostile model must end in an xfer::Error (a clear message), never a crash, hang, sanitizer report or any
// other exception. Bytes that import are also compiled into an executable model with the engine's own checks,
// the path `xfer model run` takes, so shape inference and the passes see the fuzzer's graphs as well.
// Build and run: see fuzz/README.md (clang, -DXFER_FUZZ=ON).
#include <cstddef>
#include <cstdint>
#include <utility>

#include "nn/model.h"
#include "nn/onnx/onnx_import.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    xfer::nn::Graph graph = xfer::nn::import_onnx_bytes(data, size, "fuzz.onnx");
    (void)xfer::nn::Model::compile(std::move(graph));
  } catch (const xfer::Error&) {
    // the expected outcome for a hostile file
  }
  return 0;
}
