#!/usr/bin/env bash
# Installs everything xfer needs to build, test, benchmark and run its demo, from Debian's packages
# and the npm registry only. Idempotent: safe to run again; apt skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

packages=(
  # build
  build-essential cmake pkg-config git ca-certificates
  libgtest-dev libgmock-dev libbenchmark-dev
  # formats and math, each read by the library made for it
  libdnnl-dev libonnx-dev libprotobuf-dev protobuf-compiler
  libhdf5-dev nlohmann-json3-dev
  libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev libexif-dev zlib1g-dev
  libopencv-imgproc-dev libopencv-core-dev
  libeigen3-dev libopenblas-dev libopenblas0-pthread liblbfgs-dev
  libcli11-dev libspdlog-dev libfmt-dev
  libopenmpi-dev openmpi-bin
  libcpp-httplib-dev libssl-dev libtomlplusplus-dev libpugixml-dev
  # data and the independent answers that tests compare against
  dataset-fashion-mnist
  python3 python3-numpy python3-sklearn python3-onnx python3-torch python3-torchvision python3-h5py
  python3-opencv libjemalloc2
  # the ONNX loader fuzz target (libFuzzer)
  clang libclang-rt-14-dev
  # the cluster kit's test hosts
  openssh-server openssh-client slurmctld slurmd munge iproute2 procps
  # the headless browser that the status page's test drives (through npm playwright-core)
  chromium
)
# Node.js and npm (for the ONNX Runtime and TF.js peers and the nsfwjs model): the machine's own when present,
# Debian's otherwise.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
$SUDO apt-get update
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all ${#packages[@]} Debian packages present"

# The npm peers (ONNX Runtime, TF.js) and the pretrained nsfwjs models. --ignore-scripts: onnxruntime-node's
# install script downloads a CUDA add-on, which fails offline; its CPU library is in the package itself.
if [ ! -d peers/node_modules/onnxruntime-node ] || [ peers/package-lock.json -nt peers/node_modules/.package-lock.json ]; then
  (cd "$(dirname "$0")/../peers" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
echo "install-deps: npm peers present"
