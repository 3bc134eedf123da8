#!/usr/bin/python3
"""torchvision models (fixed random weights, tests/nn/torchvision_export.py) in int8 against the same model in fp32.

For each model: `xfer model run --precision int8` calibrated on the 8-image input (--calibration), run on it and on
the separate batch-1 image; the feature layer (the global pool's output) and the logits are compared with the fp32
run by relative L2 distance, and the top-1 classes must agree. bf16's distance is printed beside it for scale:
random weights and random BatchNorm statistics make these networks far more sensitive to rounding than trained ones
(bf16 alone moves MobileNetV2's features by ~6%).

Measured (this machine, 2026-12-02, percentile calibration, the default), features / logits relative L2 to fp32,
batch 8 | batch 1 (entropy: mobilenet_v2 0.123 / 0.122 | 0.140 / 0.145, resnet50 0.022 / 0.022 | 0.020 / 0.021):
  mobilenet_v2  0.131 / 0.129 | 0.122 / 0.119   (bf16 0.064 / 0.064)
  resnet50      0.027 / 0.027 | 0.028 / 0.028   (bf16 0.0055 / 0.0058)
Top-1 agrees with fp32 on every image. The limits below leave ~40-50% headroom over those figures. CI runs mobilenet_v2; by hand:
  XFER_BINARY=build/src/cli/xfer tests/nn/int8_models.py --models mobilenet_v2,resnet50
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from xfer_test_helpers import Checks, xfer_binary  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# model -> the largest relative L2 distance to fp32 accepted (features, logits)
LIMITS = {"mobilenet_v2": (0.2, 0.25), "resnet50": (0.04, 0.06)}


def rel_l2(a, b):
    return float(np.linalg.norm(a.astype(np.float64) - b) / np.linalg.norm(b.astype(np.float64)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="mobilenet_v2")
    p.add_argument("--method", default="percentile")
    args = p.parse_args()
    xfer = xfer_binary()
    build = os.environ.get("XFER_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))
    cache = os.path.join(build, "torchvision-models")  # shared with nn_torchvision_models (same export arguments)
    models = [m for m in args.models.split(",") if m]
    subprocess.run([sys.executable, os.path.join(HERE, "torchvision_export.py"), cache, "--models", ",".join(models),
                    "--opsets", "11,13", "--batches", "1,8"], check=True)
    checks = Checks()
    tmp = tempfile.mkdtemp(prefix="xfer-int8-models-")
    for model in models:
        folder = os.path.join(cache, model)
        meta = json.load(open(os.path.join(folder, "meta.json")))
        onnx = os.path.join(folder, meta["opsets"]["13"]["file"])
        feature = meta["opsets"]["13"]["feature_tensor"]
        calibration = os.path.join(folder, meta["batches"]["8"]["input"])
        for batch in ("8", "1"):
            inp = os.path.join(folder, meta["batches"][batch]["input"])
            got = {}
            for precision in ("fp32", "bf16", "int8"):
                for what, extra in (("features", ["--layer", feature]), ("logits", [])):
                    out = os.path.join(tmp, f"{model}_{batch}_{precision}_{what}.npy")
                    cmd = [xfer, "model", "run", onnx, "--input", inp, "--out", out, "--threads", "2",
                           "--precision", precision] + extra
                    if precision == "int8":
                        cmd += ["--calibration", calibration, "--calibration-method", args.method]
                    r = subprocess.run(cmd, capture_output=True, text=True)
                    if not checks.check(f"{model} b{batch} {precision} {what} runs", r.returncode == 0,
                                        r.stderr[-1000:] if r.returncode else ""):
                        continue
                    got[(precision, what)] = np.load(out)
            for i, what in enumerate(("features", "logits")):
                if ("int8", what) not in got or ("fp32", what) not in got:
                    continue
                d8 = rel_l2(got[("int8", what)], got[("fp32", what)])
                d16 = rel_l2(got[("bf16", what)], got[("fp32", what)]) if ("bf16", what) in got else float("nan")
                checks.check(f"{model} b{batch} int8 {what} within {LIMITS[model][i]} relative L2 of fp32",
                             0 < d8 < LIMITS[model][i], f"int8 {d8:.4f} (bf16 {d16:.4f})")
            if ("int8", "logits") in got:
                same = np.mean(got[("int8", "logits")].argmax(1) == got[("fp32", "logits")].argmax(1))
                checks.check(f"{model} b{batch} int8 top-1 = fp32 top-1", same == 1.0, f"agreement {same:.3f}")
    checks.finish()


if __name__ == "__main__":
    main()
