#!/usr/bin/env bash
# README's first command: installs everything, builds, and runs the main job on a built-in default —
# transfer learning on Fashion-MNIST (Debian's dataset-fashion-mnist) with the pretrained InceptionV3 that the
# nsfwjs package carries, beside the raw-pixel baseline trained on the same images.
#
# Subset sizes fit the 10-minute budget on a 2-core machine; override with XFER_DEMO_TRAIN / XFER_DEMO_TEST.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash scripts/install-deps.sh
bash scripts/build.sh
xfer="$root/${XFER_BUILD_DIR:-build}/src/cli/xfer"
out=${XFER_DEMO_OUT:-$root/demo-out}
n_train=${XFER_DEMO_TRAIN:-5000}
n_test=${XFER_DEMO_TEST:-1000}
fm=/usr/share/datasets/fashion-mnist
classes=t-shirt_top,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle_boot

start=$(date +%s)
echo "== demo: Fashion-MNIST, first $n_train train / first $n_test test images (of 60,000 / 10,000)"
mkdir -p "$out"
"$xfer" data import-idx --images $fm/train-images-idx3-ubyte.gz --labels $fm/train-labels-idx1-ubyte.gz \
  --class-names $classes --limit "$n_train" --out "$out/fashion-mnist/train"
"$xfer" data import-idx --images $fm/t10k-images-idx3-ubyte.gz --labels $fm/t10k-labels-idx1-ubyte.gz \
  --class-names $classes --limit "$n_test" --out "$out/fashion-mnist/test"

# No --reg: xfer chooses the L2 strength by stratified 5-fold cross-validation on the cached features (--reg auto).

echo "== baseline: logistic regression on raw pixels"
"$xfer" train --data "$out/fashion-mnist/train" --model pixels --out "$out/pixels.pipeline.json"
"$xfer" evaluate --pipeline "$out/pixels.pipeline.json" --data "$out/fashion-mnist/test" \
  --json "$out/pixels.metrics.json" --report "$out/pixels-report"

echo "== transfer learning: pretrained InceptionV3 features + logistic regression"
# nsfwjs kept Keras' ImageNet weights frozen up to mixed5 and fine-tuned the layers after it for its own task,
# so mixed5 (average-pooled, 768 values) is the last layer that still holds general ImageNet features.
node scripts/fetch-nsfwjs.mjs --model inception_v3 >/dev/null   # into the model cache, once
"$xfer" train --data "$out/fashion-mnist/train" --model nsfwjs_inception_v3 --layer mixed5 --pool avg \
  --features "$out/features/inception_v3-mixed5-train" --out "$out/inception_v3.pipeline.json"
"$xfer" evaluate --pipeline "$out/inception_v3.pipeline.json" --data "$out/fashion-mnist/test" \
  --json "$out/inception_v3.metrics.json" --report "$out/report"

/usr/bin/python3 - "$out" "$n_train" "$n_test" <<'PY'
import json, sys
out, n_train, n_test = sys.argv[1:]
px = json.load(open(f"{out}/pixels.metrics.json"))
cnn = json.load(open(f"{out}/inception_v3.metrics.json"))
print(f"\n== result on {n_test} held-out test images (trained on {n_train})")
print(f"{'features':<34}{'accuracy':>10}{'macro F1':>10}")
for name, m in (("raw pixels (baseline)", px), ("InceptionV3 mixed5, avg-pooled", cnn)):
    print(f"{name:<34}{m['accuracy']:>10.4f}{m['macro_avg']['f1']:>10.4f}")
print(f"\nreport: {out}/report/index.html")
PY
echo "demo time: $(( $(date +%s) - start )) s (after install and build)"
