#!/usr/bin/env bash
# README's test command: installs everything, builds, and runs every test (ctest: GoogleTest binaries and the
# script tests that compare xfer with scikit-learn, numpy, ONNX, PyTorch, ONNX Runtime and TF.js).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
build=${XFER_BUILD_DIR:-build}
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 1500
