#!/usr/bin/env bash
# int8 against fp32 on the demo's task: the real pretrained InceptionV3 (nsfwjs, mixed5 avg-pooled) on Fashion-MNIST
# (first 5,000 train / 1,000 test images), logistic regression with the demo's settings (--reg auto).
# Prints, per precision/calibration method: test accuracy, and the relative L2 distance of the int8 features of the
# 5,000 training images (calibrated on 64 of them, as train does) to their fp32 features.
#   bash bench/nn/int8_accuracy.sh [OUT_DIR] [METHODS (default: entropy)]     e.g. ... /tmp/acc "entropy percentile minmax"
# Needs the model in the cache (node scripts/fetch-nsfwjs.mjs --model inception_v3) and a build (build/src/cli/xfer).
set -euo pipefail
cd "$(dirname "$0")/../.."
xfer="$(pwd)/${XFER_BUILD_DIR:-build}/src/cli/xfer"
out=${1:-/tmp/xfer-int8-accuracy}
methods=${2:-entropy}
fm=/usr/share/datasets/fashion-mnist
classes=t-shirt_top,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle_boot
mkdir -p "$out"
[ -d "$out/fm/train" ] || "$xfer" data import-idx --images $fm/train-images-idx3-ubyte.gz --labels $fm/train-labels-idx1-ubyte.gz \
  --class-names $classes --limit 5000 --out "$out/fm/train" >/dev/null
[ -d "$out/fm/test" ] || "$xfer" data import-idx --images $fm/t10k-images-idx3-ubyte.gz --labels $fm/t10k-labels-idx1-ubyte.gz \
  --class-names $classes --limit 1000 --out "$out/fm/test" >/dev/null
run() {  # name, extra featuriser options...
  local name=$1; shift
  local t0=$(date +%s)
  "$xfer" train --data "$out/fm/train" --model nsfwjs_inception_v3 --layer mixed5 --pool avg "$@" \
    --features "$out/$name.train.features" --out "$out/$name.pipeline.json" > "$out/$name.train.log" 2>&1
  "$xfer" evaluate --pipeline "$out/$name.pipeline.json" --data "$out/fm/test" --json "$out/$name.metrics.json" > "$out/$name.eval.log" 2>&1
  echo "$name: $(( $(date +%s) - t0 )) s" >&2
}
run fp32 --precision fp32
for m in $methods; do run "int8-$m" --precision int8 --calibration-method "$m"; done
/usr/bin/python3 - "$out" $methods <<'PY'
import json, os, sys
import numpy as np
sys.path.insert(0, os.path.join(os.getcwd(), "tests"))
from xfer_test_helpers import feature_rows
out, methods = sys.argv[1], sys.argv[2:]
def features(name):
    rows, _, paths = feature_rows(os.path.join(out, name))
    return np.stack([np.frombuffer(rows[p], dtype=np.float32) for p in sorted(paths)]).astype(np.float64)
ref = features("fp32.train.features")
acc32 = json.load(open(f"{out}/fp32.metrics.json"))["accuracy"]
print(f"{'featuriser':<22}{'test accuracy':>14}{'vs fp32 (points)':>18}{'train feat. rel L2':>20}{'worst image':>13}")
print(f"{'fp32':<22}{acc32:>14.4f}")
for m in methods:
    acc = json.load(open(f"{out}/int8-{m}.metrics.json"))["accuracy"]
    x = features(f"int8-{m}.train.features")
    rel = np.linalg.norm(x - ref) / np.linalg.norm(ref)
    worst = np.max(np.linalg.norm(x - ref, axis=1) / np.linalg.norm(ref, axis=1))
    print(f"{'int8 ' + m:<22}{acc:>14.4f}{100 * (acc - acc32):>+18.2f}{rel:>20.4f}{worst:>13.4f}")
PY
