#!/usr/bin/env bash
# Configures and builds xfer into build/ (or $XFER_BUILD_DIR). Release, all cores.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${XFER_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)"
