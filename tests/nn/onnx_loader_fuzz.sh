#!/usr/bin/env bash
# The ONNX loader under libFuzzer for a short run (CI: 30 s): builds fuzz/onnx_loader_fuzz with clang, ASan and
# libFuzzer in its own build folder ($XFER_BUILD_DIR/fuzz-build), seeds it with small valid models
# (tests/nn/onnx_loader_fuzz_seeds.py), and fails on any crash, sanitizer report, timeout or out-of-memory.
# A long run by hand (crashes land in the current folder):
#   XFER_FUZZ_SECONDS=3600 XFER_BUILD_DIR=build tests/nn/onnx_loader_fuzz.sh
#   or directly: build/fuzz-build/fuzz/onnx_loader_fuzz -max_total_time=3600 -rss_limit_mb=4096 CORPUS_DIR
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${XFER_BUILD_DIR:-$src/build}/fuzz-build
python=${XFER_PYTHON:-/usr/bin/python3}
seconds=${XFER_FUZZ_SECONDS:-30}
passed=0 failed=0
finish() { echo "$passed passed, $failed failed"; [ "$failed" = 0 ] && [ "$passed" -gt 0 ]; exit $?; }

if ! command -v clang++ >/dev/null; then
  echo "FAIL: clang++ not installed (scripts/install-deps.sh installs clang and libclang-rt-14-dev)"; failed=1; finish
fi
# Warnings stay warnings here: clang warns about things GCC (the project's compiler) does not, and this build
# exists to fuzz, not to police style.
if ! cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
       -DCMAKE_CXX_COMPILER=clang++ -DXFER_FUZZ=ON -DXFER_BUILD_TESTS=OFF -DXFER_BUILD_BENCH=OFF \
       "-DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link,address -Wno-error" >"$build.configure.log" 2>&1 \
   || ! cmake --build "$build" -j2 --target onnx_loader_fuzz >"$build.build.log" 2>&1; then
  echo "FAIL: building the fuzz target; last lines of the log:"; tail -n 20 "$build".*.log; failed=1; finish
fi

corpus=$(mktemp -d); artifacts=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
"$python" "$src/tests/nn/onnx_loader_fuzz_seeds.py" "$corpus" || { echo "FAIL: seed corpus"; failed=1; finish; }
seeds=$(ls "$corpus" | wc -l)
log=$build/fuzz-run.log
"$build/fuzz/onnx_loader_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
rc=$?
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
echo "fuzz: ${seconds} s, ${seeds} seeds, ${runs:-?} inputs executed, ${cov:-cov ?}, corpus now $(ls "$corpus" | wc -l) files"
if [ $rc = 0 ]; then
  passed=1
else
  failed=1
  echo "FAIL: onnx_loader_fuzz exited $rc; crash inputs kept in $artifacts:"; ls "$artifacts"
  grep -m1 -A30 -E 'ERROR: (AddressSanitizer|libFuzzer)|==ERROR|deadly signal|uncaught' "$log"
fi
[ "$(ls -A "$artifacts")" ] || rmdir "$artifacts"
finish
