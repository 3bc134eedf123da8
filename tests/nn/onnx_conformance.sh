#!/usr/bin/env bash
# Generates ONNX's node tests into the build folder (once) and runs them on the engine.
set -euo pipefail
tool=${1:?usage: onnx_conformance.sh ONNX_CONFORMANCE_BINARY}
out=${XFER_BUILD_DIR:?}/onnx-node-tests
if [ ! -f "$out/.complete" ]; then
  rm -rf "$out"
  "${XFER_SHARED_DIR:?}/tools/onnx-node-tests" "$out" >&2
  touch "$out/.complete"
fi
"$tool" "$out/node"
