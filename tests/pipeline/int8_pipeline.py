"""An int8 pipeline as users run it: `xfer train --precision int8` on a small ImageFolder with a small CNN
(random weights, exported by PyTorch: conv+BN+Relu, two branches concatenated, a max pool, a residual block), then
`xfer predict` with the reloaded pipeline file.
- the pipeline file holds the calibration (the scales) and the featuriser's identity its digest;
- predict, reloading the pipeline, computes exactly the training features: its probabilities equal the saved
  classifier applied with numpy to the feature rows training wrote (features folder);
- the int8 features are not the fp32 ones (the int8 path really ran) and stay close to them;
- a rerun reuses the feature parts; another calibration (--calibration-images) is another featuriser: none reused;
- under MPI (2 ranks) rank 0 calibrates and every rank quantises alike: the same feature bytes as one process;
- --precision int8 on `pixels` is a clear usage error."""
import json
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from xfer_test_helpers import Checks, feature_rows, mpi_env, xfer_binary  # noqa: E402

XFER = xfer_binary()
TMP = tempfile.mkdtemp(prefix="xfer-int8-pipeline-")
checks = Checks()


def xfer(*args):
    return subprocess.run([XFER, *map(str, args)], capture_output=True, text=True)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, stride=2, padding=1), torch.nn.BatchNorm2d(16),
                                        torch.nn.ReLU())
        self.a = torch.nn.Sequential(torch.nn.Conv2d(16, 16, 1), torch.nn.ReLU())
        self.b = torch.nn.Sequential(torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU())
        self.c1 = torch.nn.Sequential(torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU())
        self.c2 = torch.nn.Conv2d(32, 32, 3, padding=1)

    def forward(self, x):
        x = self.stem(x)
        x = torch.cat([self.a(x), self.b(x)], 1)
        x = torch.nn.functional.max_pool2d(x, 2, 2)
        return torch.relu(self.c2(self.c1(x)) + x)


torch.manual_seed(14)
net = Net().eval()
with torch.no_grad():
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
model = os.path.join(TMP, "tiny.onnx")
torch.onnx.export(net, torch.zeros(1, 3, 32, 32), model, opset_version=13, input_names=["input"],
                  output_names=["features"], dynamic_axes={"input": {0: "batch"}, "features": {0: "batch"}})

data = os.path.join(TMP, "data")
for k, cls in enumerate(["rings", "stripes", "waves"]):
    os.makedirs(os.path.join(data, cls))
    for i in range(10):
        rng = np.random.default_rng(100 * k + i)
        y, x = np.mgrid[0:40, 0:40]
        f = (k + 1) * 0.15 + 0.02 * i
        planes = [127 + 100 * np.sin(f * (x if k == 1 else y) + (x * y / 200.0 if k == 0 else 0) + c) for c in range(3)]
        img = np.clip(np.stack(planes, 2) + rng.normal(0, 8, (40, 40, 3)), 0, 255).astype(np.uint8)
        cv2.imwrite(os.path.join(data, cls, f"{i}.png"), img)

pipe = os.path.join(TMP, "int8.pipeline.json")
features = os.path.join(TMP, "int8.features")
r = xfer("train", "--data", data, "--model", model, "--precision", "int8", "--calibration-images", "8",
         "--reg", "0.01", "--out", pipe, "--features", features)
checks.check("train --precision int8 exit code 0", r.returncode == 0, r.stderr[-2000:])
saved = json.load(open(pipe))
spec, described = saved["featurizer_spec"], saved["featurizer"]
checks.check("the pipeline file records int8 and its calibration",
             spec.get("precision") == "int8" and len(spec.get("calibration", {}).get("values", {})) >= 6
             and spec["calibration"].get("images") == 8, json.dumps(spec)[:300])
checks.check("the featuriser's identity holds the calibration's digest", len(described.get("calibration_sha256", "")) == 64)

r = xfer("predict", "--pipeline", pipe, "--format", "json", data)
checks.check("predict with the reloaded int8 pipeline exit code 0", r.returncode == 0, r.stderr[-2000:])
predictions = {p["path"]: p for p in json.loads(r.stdout)["predictions"]}
rows, _, paths = feature_rows(features)
X = np.stack([np.frombuffer(rows[p], dtype=np.float32) for p in paths]).astype(np.float64)
W = np.array(saved["classifier"]["coefficients"])
b = np.array(saved["classifier"]["intercepts"])
Z = X @ W.T + b
P = np.exp(Z - Z.max(1, keepdims=True))
P /= P.sum(1, keepdims=True)
classes = saved["class_names"]
got = np.array([[predictions[p]["probabilities"][c] for c in classes] for p in paths])
diff = float(np.abs(got - P).max())
checks.check("predict after reload = the classifier on the training features (same int8 features)", diff < 1e-6,
             f"max |diff| {diff:.2e} over {len(paths)} images")

# The same featuriser in fp32: close, but not the same numbers (the int8 kernels really ran).
fp32_dir = os.path.join(TMP, "fp32.features")
r = xfer("featurize", "--data", data, "--model", model, "--out", fp32_dir)
checks.check("featurize fp32 exit code 0", r.returncode == 0, r.stderr[-2000:])
rows32, _, _ = feature_rows(fp32_dir)
X32 = np.stack([np.frombuffer(rows32[p], dtype=np.float32) for p in paths]).astype(np.float64)
rel = float(np.linalg.norm(X - X32) / np.linalg.norm(X32))
checks.check("int8 features differ from fp32 (int8 ran) and stay within 5% relative L2", 0 < rel < 0.05,
             f"relative L2 {rel:.4f}")

# Resuming: the same job reuses every part; another calibration is another featuriser and reuses none.
r = xfer("train", "--data", data, "--model", model, "--precision", "int8", "--calibration-images", "8",
         "--reg", "0.01", "--out", pipe, "--features", features)
checks.check("rerun with the same calibration reuses the features", r.returncode == 0 and "reused from an earlier run" in r.stdout,
             r.stdout[-500:])
r = xfer("train", "--data", data, "--model", model, "--precision", "int8", "--calibration-images", "5",
         "--reg", "0.01", "--out", os.path.join(TMP, "other.pipeline.json"), "--features", features)
checks.check("another calibration reuses no feature part", r.returncode == 0 and "reused" not in r.stdout,
             r.stdout[-500:] + r.stderr[-1000:])

one, two = os.path.join(TMP, "one.features"), os.path.join(TMP, "two.features")
args = ["featurize", "--data", data, "--model", model, "--precision", "int8", "--calibration-images", "8",
        "--part-size", "8"]
r1 = xfer(*args, "--out", one)
r2 = subprocess.run(["mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none", XFER, *args, "--out", two],
                    capture_output=True, text=True, env=mpi_env(OMPI_MCA_btl_vader_single_copy_mechanism="none"))
checks.check("featurize --precision int8 in one process and on 2 MPI ranks", r1.returncode == 0 and r2.returncode == 0,
             r1.stderr[-500:] + r2.stderr[-1000:])
if r1.returncode == 0 and r2.returncode == 0:
    rows1, manifest1, _ = feature_rows(one)
    rows2, manifest2, _ = feature_rows(two)
    checks.check("2 MPI ranks: the same int8 features and featuriser (one calibration, sent by rank 0)",
                 rows1 == rows2 and manifest1["featurizer"] == manifest2["featurizer"])

r = xfer("featurize", "--data", data, "--model", "pixels", "--precision", "int8", "--out", os.path.join(TMP, "px"))
checks.check("int8 on pixels is a usage error", r.returncode == 2 and "int8" in r.stderr, r.stderr[-500:])
checks.finish()
